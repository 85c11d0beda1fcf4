"""The commented sample settings load (the sample next to the code is part of its contract)."""

from __future__ import annotations

from pathlib import Path

import egiz.cloud
from egiz.cloud.config import CloudSettings
from egiz.contracts import load_yaml_model

SAMPLE = Path(egiz.cloud.__file__).parent / "cloud.sample.yaml"


def test_cloud_sample_settings_load() -> None:
    s = load_yaml_model(CloudSettings, SAMPLE)
    assert s.retention_s == {0: 2592000.0, 60: 34560000.0, 3600: None}
    assert s.webhooks[0].events == {"alarm_raise", "alarm_clear", "alarm_ack"}
    assert s.metrics_token is not None and s.influx_url is None
