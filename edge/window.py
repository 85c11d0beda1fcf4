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
from datetime import UTC, datetime
from typing import Any

import numpy as np

from .normalize import Catalog, Normalized
from .samples import BAD, UNCERTAIN


def iso(ts: float) -> str:
    """Return an epoch time as ISO-8601 UTC (what the wire records carry)."""
    return datetime.fromtimestamp(ts, UTC).isoformat()


#: The per-signal statistics of a summary, in the order the stats block stores them.
STAT_FIELDS = (
    "count", "bad", "uncertain", "out_of_range", "min", "max", "mean", "std", "last", "last_ts"
)  # fmt: skip


class _StatsBlock:
    """One close()'s statistics as columns; Python lists are made once, when a record is needed.

    The hot path ends with arrays: turning 5,000 signals into dicts is paid only by the windows
    that really become records (the outbox boundary), all of a close's windows at once.
    """

    __slots__ = ("_cols", "_names", "arrays", "keys", "series")

    def __init__(
        self, arrays: dict[str, np.ndarray], series: np.ndarray, keys: tuple[tuple[str, str], ...]
    ) -> None:
        self.arrays = arrays
        self.series = series  # catalogue series id per row
        self.keys = keys
        self._cols: list[list[Any]] | None = None
        self._names: list[str] = []

    def signals(self, lo: int, hi: int) -> dict[str, dict[str, Any]]:
        if self._cols is None:
            a = self.arrays
            lt = a["last_ts"]
            iso_ts = np.full(lt.shape[0], None, dtype=object)
            ok = ~np.isnan(lt)
            if ok.any():
                # Vectorized ISO-8601 (microseconds, Z): one call instead of one per signal.
                us = np.round(lt[ok] * 1e6).astype("datetime64[us]")
                iso_ts[ok] = np.datetime_as_string(us, timezone="UTC")
            ints = [a[c].tolist() for c in STAT_FIELDS[:4]]
            floats = [_nones(a[c]) for c in STAT_FIELDS[4:9]]
            self._cols = [*ints, *floats, iso_ts.tolist()]
            keys = self.keys
            self._names = [keys[s][1] for s in self.series.tolist()]
        rows = zip(*(c[lo:hi] for c in self._cols), strict=True)
        return {
            name: dict(zip(STAT_FIELDS, row, strict=True))
            for name, row in zip(self._names[lo:hi], rows, strict=True)
        }


class WindowResult:
    """One asset's closed window; ``signals`` are plain dicts shaped like WindowSummary's."""

    __slots__ = ("_block", "_rows", "_signals", "asset", "index", "length_s", "start")

    def __init__(
        self,
        asset: str,
        index: int,  # k: the window starts at k * length_s
        start: float,
        length_s: float,
        signals: dict[str, dict[str, Any]] | None = None,
        *,
        block: _StatsBlock | None = None,
        rows: tuple[int, int] = (0, 0),
    ) -> None:
        self.asset = asset
        self.index = index
        self.start = start
        self.length_s = length_s
        self._signals = signals if signals is not None or block is not None else {}
        self._block = block
        self._rows = rows

    @property
    def signals(self) -> dict[str, dict[str, Any]]:
        if self._signals is None:
            assert self._block is not None
            self._signals = self._block.signals(*self._rows)
        return self._signals

    def stat(self, name: str) -> dict[str, Any]:
        """Return one statistic for every signal of this window (``{signal: value}``)."""
        return {sig: s[name] for sig, s in self.signals.items()}

    def record(self) -> dict[str, Any]:
        """Return the WindowSummary body (seq is added by the outbox)."""
        return {
            "type": "window",
            "asset": self.asset,
            "start": iso(self.start),
            "length_s": self.length_s,
            "signals": self.signals,
        }

    def __repr__(self) -> str:
        return f"WindowResult({self.asset!r}, k={self.index}, start={self.start})"


def window_index(ts: np.ndarray, length_s: float) -> np.ndarray:
    """Return ``floor(ts / length_s)`` as int64 (truncation is floor for non-negative times)."""
    q = ts / length_s
    k = q.astype(np.int64)
    if q.shape[0] and q.min() < 0:  # times before 1970: truncation rounds the wrong way
        k = np.floor(q).astype(np.int64)
    return k


def sorted_stats(
    key: np.ndarray,
    ts: np.ndarray,
    value: np.ndarray,
    quality: np.ndarray | None,
    oor: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """Statistics per group of equal ``key``; rows sorted by key, arrival order within a key.

    ``quality``/``oor`` None mean "all good" / "none out of range" (the caller checked).
    Returns one row per group, in key order.
    """
    n = key.shape[0]
    new = key[1:] != key[:-1]  # a group starts after each True
    # Within a group, timestamps must increase strictly; one cheap pass finds the exceptions.
    suspect = ts[1:] <= ts[:-1]
    suspect &= ~new
    if suspect.any():
        if (ts[1:][suspect] < ts[:-1][suspect]).any():
            # Some signal's samples arrived out of time order (backfill): sort by time too;
            # lexsort is stable, so equal timestamps stay in arrival order.
            p = np.lexsort((ts, key))
            key, ts, value = key[p], ts[p], value[p]
            quality = None if quality is None else quality[p]
            oor = None if oor is None else oor[p]
            new = key[1:] != key[:-1]
        dup = ts[1:] == ts[:-1]
        dup &= ~new
        if dup.any():  # the same timestamp twice: the last one received wins
            keep = np.ones(n, dtype=bool)
            keep[:-1] = ~dup
            key, ts, value = key[keep], ts[keep], value[keep]
            quality = None if quality is None else quality[keep]
            oor = None if oor is None else oor[keep]
            new = key[1:] != key[:-1]
            n = key.shape[0]
    starts = np.flatnonzero(new)
    starts += 1
    starts = np.concatenate(([0], starts))
    groups = starts.shape[0]
    count = np.diff(np.append(starts, n))
    zeros = np.zeros(groups, dtype=np.int64)

    def tally(mask: np.ndarray | None) -> np.ndarray:
        if mask is None or not mask.any():
            return zeros
        return np.add.reduceat(mask.astype(np.int64), starts)

    bad_mask = None if quality is None else quality == BAD
    n_bad = tally(bad_mask)
    out: dict[str, np.ndarray] = {
        "key": key[starts],
        "count": count,
        "bad": n_bad,
        "uncertain": tally(None if quality is None else quality == UNCERTAIN),
        "out_of_range": tally(oor),
    }
    if n_bad is zeros:  # the common case: every sample usable, groups are the sorted runs
        v, t, gs, present, n_good = value, ts, starts, slice(None), count
    else:
        assert bad_mask is not None
        good = ~bad_mask
        gid = np.repeat(np.arange(groups), count)[good]
        v, t = value[good], ts[good]
        n_good = count - n_bad
        gs = np.flatnonzero(np.concatenate(([True], gid[1:] != gid[:-1]))) if v.size else gs_empty()
        present = gid[gs]
    mn, mx, mean, var, last, last_ts = (np.full(groups, np.nan) for _ in range(6))
    if v.shape[0]:
        ge = np.append(gs[1:], v.shape[0]) - 1
        sizes = np.diff(np.append(gs, v.shape[0]))
        m = np.add.reduceat(v, gs) / sizes
        dev = np.repeat(m, sizes)  # two-pass variance: squared deviations from the mean
        np.subtract(v, dev, out=dev)
        np.square(dev, out=dev)
        mean[present] = m
        var[present] = np.add.reduceat(dev, gs) / sizes
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


def window_stats(
    k: np.ndarray,
    series: np.ndarray,
    ts: np.ndarray,
    value: np.ndarray,
    quality: np.ndarray,
    oor: np.ndarray,
) -> dict[str, np.ndarray]:
    """Statistics per (k, series) group; arrays in arrival order. Returns one row per group."""
    k0, width = int(k.min()), int(series.max()) + 1
    key = (k - k0) * width + series
    order = np.argsort(key, kind="stable")
    st = sorted_stats(key[order], ts[order], value[order], quality[order], oor[order])
    gkey = st.pop("key")
    st["k"], st["series"] = gkey // width + k0, gkey % width
    return st


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

    def add(self, batch: Normalized, source: object = None) -> int:
        """Take a normalized batch (cheap: arrays are only concatenated on close).

        Returns how many of its samples were late (for windows already closed) and dropped.
        """
        if not batch.ts.shape[0]:
            return 0
        late = batch.ts < self.closed_k * self.length_s
        dropped = 0
        if late.any():
            dropped = int(np.count_nonzero(late))
            self.late += dropped
            ok = ~late
            batch = Normalized(
                batch.series[ok],
                batch.ts[ok],
                batch.value[ok],
                batch.quality[ok],
                batch.out_of_range[ok],
            )
            if not batch.ts.shape[0]:
                return dropped
        self._chunks.append(batch)
        newest = float(batch.ts.max())
        prev = self._marks.get(source, (-np.inf, 0.0))[0]
        self._marks[source] = (max(prev, newest), self.clock())
        self.watermark = max(self.watermark, newest)
        return dropped

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
        chunks = self._chunks
        if len(chunks) == 1:
            c = chunks[0]
            series, ts, value, quality, oor = c.series, c.ts, c.value, c.quality, c.out_of_range
        else:
            cat = lambda name: np.concatenate([getattr(c, name) for c in chunks])  # noqa: E731
            series, ts, value, quality, oor = (
                cat(n) for n in ("series", "ts", "value", "quality", "out_of_range")
            )
        k = window_index(ts, self.length_s)
        k0 = int(k.min())
        closed = self.closed_k
        self.closed_k = upto
        if k0 >= upto:  # nothing ready yet
            self._chunks = [Normalized(series, ts, value, quality, oor)]
            return []
        # One stable sort by (window, series) groups every signal's window; the ready windows
        # are then a prefix and the samples of open windows the rest (kept in that order:
        # the next sort finds them as one presorted run).
        width = len(self.catalog)
        key = k - k0
        span = (int(k.max()) - k0 + 1) * width  # every key is below this
        if span < 2**31:
            key = key.astype(np.int32)  # a narrower key sorts faster
        key *= width
        key += series
        if key.shape[0] < 2 or bool((key[1:] >= key[:-1]).all()):
            order = None  # already grouped (one signal, or what the last close left): no sort
            key_s = key
        else:
            order = np.argsort(key, kind="stable")
            key_s = np.take(key, order)
        # Samples of windows closed before are late (only possible through rounding at edges).
        bounds = [min(max((w - k0) * width, 0), span) for w in (closed, upto)]
        first, ready_end = np.searchsorted(key_s, np.array(bounds, dtype=key_s.dtype))
        first, ready_end = int(first), int(ready_end)
        self.late += first

        def pick(a: np.ndarray, lo: int, hi: int | None) -> np.ndarray:
            return a[lo:hi] if order is None else np.take(a, order[lo:hi])

        if ready_end < key.shape[0]:
            arrays = (series, ts, value, quality, oor)
            self._chunks = [Normalized(*(pick(a, ready_end, None) for a in arrays))]
        else:
            self._chunks = []
        if ready_end <= first:
            return []
        st = sorted_stats(
            key_s[first:ready_end],
            pick(ts, first, ready_end),
            pick(value, first, ready_end),
            pick(quality, first, ready_end) if quality.any() else None,
            pick(oor, first, ready_end) if oor.any() else None,
        )
        gkey = st["key"].astype(np.int64)  # window indices need 64 bits (0.5 s windows: 3.6e9)
        return self._results(st, gkey // width + k0, gkey % width)

    def _results(
        self, st: dict[str, np.ndarray], k: np.ndarray, series: np.ndarray
    ) -> list[WindowResult]:
        # Rows are sorted by (window, series) and a site's series are numbered asset by asset,
        # so each (window, asset) is one contiguous run of rows.
        asset_of = self.catalog.asset_of[series]
        brk = np.flatnonzero((k[1:] != k[:-1]) | (asset_of[1:] != asset_of[:-1])) + 1
        lo = np.concatenate(([0], brk)).tolist()
        hi = [*lo[1:], int(k.shape[0])]
        keys = self.catalog.keys
        block = _StatsBlock(st, series, keys)
        length = self.length_s
        ks = k[lo].tolist()
        first_series = series[lo].tolist()
        out = [
            WindowResult(keys[sid][0], kk, kk * length, length, block=block, rows=(a, b))
            for kk, sid, a, b in zip(ks, first_series, lo, hi, strict=True)
        ]
        self.made += len(out)
        return out


def _nones(a: np.ndarray) -> list[float | None]:
    """Return a float array as a list with NaN as None (JSON null)."""
    values = a.tolist()
    if not np.isnan(a).any():
        return values
    return [None if v != v else v for v in values]
