"""The windower fed as the agent feeds it: many chunks, a close after each, out-of-order and
duplicate samples, windows left open across closes. Every emitted statistic must equal a plain
recomputation of the docs' definitions over the samples of that window."""

from __future__ import annotations

import math

import numpy as np
import pytest

from egiz.contracts import SiteConfig, WindowSummary
from egiz.edge.normalize import Catalog, Normalized
from egiz.edge.samples import BAD, GOOD, UNCERTAIN
from egiz.edge.window import Windower

SIGNALS = [{"name": f"s{i}", "unit": "degC", "range": [-10, 10]} for i in range(7)]
SITE = SiteConfig.model_validate(
    {
        "site": {"id": "t"},
        "asset_types": [
            {"name": "a", "signals": SIGNALS},
            {"name": "b", "signals": SIGNALS[:2]},
        ],
        "assets": [{"id": f"x{i}", "type": "ab"[i % 2], "area": "z"} for i in range(5)],
        "sources": [],
        "uplink": {"edge_id": "e"},
    }
)
CAT = Catalog.from_site(SITE)
T0 = 1_800_000_000.0


def plain(rows: list[tuple[int, float, float, int]], length: float) -> dict:
    """(k, series) -> statistics, by the definitions in edge/window.py's docstring."""
    last_received = {}
    for s, t, v, q in rows:
        last_received[(s, t)] = (v, q)
    groups: dict[tuple[int, int], list] = {}
    for (s, t), (v, q) in last_received.items():
        groups.setdefault((math.floor(t / length), s), []).append((t, v, q))
    out = {}
    for key, items in groups.items():
        good = sorted((t, v) for t, v, q in items if q != BAD)
        vals = [v for _, v in good]
        st = {
            "count": len(items),
            "bad": sum(q == BAD for *_, q in items),
            "uncertain": sum(q == UNCERTAIN for *_, q in items),
            "out_of_range": sum(not -10 <= v <= 10 for _, v, _ in items),
        }
        if vals:
            mean = sum(vals) / len(vals)
            st |= {
                "min": min(vals),
                "max": max(vals),
                "mean": mean,
                "std": math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals)),
                "last": good[-1][1],
                "last_ts": good[-1][0],
            }
        out[key] = st
    return out


@pytest.mark.parametrize("seed", range(6))
def test_incremental_closes_equal_plain_recomputation(seed):
    rng = np.random.default_rng(seed)
    length = [1.0, 2.5, 10.0][seed % 3]
    n = 6000
    series = rng.integers(0, len(CAT), n).astype(np.int32)
    ts = T0 + np.sort(np.round(rng.uniform(0, 40, n), 2))  # mostly in time order...
    swap = rng.choice(n, n // 20, replace=False)  # ...some late (backfill, re-sent values)
    ts[swap] = ts[swap] - np.round(rng.uniform(0, 3, swap.size), 2)
    dup = rng.choice(n, n // 30, replace=False)  # same timestamp again (after a reconnect)
    ts[dup] = ts[np.maximum(dup - 1, 0)]
    series[dup] = series[np.maximum(dup - 1, 0)]
    value = rng.normal(0, 6, n)
    quality = rng.choice([GOOD] * 8 + [UNCERTAIN, BAD], n).astype(np.uint8)
    if seed % 2:
        quality[:] = GOOD  # the all-good fast path
    oor = (value < CAT.lo[series]) | (value > CAT.hi[series])
    lateness = 1.5

    w = Windower(CAT, length, lateness, closed_k=-(2**62))
    results = []
    dropped = 0  # what add() said it dropped as late
    cuts = np.sort(rng.choice(np.arange(1, n), 60, replace=False))
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, n], strict=True):
        dropped += w.add(Normalized(series[a:b], ts[a:b], value[a:b], quality[a:b], oor[a:b]))
        results += w.close()
    assert len(results) > 3  # windows closed along the way, not only at the end
    results += w.close(10**12)

    # The oracle: samples that arrived before their window closed (the rest count as late).
    accepted = []
    ends = set(cuts.tolist())
    watermark = -math.inf
    closed_k = -(2**62)
    for i in range(n):
        k = math.floor(ts[i] / length)
        if k < closed_k:
            continue
        accepted.append((int(series[i]), float(ts[i]), float(value[i]), int(quality[i])))
        watermark = max(watermark, float(ts[i]))
        if i + 1 in ends:
            closed_k = max(closed_k, math.floor((watermark - lateness) / length))
    assert w.late == n - len(accepted) == dropped
    want = plain(accepted, length)

    got = {}
    for r in results:
        WindowSummary.model_validate({"seq": 1, **r.record()})
        for name, s in r.signals.items():
            key = (r.index, CAT.index[(r.asset, name)])
            assert key not in got  # every (window, signal) exactly once
            got[key] = s
    assert set(got) == set(want)
    for key, s in want.items():
        g = got[key]
        for f in ("count", "bad", "uncertain", "out_of_range"):
            assert g[f] == s[f], (key, f)
        if "mean" not in s:
            assert g["mean"] is None and g["last_ts"] is None
            continue
        for f in ("min", "max", "last"):
            assert g[f] == s[f], (key, f)
        assert math.isclose(g["mean"], s["mean"], rel_tol=1e-12, abs_tol=1e-12)
        assert math.isclose(g["std"], s["std"], rel_tol=1e-9, abs_tol=1e-9)
        assert abs(np.datetime64(g["last_ts"].rstrip("Z")).astype("datetime64[us]").astype(float)
                   / 1e6 - s["last_ts"]) < 1e-5  # fmt: skip


def test_one_asset_per_window_result_and_lazy_records_match():
    w = Windower(CAT, 10.0, 0.0, closed_k=-(2**62))
    series = np.arange(len(CAT), dtype=np.int32)
    n = series.size
    w.add(Normalized(series, np.full(n, T0 + 1), np.ones(n), np.zeros(n, np.uint8),
                     np.zeros(n, bool)))  # fmt: skip
    res = w.close(10**12)
    assert [r.asset for r in res] == [a.id for a in SITE.assets]
    for r in res:
        names = [s["name"] for s in (SIGNALS if r.asset in ("x0", "x2", "x4") else SIGNALS[:2])]
        assert list(r.signals) == names
        assert r.record()["signals"] is r.signals


def test_sub_second_windows_at_todays_epoch_times():
    """k = t / 0.25 s is ~7e9 today: window indices must not be squeezed into 32 bits."""
    w = Windower(CAT, 0.25, 0.0, closed_k=-(2**62))
    ts = T0 + np.array([0.0, 0.1, 0.3, 0.6])
    n = ts.size
    w.add(Normalized(np.zeros(n, np.int32), ts, np.arange(n, dtype=float),
                     np.zeros(n, np.uint8), np.zeros(n, bool)))  # fmt: skip
    res = w.close(10**12)
    assert [(r.index, r.start, r.signals["s0"]["count"]) for r in res] == [
        (int(T0 * 4), T0, 2), (int(T0 * 4) + 1, T0 + 0.25, 1), (int(T0 * 4) + 2, T0 + 0.5, 1)
    ]  # fmt: skip


def test_already_grouped_input_skips_the_sort_and_gives_the_same_windows():
    """One signal per chunk in time order (no sort needed) vs the same samples interleaved."""
    rng = np.random.default_rng(7)
    n = 400
    ts = T0 + np.sort(rng.choice(3000, n, replace=False)) / 100  # distinct: arrival order moot
    value = rng.normal(0, 6, n)
    grouped = Windower(CAT, 5.0, 0.0, closed_k=-(2**62))
    mixed = Windower(CAT, 5.0, 0.0, closed_k=-(2**62))
    zeros_q, no_oor = np.zeros(n, np.uint8), np.zeros(n, bool)
    out_g, out_m = [], []
    for lo in range(0, n, 50):  # chunk by chunk: a single signal, times increasing
        sl = slice(lo, lo + 50)
        s = np.full(50, lo // 50 % 3, np.int32)
        grouped.add(Normalized(s, ts[sl], value[sl], zeros_q[sl], no_oor[sl]))
        out_g += grouped.close()
    series = np.repeat(np.arange(n // 50) % 3, 50).astype(np.int32)
    mixed.add(Normalized(series[::-1].copy(), ts[::-1].copy(), value[::-1].copy(), zeros_q,
                         no_oor))  # fmt: skip
    out_g += grouped.close(10**12)
    out_m += mixed.close(10**12)
    want = plain([(int(s), float(t), float(v), 0) for s, t, v in
                  zip(series, ts, value, strict=True)], 5.0)  # fmt: skip
    got_g = {(r.index, CAT.index[(r.asset, k)]): s for r in out_g for k, s in r.signals.items()}
    got_m = {(r.index, CAT.index[(r.asset, k)]): s for r in out_m for k, s in r.signals.items()}
    assert set(got_g) == set(got_m) == set(want) and grouped.late == 0
    for key, s in want.items():
        for g in (got_g[key], got_m[key]):
            assert (g["count"], g["min"], g["max"], g["last"]) == (
                s["count"], s["min"], s["max"], s["last"])  # fmt: skip
            assert math.isclose(g["mean"], s["mean"], rel_tol=1e-12)
