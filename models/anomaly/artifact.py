"""Save a fitted anomaly detector as a pinned artifact and load it back, numpy only.

The detector's hyperparameters go into the manifest (JSON), its learned arrays into
``arrays.npz`` (read with ``allow_pickle=False``); the store in
:mod:`egiz.models.artifacts.store` hashes both, and :func:`load_detector` refuses anything but
the pinned sha256.

Examples
--------
>>> import tempfile
>>> import numpy as np
>>> from egiz.models.anomaly import Mahalanobis
>>> det = Mahalanobis(smoothing=1).fit(np.random.default_rng(0).normal(size=(200, 2)))
>>> d = Path(tempfile.mkdtemp()) / "a"
>>> manifest = detector_manifest(det, name="pump-anomaly", version="1.0.0", asset_type="pump",
...     inputs=[{"signal": "flow", "unit": "m3/h"}, {"signal": "power", "unit": "kW"}],
...     training_sha256="0" * 64, metrics={})
>>> sha = save_detector(d, det, manifest)
>>> _, again = load_detector(d, sha)
>>> x = np.ones((4, 2))
>>> bool(np.array_equal(det.score_samples(x), again.score_samples(x)))
True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from egiz.models.anomaly.state import export_state, import_state
from egiz.models.artifacts.store import load_artifact, save_artifact
from egiz.models.errors import ArtifactError

KIND = "anomaly-detector"


def detector_manifest(
    detector: object,
    *,
    name: str,
    version: str,
    asset_type: str,
    inputs: list[dict],
    training_sha256: str,
    metrics: dict,
) -> dict:
    """The manifest fields of an anomaly-detector artifact (the store adds files and sha256)."""
    detector_kind, params, _ = export_state(detector)
    outputs = [{"name": "anomaly_score", "unit": "1"}]
    threshold = getattr(detector, "threshold_", None)
    if threshold is not None:
        outputs.append({"name": "anomaly_alarm", "unit": "bool", "threshold": float(threshold)})
    return {
        "name": name,
        "version": version,
        "kind": KIND,
        "detector": detector_kind,
        "params": params,
        "asset_type": asset_type,
        "inputs": inputs,
        "window_length": int(params.get("smoothing", 1)),
        "window_unit": "sample",
        "features": [i["signal"] for i in inputs],
        "outputs": outputs,
        "training_data_sha256": training_sha256,
        "metrics": metrics,
    }


def save_detector(path: Path, detector: object, manifest: dict) -> str:
    """Write the detector's arrays and ``manifest`` to ``path``; return the artifact sha256."""
    _, _, arrays = export_state(detector)
    # Learned scalars (threshold, counters) go into the manifest: the array store writes
    # 1-element arrays, and a counter must come back as a scalar.
    scalars = {k: v.item() for k, v in arrays.items() if v.ndim == 0}
    full = {**manifest, "scalar_state": scalars}
    return save_artifact(path, full, {k: v for k, v in arrays.items() if v.ndim > 0})


def load_detector(path: Path, expected_sha256: str) -> tuple[dict, object]:
    """Load an anomaly-detector artifact pinned by ``expected_sha256``."""
    manifest, arrays = load_artifact(path, expected_sha256)
    if manifest.get("kind") != KIND:
        raise ArtifactError(f"{path}: artifact kind {manifest.get('kind')!r} is not {KIND!r}")
    try:
        state = {**arrays, **{k: np.asarray(v) for k, v in manifest["scalar_state"].items()}}
        detector = import_state(manifest["detector"], manifest["params"], state)
    except (KeyError, ValueError, TypeError) as err:
        raise ArtifactError(f"{path}: artifact content is inconsistent: {err}") from None
    return manifest, detector
