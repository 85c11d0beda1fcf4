"""Anomaly detectors in the two STYLE.md shapes, and their registries."""

from egiz.models.anomaly.batch import PCAT2Q, IsolationForestDetector, Mahalanobis
from egiz.models.anomaly.calibration import calibrate_threshold, trailing_mean
from egiz.models.anomaly.streaming import EWMAZScore, RobustZScore, TailProbability, score_stream

#: Streaming detectors (`learn_one` / `score_one`), by registry name.
STREAMING_DETECTORS = {
    "robust_z": RobustZScore,
    "ewma_z": EWMAZScore,
    "tail_probability": TailProbability,
}

#: Batch detectors (`fit` / `score_samples` / `predict`), by registry name.
BATCH_DETECTORS = {
    "mahalanobis": Mahalanobis,
    "pca_t2q": PCAT2Q,
    "isolation_forest": IsolationForestDetector,
}

__all__ = [
    "BATCH_DETECTORS",
    "PCAT2Q",
    "STREAMING_DETECTORS",
    "EWMAZScore",
    "IsolationForestDetector",
    "Mahalanobis",
    "RobustZScore",
    "TailProbability",
    "calibrate_threshold",
    "score_stream",
    "trailing_mean",
]
