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


def window_stats(
    k: np.ndarray,
    series: np.ndarray,
    ts: np.ndarray,
    value: np.ndarray,
    quality: np.ndarray,
    oor: np.ndarray,
) -> dict[str, np.ndarray]:
    """Statistics per (k, series) group; arrays in arrival order. Returns one row per group."""
    arrival = np.arange(k.shape[0])
    order = np.lexsort((arrival, ts, series, k))
    k, series, ts, value, quality, oor = (a[order] for a in (k, series, ts, value, quality, oor))
    n = k.shape[0]
    # Keep the last received of samples sharing (series, ts); k follows from ts.
    keep = np.ones(n, dtype=bool)
    if n > 1:
        keep[:-1] = (series[1:] != series[:-1]) | (ts[1:] != ts[:-1])
    k, series, ts, value, quality, oor = (a[keep] for a in (k, series, ts, value, quality, oor))
    n = k.shape[0]
    new = np.ones(n, dtype=bool)
    new[1:] = (k[1:] != k[:-1]) | (series[1:] != series[:-1])
    starts = np.flatnonzero(new)
    groups = starts.shape[0]
    gid = np.cumsum(new) - 1
    count = np.diff(np.append(starts, n))
    bad_mask = quality == BAD
    out: dict[str, np.ndarray] = {
        "k": k[starts],
        "series": series[starts],
        "count": count,
        "bad": np.bincount(gid, weights=bad_mask, minlength=groups).astype(np.int64),
        "uncertain": np.bincount(gid, weights=quality == UNCERTAIN, minlength=groups).astype(
            np.int64
        ),
        "out_of_range": np.bincount(gid, weights=oor, minlength=groups).astype(np.int64),
    }
    good = ~bad_mask
    g, v, t = gid[good], value[good], ts[good]
    n_good = np.bincount(g, minlength=groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(g, weights=v, minlength=groups) / n_good
        dev = v - mean[g]
        var = np.bincount(g, weights=dev * dev, minlength=groups) / n_good
    nan = np.full(groups, np.nan)
    mn, mx, last, last_ts = nan.copy(), nan.copy(), nan.copy(), nan.copy()
    if g.shape[0]:
        gs = np.flatnonzero(np.concatenate(([True], g[1:] != g[:-1])))
        ge = np.append(gs[1:], g.shape[0]) - 1
        present = g[gs]
        mn[present] = np.minimum.reduceat(v, gs)
        mx[present] = np.maximum.reduceat(v, gs)
        last[present] = v[ge]  # rows are sorted by ts within a group
        last_ts[present] = t[ge]
    out.update(
        n_good=n_good, min=mn, max=mx, mean=mean, std=np.sqrt(var), last=last, last_ts=last_ts
    )
    return out


def _f(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


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
        for i in range(st["k"].shape[0]):
            kk = int(st["k"][i])
            asset, signal = keys[int(st["series"][i])]
            res = out.get((kk, asset))
            if res is None:
                res = out[(kk, asset)] = WindowResult(asset, kk, kk * self.length_s, self.length_s)
            lt = st["last_ts"][i]
            res.signals[signal] = {
                "count": int(st["count"][i]),
                "bad": int(st["bad"][i]),
                "uncertain": int(st["uncertain"][i]),
                "out_of_range": int(st["out_of_range"][i]),
                "min": _f(st["min"][i]),
                "max": _f(st["max"][i]),
                "mean": _f(st["mean"][i]),
                "std": _f(st["std"][i]),
                "last": _f(st["last"][i]),
                "last_ts": None if np.isnan(lt) else iso(float(lt)),
            }
        self.made += len(out)
        return list(out.values())
