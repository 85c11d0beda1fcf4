"""The detector registries: one dict per STYLE.md model shape, keyed by registry name."""

from __future__ import annotations

from egiz.models.anomaly.batch import PCAT2Q, IsolationForestDetector, Mahalanobis
from egiz.models.anomaly.streaming import EWMAZScore, RobustZScore, TailProbability
from egiz.models.health.index import HealthIndex

#: Streaming detectors (`learn_one` / `score_one`), by registry name.
STREAMING_DETECTORS: dict[str, type] = {
    "robust_z": RobustZScore,
    "ewma_z": EWMAZScore,
    "tail_probability": TailProbability,
}

#: Batch detectors (`fit` / `score_samples` / `predict`), by registry name.
BATCH_DETECTORS: dict[str, type] = {
    "mahalanobis": Mahalanobis,
    "pca_t2q": PCAT2Q,
    "isolation_forest": IsolationForestDetector,
    # The health index is a batch detector too (its fused score maps to health 0-100).
    "health_index": HealthIndex,
}

#: Every detector, by registry name (the ``kind`` of an exported detector).
DETECTORS: dict[str, type] = {**STREAMING_DETECTORS, **BATCH_DETECTORS}
