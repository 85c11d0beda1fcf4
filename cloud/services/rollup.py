"""Rollup tiers (1 min, 1 h) of the window summaries, and the retention policy.

The sums are taken in SQL (``Store.rollup_sums``); ``aggregate`` is the same computation in
Python, kept as the reference the tests compare the database against.

The sums are taken in SQL (``Store.rollup_sums``); ``aggregate`` is the same computation in
Python, kept as the reference the tests compare the database against.

Raw windows are aggregated into 1-minute rows, and those into 1-hour rows, so long ranges
are read from a few thousand rows. Ingest only marks 1-minute buckets dirty; this job
recomputes them (delete + insert), so late and duplicated windows give the same result.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable

from ..store import Store
from ..store.base import WindowRow

TIERS = (60, 3600)
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


def rollup_in_store(
    store: Store, source_tier: int, tier: int, site: str, asset: str, lo: float, hi: float
) -> list[WindowRow]:
    """Aggregate in the database (sums, min, max, newest last) and take the roots here."""
    out = []
    for sig, b, c, bad, unc, oor, mn, mx, n, s1, s2, last, last_ts in store.rollup_sums(
        source_tier, tier, site, asset, lo, hi
    ):
        n, s1, s2 = float(n or 0), float(s1 or 0), float(s2 or 0)  # PostgreSQL sums: NUMERIC
        mean = s1 / n if n else None
        std = math.sqrt(max(0.0, s2 / n - mean * mean)) if mean is not None else None
        out.append(WindowRow(site, asset, sig, float(b), float(tier), int(c), int(bad), int(unc),
                             int(oor), mn, mx, mean, std, last, last_ts))  # fmt: skip
    return out


def run_rollups(store: Store, max_buckets: int = 10_000) -> int:
    """Recompute dirty 1-minute buckets and the hours holding them; return buckets done."""
    dirty = store.dirty_buckets(max_buckets)
    by_asset: dict[tuple[str, str], list[float]] = defaultdict(list)
    for site, asset, bucket in dirty:
        by_asset[(site, asset)].append(bucket)
    fine, coarse = TIERS
    for (site, asset), buckets in by_asset.items():
        lo, hi = min(buckets), max(buckets) + fine
        wanted = set(buckets)
        minutes = [
            r for r in rollup_in_store(store, 0, fine, site, asset, lo, hi) if r.start in wanted
        ]
        store.replace_rollups(fine, [(site, asset, b, b + fine) for b in buckets], minutes)
        hours = sorted({b // coarse * coarse for b in buckets})
        wanted_h = set(hours)
        h_rows = [
            r
            for r in rollup_in_store(store, fine, coarse, site, asset, hours[0], hours[-1] + coarse)
            if r.start in wanted_h
        ]
        done = [(site, asset, b) for b in buckets]
        store.replace_rollups(coarse, [(site, asset, h, h + coarse) for h in hours], h_rows, done)
    return len(dirty)


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
