"""Windows in data time, computed with numpy over all signals at once (docs/edge.md §Statistics).

Window ``k`` covers source timestamps ``[k·L, (k+1)·L)``; it closes once the watermark has
passed ``(k+1)·L + lateness``. The watermark is the *slowest* live source's newest timestamp
(a source that delivered nothing for ``idle_s`` wall seconds stops holding windows open), so a
fast MQTT feed never closes a window an OPC UA subscription is still filling. Per (window,
signal):

- samples with the same source timestamp count once (the last one received wins): OPC UA
  re-sends the current value after a reconnect and MQTT QoS 1 may redeliver;
- ``count`` = distinct samples of any quality; ``bad``, ``uncertain``, ``out_of_range`` count
  those among them (out-of-range values stay in the statistics: flagged, never dropped);
- ``min``, ``max``, ``mean``, ``std`` (population, ddof=0, two-pass), ``last`` and ``last_ts``
  (the value with the newest timestamp) use the samples whose quality is not bad; all are None
  when every sample was bad.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from .normalize import Catalog, Normalized
from .samples import BAD, UNCERTAIN


def iso(ts: float) -> str:
    """Return an epoch time as ISO-8601 UTC (what the wire records carry)."""
    return datetime.fromtimestamp(ts, UTC).isoformat()


@dataclass(slots=True)
class WindowResult:
    """One asset's closed window: plain dicts shaped like WindowSummary (without seq)."""

    asset: str
    index: int  # k: the window starts at k * length_s
    start: float
    length_s: float
    signals: dict[str, dict[str, Any]] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """Return the WindowSummary body (seq is added by the outbox)."""
        return {
            "type": "window",
            "asset": self.asset,
            "start": iso(self.start),
            "length_s": self.length_s,
            "signals": self.signals,
        }


def _stable_order(key: np.ndarray) -> np.ndarray:
    """Stable argsort; numpy radix-sorts 16-bit keys in linear time, so use them when they fit."""
    if key.shape[0] and int(key.max()) < 65536:
        return np.argsort(key.astype(np.uint16), kind="stable")
    return np.argsort(key, kind="stable")


def window_stats(
    k: np.ndarray,
    series: np.ndarray,
    ts: np.ndarray,
    value: np.ndarray,
    quality: np.ndarray,
    oor: np.ndarray,
) -> dict[str, np.ndarray]:
    """Statistics per (k, series) group; arrays in arrival order. Returns one row per group."""
    # One int64 group key per (window, series); the sorts are stable, so samples sharing a
    # key and a timestamp stay in arrival order and the last one received comes last.
    k0, width = int(k.min()), int(series.max()) + 1
    key = (k - k0) * width + series
    n = k.shape[0]
    order = _stable_order(key)
    key_s, ts_s = key[order], ts[order]
    same = key_s[1:] == key_s[:-1]
    if n > 1 and not np.all((ts_s[1:] >= ts_s[:-1]) | ~same):
        # Some signal's samples arrived out of time order (backfill): sort by time too.
        order = np.lexsort((ts, key))
        key_s, ts_s = key[order], ts[order]
        same = key_s[1:] == key_s[:-1]
    dup = same & (ts_s[1:] == ts_s[:-1])
    if dup.any():
        keep = np.ones(n, dtype=bool)
        keep[:-1] = ~dup
        order, key_s, ts_s = order[keep], key_s[keep], ts_s[keep]
        same = key_s[1:] == key_s[:-1]
        n = key_s.shape[0]
    value, quality, oor = value[order], quality[order], oor[order]
    starts = np.flatnonzero(np.concatenate(([True], ~same)))
    groups = starts.shape[0]
    count = np.diff(np.append(starts, n))
    gkey = key_s[starts]
    zeros = np.zeros(groups, dtype=np.int64)
    bad_mask = quality == BAD
    n_bad = np.add.reduceat(bad_mask.astype(np.int64), starts) if bad_mask.any() else zeros
    unc = quality == UNCERTAIN
    out: dict[str, np.ndarray] = {
        "k": gkey // width + k0,
        "series": gkey % width,
        "count": count,
        "bad": n_bad,
        "uncertain": np.add.reduceat(unc.astype(np.int64), starts) if unc.any() else zeros,
        "out_of_range": np.add.reduceat(oor.astype(np.int64), starts) if oor.any() else zeros,
    }
    if n_bad is zeros:  # the common case: every sample usable, groups are the sorted runs
        v, t, gs, present, n_good = value, ts_s, starts, slice(None), count
    else:
        good = ~bad_mask
        gid = np.repeat(np.arange(groups), count)[good]
        v, t = value[good], ts_s[good]
        n_good = count - n_bad
        gs = np.flatnonzero(np.concatenate(([True], gid[1:] != gid[:-1]))) if v.size else gs_empty()
        present = gid[gs]
    mn, mx, mean, var, last, last_ts = (np.full(groups, np.nan) for _ in range(6))
    if v.shape[0]:
        ge = np.append(gs[1:], v.shape[0]) - 1
        sizes = np.diff(np.append(gs, v.shape[0]))
        m = np.add.reduceat(v, gs) / sizes
        dev = v - np.repeat(m, sizes)
        mean[present] = m
        var[present] = np.add.reduceat(dev * dev, gs) / sizes
        mn[present] = np.minimum.reduceat(v, gs)
        mx[present] = np.maximum.reduceat(v, gs)
        last[present] = v[ge]  # rows are sorted by ts within a group
        last_ts[present] = t[ge]
    out.update(
        n_good=n_good, min=mn, max=mx, mean=mean, std=np.sqrt(var), last=last, last_ts=last_ts
    )
    return out


def gs_empty() -> np.ndarray:
    """An empty index array (no usable sample at all)."""
    return np.zeros(0, dtype=np.int64)


class Windower:
    """Accumulates normalized samples and closes aligned windows as data time advances."""

    def __init__(
        self,
        catalog: Catalog,
        length_s: float,
        lateness_s: float,
        closed_k: int,
        idle_s: float = 10.0,
        clock=time.monotonic,
    ) -> None:
        self.catalog = catalog
        self.idle_s = idle_s
        self.clock = clock
        self._marks: dict[object, tuple[float, float]] = {}  # source -> (newest ts, wall seen)
        self.length_s = length_s
        self.lateness_s = lateness_s
        self.closed_k = closed_k  # windows with k < closed_k are emitted (or given up)
        self.watermark = -np.inf
        self._chunks: list[Normalized] = []
        self.late = 0  # samples for windows already closed (dropped, counted)
        self.made = 0

    def add(self, batch: Normalized, source: object = None) -> None:
        """Take a normalized batch (cheap: arrays are only concatenated on close)."""
        if not batch.ts.shape[0]:
            return
        late = batch.ts < self.closed_k * self.length_s
        if late.any():
            self.late += int(np.count_nonzero(late))
            ok = ~late
            batch = Normalized(
                batch.series[ok],
                batch.ts[ok],
                batch.value[ok],
                batch.quality[ok],
                batch.out_of_range[ok],
            )
            if not batch.ts.shape[0]:
                return
        self._chunks.append(batch)
        newest = float(batch.ts.max())
        prev = self._marks.get(source, (-np.inf, 0.0))[0]
        self._marks[source] = (max(prev, newest), self.clock())
        self.watermark = max(self.watermark, newest)

    def low_watermark(self) -> float:
        """Return the newest timestamp of the slowest source that is still delivering."""
        if not self._marks:
            return -np.inf
        now = self.clock()
        live = [ts for ts, seen in self._marks.values() if now - seen < self.idle_s]
        return min(live) if live else max(ts for ts, _ in self._marks.values())

    def due(self) -> int:
        """Return the first window index that may not close yet at the current watermark."""
        mark = self.low_watermark()
        if not np.isfinite(mark):
            return self.closed_k
        return int(np.floor((mark - self.lateness_s) / self.length_s))

    def close(self, upto_k: int | None = None) -> list[WindowResult]:
        """Close every window with k < upto_k (default: what the watermark allows)."""
        upto = self.due() if upto_k is None else upto_k
        if not self._chunks or upto <= self.closed_k:
            return []
        cat = lambda name: np.concatenate([getattr(c, name) for c in self._chunks])  # noqa: E731
        series, ts, value, quality, oor = (
            cat(n) for n in ("series", "ts", "value", "quality", "out_of_range")
        )
        k = np.floor(ts / self.length_s).astype(np.int64)
        late = k < self.closed_k
        self.late += int(np.count_nonzero(late))
        ready = (k < upto) & ~late
        keep = k >= upto
        self._chunks = [Normalized(series[keep], ts[keep], value[keep], quality[keep], oor[keep])]
        self.closed_k = upto
        if not ready.any():
            return []
        st = window_stats(
            k[ready], series[ready], ts[ready], value[ready], quality[ready], oor[ready]
        )
        return self._results(st)

    def _results(self, st: dict[str, np.ndarray]) -> list[WindowResult]:
        out: dict[tuple[int, str], WindowResult] = {}
        keys = self.catalog.keys
        lt = st["last_ts"]
        iso_ts = np.full(lt.shape[0], None, dtype=object)
        ok = ~np.isnan(lt)
        if ok.any():
            # Vectorized ISO-8601 (microseconds, Z): one call instead of one per signal.
            us = np.round(lt[ok] * 1e6).astype("datetime64[us]")
            iso_ts[ok] = np.datetime_as_string(us, timezone="UTC")
        cols = [
            st[c].tolist() for c in ("k", "series", "count", "bad", "uncertain", "out_of_range")
        ]
        stats = [_nones(st[c]) for c in ("min", "max", "mean", "std", "last")]
        length = self.length_s
        for kk, sid, cnt, bad, unc, oor, mn, mx, mean, std, last, lts in zip(
            *cols, *stats, iso_ts.tolist(), strict=True
        ):
            asset, signal = keys[sid]
            res = out.get((kk, asset))
            if res is None:
                res = out[(kk, asset)] = WindowResult(asset, kk, kk * length, length)
            res.signals[signal] = {
                "count": cnt,
                "bad": bad,
                "uncertain": unc,
                "out_of_range": oor,
                "min": mn,
                "max": mx,
                "mean": mean,
                "std": std,
                "last": last,
                "last_ts": lts,
            }
        self.made += len(out)
        return list(out.values())


def _nones(a: np.ndarray) -> list[float | None]:
    """Return a float array as a list with NaN as None (JSON null)."""
    values = a.tolist()
    if not np.isnan(a).any():
        return values
    return [None if v != v else v for v in values]
