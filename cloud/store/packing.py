"""One stored row per window record: the statistics of all its signals packed in one blob.

A record of ``n`` signals is stored as its sorted signal names (comma-separated text) and
``n`` fixed-size little-endian structs (4 int64 counts, 6 float64 statistics). Ingest then
writes one row per record instead of one per signal, and reads decode many blobs at once
with numpy. ``None`` is a NaN with a payload no arithmetic produces, so a genuine NaN (which
pydantic accepts) and a missing value stay distinct.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from .base import WindowRecord, WindowRow

#: Field layout of one signal's statistics; the order of ``WindowRow`` from ``count`` on.
STATS = np.dtype(
    [("count", "<i8"), ("bad", "<i8"), ("uncertain", "<i8"), ("out_of_range", "<i8"),
     ("min", "<f8"), ("max", "<f8"), ("mean", "<f8"), ("std", "<f8"), ("last", "<f8"),
     ("last_ts", "<f8")]
)  # fmt: skip
FLOATS = ("min", "max", "mean", "std", "last", "last_ts")
NONE_BITS = 0x7FF8_0000_4E4F_4E45  # quiet NaN, payload "NONE"
NONE = struct.unpack("<d", struct.pack("<Q", NONE_BITS))[0]
pack_one = struct.Struct("<qqqqdddddd").pack
assert struct.calcsize("<qqqqdddddd") == STATS.itemsize


def opt(v: float | None) -> float:
    """Encode an optional float for packing."""
    return NONE if v is None else v


def pack_rows(rows: Iterable[WindowRow]) -> list[WindowRecord]:
    """Group per-signal rows into records by (site, asset, start); the first row of a signal wins."""
    groups: dict[tuple[str, str, float], dict[str, WindowRow]] = {}
    for r in rows:
        groups.setdefault((r.site, r.asset, r.start), {}).setdefault(r.signal, r)
    out = []
    for (site, asset, start), sigs in groups.items():
        names = sorted(sigs)
        first = sigs[names[0]]
        blob = b"".join(
            pack_one(w.count, w.bad, w.uncertain, w.out_of_range, opt(w.min), opt(w.max),
                     opt(w.mean), opt(w.std), opt(w.last), opt(w.last_ts))
            for w in (sigs[n] for n in names)
        )  # fmt: skip
        out.append(WindowRecord(site, asset, start, first.length_s, len(names), ",".join(names),
                                blob))  # fmt: skip
    return out


class Columns(NamedTuple):
    """Decoded records as flat columns, one entry per (record, signal)."""

    start: np.ndarray  # float64
    length_s: np.ndarray  # float64
    signal: list[str]
    stats: np.ndarray  # STATS structured array
    none: dict[str, np.ndarray]  # per float field: True where the value is None


def decode(records: Sequence[tuple[float, float, str, bytes]]) -> Columns:
    """Decode (start, length_s, signals, stats) rows into flat columns (record order kept)."""
    blobs = [bytes(r[3]) for r in records]  # PostgreSQL returns memoryview-like bytes
    stats = np.frombuffer(b"".join(blobs), dtype=STATS)
    counts = np.fromiter((len(b) // STATS.itemsize for b in blobs), dtype=np.int64,
                         count=len(blobs))  # fmt: skip
    start = np.repeat(np.fromiter((r[0] for r in records), np.float64, len(records)), counts)
    length = np.repeat(np.fromiter((r[1] for r in records), np.float64, len(records)), counts)
    signal: list[str] = []
    for r in records:
        signal.extend(r[2].split(",") if r[2] else ())
    none = {f: stats[f].view(np.uint64) == NONE_BITS for f in FLOATS}
    return Columns(start, length, signal, stats, none)


def _optional(values: np.ndarray, none: np.ndarray) -> list[float | None]:
    out: list[float | None] = values.tolist()
    if none.any():
        for i in np.flatnonzero(none).tolist():
            out[i] = None
    return out


def to_rows(
    site: str, asset: str, cols: Columns, keep: np.ndarray | None = None
) -> list[WindowRow]:
    """Return WindowRows of decoded columns (``keep``: boolean mask of entries to return)."""
    idx = np.arange(len(cols.signal)) if keep is None else np.flatnonzero(keep)
    st = cols.stats[idx]
    signal = [cols.signal[i] for i in idx.tolist()]
    floats = [_optional(st[f], cols.none[f][idx]) for f in FLOATS]
    return [
        WindowRow(site, asset, *rest)
        for rest in zip(signal, cols.start[idx].tolist(), cols.length_s[idx].tolist(),
                        st["count"].tolist(), st["bad"].tolist(), st["uncertain"].tolist(),
                        st["out_of_range"].tolist(), *floats, strict=True)
    ]  # fmt: skip
