"""Window statistics against a plain recomputation, alignment, dedupe and lateness."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from egiz.contracts import SiteConfig, WindowSummary
from egiz.edge.normalize import Catalog, Normalized
from egiz.edge.samples import BAD, GOOD, UNCERTAIN
from egiz.edge.window import Windower

SITE = SiteConfig.model_validate(
    {
        "site": {"id": "t"},
        "asset_types": [
            {
                "name": "pump",
                "signals": [
                    {"name": "flow", "unit": "m3/h", "range": [0, 100]},
                    {"name": "temp", "unit": "degC"},
                ],
            }
        ],
        "assets": [
            {"id": "p1", "type": "pump", "area": "a"},
            {"id": "p2", "type": "pump", "area": "a"},
        ],
        "sources": [],
        "uplink": {"edge_id": "e"},
    }
)
CAT = Catalog.from_site(SITE)


def batch(series, ts, value, quality=None) -> Normalized:
    series = np.asarray(series, dtype=np.int32)
    value = np.asarray(value, dtype=np.float64)
    q = np.zeros(len(series), np.uint8) if quality is None else np.asarray(quality, np.uint8)
    oor = (value < CAT.lo[series]) | (value > CAT.hi[series])
    return Normalized(series, np.asarray(ts, dtype=np.float64), value, q, oor)


def reference(rows, length):
    """Statistics by the docs' definitions, with plain Python."""
    out = {}
    dedup = {}
    for s, t, v, q in rows:  # last received wins
        dedup[(s, t)] = (v, q)
    for (s, t), (v, q) in dedup.items():
        k = math.floor(t / length)
        out.setdefault((k, s), []).append((t, v, q))
    stats = {}
    for key, items in out.items():
        good = sorted((t, v) for t, v, q in items if q != BAD)
        vals = [v for _, v in good]
        s = {
            "count": len(items),
            "bad": sum(q == BAD for *_, q in items),
            "uncertain": sum(q == UNCERTAIN for *_, q in items),
        }
        if vals:
            mean = sum(vals) / len(vals)
            s.update(
                min=min(vals),
                max=max(vals),
                mean=mean,
                std=math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals)),
                last=good[-1][1],
                last_ts=good[-1][0],
            )
        stats[key] = s
    return stats


def test_window_stats_match_plain_recomputation():
    rng = np.random.default_rng(1)
    n = 5000
    series = rng.integers(0, len(CAT), n)
    ts = 1_800_000_000.0 + np.round(rng.uniform(0, 30, n), 2)
    value = rng.normal(50, 30, n)
    quality = rng.choice([GOOD, GOOD, GOOD, UNCERTAIN, BAD], n)
    w = Windower(CAT, 5.0, 0.0, closed_k=-(2**62))
    w.add(batch(series, ts, value, quality))
    results = w.close(10**12)
    ref = reference(
        zip(series.tolist(), ts.tolist(), value.tolist(), quality.tolist(), strict=True), 5.0
    )
    got = {}
    for r in results:
        WindowSummary.model_validate({"seq": 1, **r.record()})
        for name, s in r.signals.items():
            got[(r.index, CAT.index[(r.asset, name)])] = s
    assert set(got) == set(ref)
    for key, s in ref.items():
        g = got[key]
        assert (g["count"], g["bad"], g["uncertain"]) == (s["count"], s["bad"], s["uncertain"])
        for f in ("min", "max", "mean", "std", "last"):
            assert math.isclose(g[f], s[f], rel_tol=1e-9, abs_tol=1e-9), (key, f)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(0, 400),
            st.floats(-1e3, 1e3),
            st.sampled_from([GOOD, UNCERTAIN, BAD]),
        ),
        min_size=1,
        max_size=200,
    )
)
def test_window_stats_property(rows):
    rows = [(s, 1_700_000_000 + t / 10, v, q) for s, t, v, q in rows]
    w = Windower(CAT, 2.0, 0.0, closed_k=-(2**62))
    w.add(batch(*zip(*[(s, t, v) for s, t, v, _ in rows], strict=True), [q for *_, q in rows]))
    ref = reference(rows, 2.0)
    got = {}
    for r in w.close(10**12):
        for name, s in r.signals.items():
            got[(r.index, CAT.index[(r.asset, name)])] = s
    assert set(got) == set(ref)
    for key, s in ref.items():
        assert got[key]["count"] == s["count"]
        if "mean" in s:
            assert math.isclose(got[key]["mean"], s["mean"], rel_tol=1e-9, abs_tol=1e-6)
            assert got[key]["last"] == s["last"]
        else:
            assert got[key]["mean"] is None


def test_window_aligned_in_data_time_and_closed_after_lateness():
    w = Windower(CAT, 10.0, 5.0, closed_k=-(2**62))
    w.add(batch([0, 0], [1000.0, 1009.9], [1.0, 2.0]))
    assert w.close() == []
    w.add(batch([0], [1014.9], [3.0]))  # watermark 1014.9 < 1010 + 5
    assert w.close() == []
    w.add(batch([0], [1015.0], [4.0]))
    (res,) = w.close()
    assert (res.start, res.signals["flow"]["count"], res.signals["flow"]["last"]) == (
        1000.0,
        2,
        2.0,
    )
    w.add(batch([0], [1005.0], [9.0]))  # too late for a closed window: counted, not used
    assert w.late == 1


def test_window_duplicate_timestamp_counts_once_last_wins():
    w = Windower(CAT, 10.0, 0.0, closed_k=-(2**62))
    w.add(batch([0, 0, 0], [1000.0, 1001.0, 1000.0], [1.0, 2.0, 5.0]))
    (res,) = w.close(10**12)
    assert res.signals["flow"]["count"] == 2
    assert res.signals["flow"]["mean"] == 3.5


def test_window_out_of_range_flagged_not_dropped_and_all_bad_has_no_stats():
    w = Windower(CAT, 10.0, 0.0, closed_k=-(2**62))
    w.add(batch([0, 0, 1], [1000.0, 1001.0, 1000.0], [50.0, 150.0, 7.0], [GOOD, GOOD, BAD]))
    (res,) = w.close(10**12)
    assert res.signals["flow"]["out_of_range"] == 1
    assert res.signals["flow"]["max"] == 150.0
    assert res.signals["temp"]["bad"] == 1 and res.signals["temp"]["mean"] is None


def test_window_resumes_after_persisted_progress():
    w = Windower(CAT, 10.0, 0.0, closed_k=101)  # windows before 1010 were already sent
    w.add(batch([0, 0], [1005.0, 1012.0], [1.0, 2.0]))
    (res,) = w.close(10**12)
    assert res.start == 1010.0 and w.late == 1
