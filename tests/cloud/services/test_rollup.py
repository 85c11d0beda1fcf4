"""Rollup tiers and retention, on each backend."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from egiz.cloud.services.edges import add_edge
from egiz.cloud.services.ingest import ingest
from egiz.cloud.services.rollup import aggregate, apply_retention, run_rollups
from egiz.cloud.services.twin import history
from egiz.cloud.store import Store
from egiz.cloud.store.base import WindowRow
from egiz.contracts import UplinkBatch


def _row(start: float, samples: np.ndarray, bad: int = 0) -> WindowRow:
    return WindowRow("s", "a", "x", start, 10.0, len(samples) + bad, bad, 0, 0,
                     float(samples.min()), float(samples.max()), float(samples.mean()),
                     float(samples.std()), float(samples[-1]), start + 9)  # fmt: skip


def test_aggregate_pools_mean_and_std_exactly() -> None:
    rng = np.random.default_rng(1)
    parts = [rng.normal(5, s, n) for s, n in ((1, 7), (3, 12), (0.5, 4), (2, 9))]
    rows = [_row(10.0 * i, p, bad=i) for i, p in enumerate(parts)]
    (minute,) = aggregate(rows, 60)
    every = np.concatenate(parts)
    assert minute.start == 0.0 and minute.length_s == 60.0
    assert minute.count == sum(r.count for r in rows) and minute.bad == 0 + 1 + 2 + 3
    assert minute.mean == pytest.approx(every.mean(), rel=1e-12)
    assert minute.std == pytest.approx(every.std(), rel=1e-9)
    assert (minute.min, minute.max) == (every.min(), every.max())
    assert minute.last == parts[-1][-1] and minute.last_ts == 39.0


def _send(store: Store, mk, records, epoch="e") -> None:
    edge = store.edge("edge-1")
    ans = ingest(store, edge, UplinkBatch.model_validate(mk.batch(records, epoch=epoch)))
    assert not ans.rejected


@pytest.fixture
def loaded(store: Store, mk) -> Store:
    add_edge(store, "edge-1")
    # Two hours of 10 s windows of pump-1, flow = k (window index).
    recs = [mk.manifest(1)] + [mk.window(2 + k, k=k, flow=float(k)) for k in range(720)]
    _send(store, mk, recs)
    return store


def test_rollups_fill_both_tiers_and_follow_late_windows(loaded: Store, mk) -> None:
    assert run_rollups(loaded) == 120
    assert loaded.count("rollup_dirty") == 0
    minutes = loaded.windows("plant", "pump-1", "flow", None, None, 10_000, 60)
    hours = loaded.windows("plant", "pump-1", "flow", None, None, 10_000, 3600)
    assert len(minutes) == 120 and len(hours) == 2
    assert minutes[1].mean == pytest.approx(np.mean(range(6, 12)))
    assert minutes[1].last == 11.0 and hours[1].last == 719.0
    assert hours[0].count == 360 * 10
    assert hours[0].mean == pytest.approx(np.mean(range(360)))
    # A window arrives late (new epoch, same window start: the first stored wins) and a
    # genuinely new one in an old minute: only that minute and its hour are recomputed.
    late = mk.window(1000, k=1, flow=99.0)
    late["start"] = (mk.T0 + timedelta(seconds=5)).isoformat()
    _send(loaded, mk, [late], epoch="e2")
    assert run_rollups(loaded) == 1
    m0 = loaded.windows("plant", "pump-1", "flow", 0, mk.T0.timestamp() + 60, 10, 60)[0]
    assert m0.count == 70 and m0.max == 100.0
    assert run_rollups(loaded) == 0


def test_history_reads_the_requested_tier(loaded: Store, mk) -> None:
    run_rollups(loaded)
    raw = history(loaded, "plant.pump-1", "flow", mk.T0, mk.T0 + timedelta(hours=1))
    one_m = history(loaded, "plant.pump-1", "flow", mk.T0, mk.T0 + timedelta(hours=1),
                    resolution="1m")  # fmt: skip
    auto = history(loaded, "plant.pump-1", "flow", mk.T0, mk.T0 + timedelta(days=90),
                   resolution="auto")  # fmt: skip
    assert (raw.count, raw.resolution) == (360, "raw")
    assert (one_m.count, one_m.resolution, one_m.data[0].length_s) == (60, "1m", 60.0)
    assert (auto.count, auto.resolution) == (2, "1h")


def test_retention_deletes_old_rows_per_tier(loaded: Store, mk) -> None:
    run_rollups(loaded)
    now = mk.T0.timestamp() + 3600  # one hour after the first window
    deleted = apply_retention(loaded, {0: 1800.0, 60: None, 3600: None}, now=now)
    assert deleted == {0: 180 * 2}  # 30 minutes of 10 s windows, two signals each
    assert loaded.count("rollups") == (120 + 2) * 2
    assert apply_retention(loaded, {0: 1800.0, 60: 0.0}, now=now + 7200) == {0: 540 * 2, 60: 240}


def test_rollup_in_store_equals_python_reference(store: Store) -> None:
    from egiz.cloud.services.rollup import rollup_in_store
    from egiz.cloud.store import WriteSet

    rng = np.random.default_rng(7)
    rows = []
    for sig in ("a", "b"):
        for k in range(0, 400):
            count = int(rng.integers(0, 12))
            bad = int(rng.integers(0, count + 1)) if count else 0
            usable = count - bad > 0
            mean = float(rng.normal(50, 10)) if usable else None
            rows.append(WindowRow(
                "s", "p", sig, 1_767_225_600.0 + 10 * k + (3 if sig == "b" else 0), 10.0, count,
                bad, int(rng.integers(0, 2)), 0, mean - 1 if usable else None,
                mean + 1 if usable else None, mean, float(rng.uniform(0, 3)) if usable else None,
                float(rng.normal()) if rng.random() > 0.2 else None, None,
            ))  # fmt: skip
    store.write(WriteSet(edge_id="e", epoch="x", received_at=0.0, windows=rows))
    lo, hi = rows[0].start, rows[-1].start + 10
    for src, tier in ((0, 60), (0, 3600)):
        got = rollup_in_store(store, src, tier, "s", "p", lo, hi)
        want = aggregate(rows, tier)
        assert [(r.signal, r.start, r.count, r.bad, r.uncertain, r.min, r.max, r.last)
                for r in got] == [(r.signal, r.start, r.count, r.bad, r.uncertain, r.min, r.max,
                                   r.last) for r in sorted(want, key=lambda r: (r.start, r.signal))]  # fmt: skip
        for g, w in zip(got, sorted(want, key=lambda r: (r.start, r.signal)), strict=True):
            assert (g.mean is None) == (w.mean is None)
            if g.mean is not None:
                assert g.mean == pytest.approx(w.mean, rel=1e-9)
                assert g.std == pytest.approx(w.std, rel=1e-6, abs=1e-9)


def test_rollups_keep_minutes_whose_raw_windows_retention_deleted(loaded: Store, mk) -> None:
    run_rollups(loaded)
    now = mk.T0.timestamp() + 3600
    apply_retention(loaded, {0: 1800.0, 60: None, 3600: None}, now=now)  # raw of 00:00-00:30 gone
    before = loaded.windows("plant", "pump-1", "flow", None, None, 10_000, 60)
    # Late windows at 00:05 and 00:45 in one batch: one pending range spans the deleted minutes.
    late = [mk.window(2000 + i, k=0, flow=99.0) for i in range(2)]
    late[0]["start"] = (mk.T0 + timedelta(minutes=5, seconds=3)).isoformat()
    late[1]["start"] = (mk.T0 + timedelta(minutes=45, seconds=3)).isoformat()
    _send(loaded, mk, late, epoch="e3")
    assert run_rollups(loaded) == 41
    after = loaded.windows("plant", "pump-1", "flow", None, None, 10_000, 60)
    changed = {b.start for a, b in zip(before, after, strict=True) if a != b}
    t0 = mk.T0.timestamp()
    # Only the two minutes with new raw windows changed; 00:06-00:29 kept their rollups.
    assert changed == {t0 + 300, t0 + 2700} and len(after) == 120
    hour = loaded.windows("plant", "pump-1", "flow", t0, t0 + 1, 10, 3600)[0]
    # 00:05 is rebuilt from its one surviving (late) window: 10 samples instead of 60;
    # 00:45 gains the late window's 10. The hour is rebuilt from the minutes.
    assert hour.count == 360 * 10 - 60 + 10 + 10 and hour.max == 360.0
