"""Anomaly detectors in the two STYLE.md shapes, their registries and plain-data export."""

from egiz.models.anomaly.batch import PCAT2Q, IsolationForestDetector, Mahalanobis
from egiz.models.anomaly.calibration import calibrate_threshold, trailing_mean
from egiz.models.anomaly.registry import BATCH_DETECTORS, DETECTORS, STREAMING_DETECTORS
from egiz.models.anomaly.state import export_state, import_state
from egiz.models.anomaly.streaming import (
    EWMAZScore,
    RobustZScore,
    TailProbability,
    calibrate_stream,
    score_stream,
)

__all__ = [
    "BATCH_DETECTORS",
    "DETECTORS",
    "PCAT2Q",
    "STREAMING_DETECTORS",
    "EWMAZScore",
    "IsolationForestDetector",
    "Mahalanobis",
    "RobustZScore",
    "TailProbability",
    "calibrate_stream",
    "calibrate_threshold",
    "export_state",
    "import_state",
    "score_stream",
    "trailing_mean",
]
