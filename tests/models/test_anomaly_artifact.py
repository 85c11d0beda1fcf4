"""Anomaly detectors as pinned artifacts: a loaded detector scores as the trained one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from egiz.models.anomaly import BATCH_DETECTORS, STREAMING_DETECTORS, score_stream
from egiz.models.anomaly.artifact import detector_manifest, load_detector, save_detector
from egiz.models.artifacts.store import artifact_sha256
from egiz.models.errors import ArtifactError

INPUTS = [{"signal": "flow", "unit": "m3/h"}, {"signal": "power", "unit": "kW"}]


def _manifest(det: object) -> dict:
    return detector_manifest(
        det,
        name="pump-anomaly",
        version="1.0.0",
        asset_type="pump",
        inputs=INPUTS,
        training_sha256="ab" * 32,
        metrics={"skab_valve1_f1": 0.812},
    )


@pytest.mark.parametrize("name", sorted(BATCH_DETECTORS))
def test_anomaly_artifact_batch_round_trip(name: str, tmp_path: Path) -> None:
    """Save, load with the pin: identical scores, and the manifest names the threshold."""
    rng = np.random.default_rng(0)
    det = BATCH_DETECTORS[name]().fit(rng.normal(size=(300, 2)))
    sha = save_detector(tmp_path / "a", det, _manifest(det))
    manifest, again = load_detector(tmp_path / "a", sha)
    assert manifest["detector"] == name and manifest["outputs"][1]["name"] == "anomaly_alarm"
    Y = rng.normal(size=(50, 2)) * 3
    np.testing.assert_array_equal(det.score_samples(Y), again.score_samples(Y))


@pytest.mark.parametrize("name", sorted(STREAMING_DETECTORS))
def test_anomaly_artifact_streaming_round_trip(name: str, tmp_path: Path) -> None:
    """A warmed-up streaming detector continues from its saved state."""
    xs = np.sin(np.arange(600) / 9.0) + np.random.default_rng(1).normal(size=600) * 0.1
    det = STREAMING_DETECTORS[name]()
    score_stream(det, xs[:400])
    sha = save_detector(tmp_path / "s", det, _manifest(det))
    _, again = load_detector(tmp_path / "s", sha)
    np.testing.assert_array_equal(score_stream(det, xs[400:]), score_stream(again, xs[400:]))


def test_anomaly_artifact_consistently_altered_is_refused(tmp_path: Path) -> None:
    """Rewriting params and the manifest's own hash still fails against the pinned hash."""
    det = BATCH_DETECTORS["mahalanobis"]().fit(np.random.default_rng(0).normal(size=(300, 2)))
    sha = save_detector(tmp_path / "a", det, _manifest(det))
    f = tmp_path / "a" / "manifest.json"
    manifest = json.loads(f.read_text())
    manifest["params"]["margin"] = 100.0  # silence the alarm
    manifest["sha256"] = artifact_sha256(manifest)
    f.write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="not the pinned"):
        load_detector(tmp_path / "a", sha)
