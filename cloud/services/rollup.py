"""Rollup tiers (1 min, 1 h) of the window summaries, and the retention policy.

Raw window records are aggregated into 1-minute records, and those into 1-hour records, so
long ranges are read from a few hundred rows. Ingest only marks ranges of 1-minute buckets
pending; this job recomputes them from their source rows (an upsert per bucket), so late and
duplicated windows give the same result. The sums are vectorized with numpy over the packed
statistics (``aggregate_records``); ``aggregate`` is the same computation in plain Python,
kept as the reference the tests compare against.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from ..store import Store
from ..store.base import WindowRecord, WindowRow
from ..store.packing import FLOATS, NONE, STATS, decode, to_rows
from ..store.sql_windows import MERGE_GAP_S

TIERS = (60, 3600)
#: Most seconds of buckets one rollup step reads (bounds its memory after a long backlog).
MAX_SPAN_S = 86400.0
#: Retention in seconds per tier (0 = raw windows); None keeps forever.
DEFAULT_RETENTION: dict[int, float | None] = {0: 30 * 86400.0, 60: 400 * 86400.0, 3600: None}


def aggregate(rows: Iterable[WindowRow], tier: int) -> list[WindowRow]:
    """Combine windows into ``tier``-second buckets per (site, asset, signal).

    Means are weighted by good samples (count - bad); the std is the pooled population std
    from each window's mean and std (sum of n*(std² + mean²) over N, minus the mean²).
    """
    groups: dict[tuple[str, str, str, float], list[WindowRow]] = defaultdict(list)
    for r in rows:
        groups[(r.site, r.asset, r.signal, r.start // tier * tier)].append(r)
    out = []
    for (site, asset, signal, start), ws in sorted(groups.items()):
        n_tot = s1 = s2 = 0.0
        for w in ws:
            n = w.count - w.bad
            if n > 0 and w.mean is not None:
                std = w.std or 0.0
                n_tot += n
                s1 += n * w.mean
                s2 += n * (std * std + w.mean * w.mean)
        mean = s1 / n_tot if n_tot else None
        std = math.sqrt(max(0.0, s2 / n_tot - mean * mean)) if mean is not None else None
        mins = [w.min for w in ws if w.min is not None]
        maxs = [w.max for w in ws if w.max is not None]
        with_last = [w for w in ws if w.last is not None]
        last = max(with_last, key=lambda w: w.start) if with_last else None
        out.append(
            WindowRow(
                site, asset, signal, start, float(tier), sum(w.count for w in ws),
                sum(w.bad for w in ws), sum(w.uncertain for w in ws),
                sum(w.out_of_range for w in ws), min(mins) if mins else None,
                max(maxs) if maxs else None, mean, std,
                last.last if last else None, last.last_ts if last else None,
            )
        )  # fmt: skip
    return out


def aggregate_records(
    site: str, asset: str, rows: Sequence[tuple[float, float, str, bytes]], tier: int
) -> list[WindowRecord]:
    """Combine packed records into ``tier``-second buckets per signal, as ``aggregate`` does."""
    if not rows:
        return []
    cols = decode(rows)
    if not cols.signal:
        return []
    names, sig = np.unique(np.asarray(cols.signal), return_inverse=True)
    bucket = np.floor_divide(cols.start, tier) * tier
    order = np.lexsort((cols.start, sig, bucket))
    st, bucket, sig = cols.stats[order], bucket[order], sig[order]
    none = {f: cols.none[f][order] for f in FLOATS}
    first = np.flatnonzero(np.r_[True, (bucket[1:] != bucket[:-1]) | (sig[1:] != sig[:-1])])
    out = np.zeros(len(first), dtype=STATS)
    for f in ("count", "bad", "uncertain", "out_of_range"):
        out[f] = np.add.reduceat(st[f], first)
    for f, reduce in (("min", np.fmin), ("max", np.fmax)):
        vals = np.where(none[f], np.nan, st[f])
        agg = reduce.reduceat(vals, first)
        out[f] = np.where(np.isnan(agg), NONE, agg)
    # Means are weighted by good samples; std pooled from each window's mean and std.
    good = (st["count"] > st["bad"]) & ~none["mean"]
    n = np.where(good, st["count"] - st["bad"], 0).astype(np.float64)
    mean = np.where(good, st["mean"], 0.0)
    std = np.where(good & ~none["std"], st["std"], 0.0)
    n_tot = np.add.reduceat(n, first)
    s1 = np.add.reduceat(n * mean, first)
    s2 = np.add.reduceat(n * (std * std + mean * mean), first)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = s1 / n_tot
        sd = np.sqrt(np.maximum(0.0, s2 / n_tot - m * m))
    out["mean"] = np.where(n_tot > 0, m, NONE)
    out["std"] = np.where(n_tot > 0, sd, NONE)
    # The newest window (by start) that has a last value gives the bucket's last.
    idx = np.where(none["last"], -1, np.arange(len(st)))
    newest = np.maximum.reduceat(idx, first)
    has_last = newest >= first
    pick = np.where(has_last, newest, 0)
    out["last"] = np.where(has_last, st["last"][pick], NONE)
    out["last_ts"] = np.where(has_last & ~none["last_ts"][pick], st["last_ts"][pick], NONE)
    # NONE is a NaN with a payload: np.where keeps its bits, arithmetic never produces it.
    g_bucket, g_sig = bucket[first], sig[first]
    cuts = np.flatnonzero(np.r_[True, g_bucket[1:] != g_bucket[:-1], True])
    records = []
    for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
        records.append(WindowRecord(
            site, asset, float(g_bucket[a]), float(tier), b - a,
            ",".join(names[g_sig[a:b]].tolist()), out[a:b].tobytes(),
        ))  # fmt: skip
    return records


def rollup_in_store(
    store: Store, source_tier: int, tier: int, site: str, asset: str, lo: float, hi: float
) -> list[WindowRow]:
    """Aggregate a tier's rows in ``[lo, hi)`` into ``tier`` buckets (not stored)."""
    recs = aggregate_records(site, asset, store.window_records(source_tier, site, asset, lo, hi),
                             tier)  # fmt: skip
    return to_rows(site, asset, decode([(r.start, r.length_s, r.signals, r.stats) for r in recs]))


def run_rollups(store: Store, max_ranges: int = 10_000) -> int:
    """Recompute pending 1-minute buckets and the hours holding them; return buckets done."""
    pending = store.rollup_pending(max_ranges)
    by_asset: dict[tuple[str, str], list[tuple[str, str, float, float, float]]] = defaultdict(list)
    for p in pending:
        by_asset[(p[0], p[1])].append(p)
    fine, coarse = TIERS
    done_buckets = 0
    for (site, asset), marks in by_asset.items():
        marks.sort(key=lambda p: p[2])
        groups: list[list[tuple[str, str, float, float, float]]] = []
        reach = -math.inf
        for p in marks:
            # Close ranges are recomputed together, up to a day of buckets at a time.
            if groups and p[2] - reach <= MERGE_GAP_S and p[3] - groups[-1][0][2] <= MAX_SPAN_S:
                groups[-1].append(p)
                reach = max(reach, p[3])
            else:
                groups.append([p])
                reach = p[3]
        for group in groups:
            lo, hi = group[0][2], max(q[3] for q in group)  # a pending range may exceed a day
            raw = store.window_records(0, site, asset, lo, hi + fine)
            store.replace_rollups(fine, aggregate_records(site, asset, raw, fine))
            h_lo, h_hi = lo // coarse * coarse, hi // coarse * coarse + coarse
            minutes = store.window_records(fine, site, asset, h_lo, h_hi)
            store.replace_rollups(coarse, aggregate_records(site, asset, minutes, coarse), group)
            done_buckets += int((hi - lo) // fine) + 1
    return done_buckets


def apply_retention(
    store: Store, retention: dict[int, float | None] | None = None, now: float | None = None
) -> dict[int, int]:
    """Delete rows older than each tier's retention (wall clock); return deleted per tier."""
    now = time.time() if now is None else now
    out = {}
    for tier, keep in (retention or DEFAULT_RETENTION).items():
        if keep is not None:
            out[tier] = store.delete_before(tier, now - keep)
    return out


#: Most points per signal a chart asks for; ``auto`` picks the finest tier that stays below.
AUTO_POINTS = 5000


def resolution_for(span_s: float | None) -> int:
    """Pick a tier for a span: raw up to ~14 h (10 s windows), 1 min up to ~3.5 days, else 1 h."""
    if span_s is None or span_s / 10 <= AUTO_POINTS:
        return 0
    return 60 if span_s / 60 <= AUTO_POINTS else 3600
