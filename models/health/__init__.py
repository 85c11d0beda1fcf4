"""Health index 0–100 per asset: physics residuals + window features fused by a healthy-baseline model.

Import from the submodules (``egiz.models.health.index``, ``.alarm``, ``.asset``,
``.artifact``). The anomaly registry lists :class:`~egiz.models.health.index.HealthIndex`
beside the other batch detectors, so the anomaly package is loaded first here; that keeps the
import order acyclic whichever of the two packages a caller imports first.
"""

import egiz.models.anomaly  # noqa: F401
