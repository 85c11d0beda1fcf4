"""Limit alarms: deadband, on/off delays in data time, one alarm per limit, restart state."""

from __future__ import annotations

import numpy as np

from egiz.contracts import RECORD_ADAPTER, SiteConfig
from egiz.edge.alarms import AlarmEngine
from egiz.edge.normalize import Catalog, Normalized
from egiz.edge.samples import BAD


def site(limits):
    return SiteConfig.model_validate(
        {
            "site": {"id": "t"},
            "asset_types": [
                {
                    "name": "pump",
                    "signals": [
                        {"name": "temp", "unit": "degC", "limits": limits},
                        {"name": "flow", "unit": "m3/h"},
                    ],
                }
            ],
            "assets": [{"id": "p1", "type": "pump", "area": "a"}],
            "sources": [],
            "uplink": {"edge_id": "e"},
        }
    )


def feed(engine, ts, values, quality=None):
    n = len(ts)
    q = np.zeros(n, np.uint8) if quality is None else np.asarray(quality, np.uint8)
    return engine.update(
        Normalized(
            np.zeros(n, np.int32),
            np.asarray(ts, float),
            np.asarray(values, float),
            q,
            np.zeros(n, bool),
        )
    )


def kinds(events):
    return [(e["kind"], e["data"]["limit"], e["ts"][17:19]) for e in events]


def test_alarm_raise_and_clear_with_deadband():
    cfg = site({"hi": 80, "deadband": 2})
    eng = AlarmEngine(cfg, Catalog.from_site(cfg))
    ev = feed(eng, [0, 1, 2, 3, 4, 5], [70, 81, 79, 78.5, 77.9, 90])
    assert kinds(ev) == [
        ("alarm_raise", "hi", "01"),
        ("alarm_clear", "hi", "04"),
        ("alarm_raise", "hi", "05"),
    ]
    assert ev[0]["alarm_id"] == ev[1]["alarm_id"] != ev[2]["alarm_id"]
    for e in ev:
        RECORD_ADAPTER.validate_python({"seq": 1, **e})
    assert [a["limit"] for a in eng.active()] == ["hi"]


def test_alarm_on_delay_needs_the_condition_to_hold_across_batches():
    cfg = site({"hi": 80, "on_delay_s": 3, "off_delay_s": 2})
    eng = AlarmEngine(cfg, Catalog.from_site(cfg))
    assert feed(eng, [0, 1, 2], [81, 82, 70]) == []  # held only 1 s, then broken
    assert feed(eng, [3, 4], [85, 85]) == []
    assert kinds(feed(eng, [5, 6], [85, 85])) == [("alarm_raise", "hi", "06")]  # 3 s after 3
    assert feed(eng, [7, 8], [10, 10]) == []
    assert kinds(feed(eng, [9, 10], [10, 10])) == [("alarm_clear", "hi", "09")]


def test_alarm_limits_are_separate_and_bad_samples_ignored():
    cfg = site({"lo_lo": 0, "lo": 10, "hi": 80, "hi_hi": 95})
    eng = AlarmEngine(cfg, Catalog.from_site(cfg))
    ev = feed(eng, [0, 1, 2, 3], [99, 50, -5, 999], quality=[0, 0, 0, BAD])
    assert sorted(kinds(ev)) == sorted(
        [
            ("alarm_raise", "hi_hi", "00"),
            ("alarm_raise", "hi", "00"),
            ("alarm_clear", "hi_hi", "01"),
            ("alarm_clear", "hi", "01"),
            ("alarm_raise", "lo", "02"),
            ("alarm_raise", "lo_lo", "02"),
        ]
    )


def test_alarm_state_survives_a_restart():
    cfg = site({"hi": 80})
    eng = AlarmEngine(cfg, Catalog.from_site(cfg))
    (raised,) = feed(eng, [0], [90])
    again = AlarmEngine(cfg, Catalog.from_site(cfg))
    again.load(eng.dump())
    (cleared,) = feed(again, [1], [10])
    assert cleared["kind"] == "alarm_clear" and cleared["alarm_id"] == raised["alarm_id"]
