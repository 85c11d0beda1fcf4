"""Raw windows stored in chunks: one row per asset, signal set and ingest batch.

A chunk holds ``k`` window records of one asset that share their signal set, ordered by
start. Its body is ``k`` float64 starts, ``k`` float64 lengths, then the ``k`` records'
packed statistics (``packing``), record after record. A 1,000-record batch of 100 assets is
100 rows instead of 1,000, so the b-tree and index work of the ingest grows per batch, not
per record (as column stores do); a read decodes a chunk's arrays with numpy at once.

Each (site, asset, start) is stored once: the ingest drops windows already stored (first
stored wins, as the unique index of one row per record did), and reads drop any duplicate a
race between two PostgreSQL writers let through, keeping the chunk stored first.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Iterable, Sequence

import numpy as np

from .base import Chunk, WindowRecord
from .packing import STATS

CHUNK_COLS = "site, asset, lo, hi, k, n, signals, body"
#: PostgreSQL types of CHUNK_COLS, for COPY.
CHUNK_TYPES = ("text", "text", "float8", "float8", "int8", "int8", "text", "bytea")
#: Records per chunk at most (migrations and bulk loads; an ingest batch is smaller).
MAX_CHUNK = 4096


def make_chunk(
    site: str,
    asset: str,
    signals: str,
    starts: np.ndarray | list[float],
    lengths: np.ndarray | list[float],
    stats: bytes,
) -> Chunk:
    """Return the chunk of records already ordered by start (``stats``: record after record).

    Plain lists are packed with ``struct``: for the ~10 records of an asset in one batch,
    numpy's per-call overhead would cost more than the packing.
    """
    k = len(starts)
    if isinstance(starts, np.ndarray):
        head = (starts.astype("<f8", copy=False).tobytes()
                + np.asarray(lengths).astype("<f8", copy=False).tobytes())  # fmt: skip
        lo, hi = float(starts[0]), float(starts[-1])
    else:
        head = struct.pack(f"<{2 * k}d", *starts, *lengths)
        lo, hi = starts[0], starts[-1]
    n = k * (len(stats) // k // STATS.itemsize) if k else 0
    return Chunk(site, asset, lo, hi, k, n, signals, head + stats)


def to_chunks(records: Iterable[WindowRecord], seen: set[tuple[str, str, float]]) -> list[Chunk]:
    """Group records into chunks by (site, asset, signal set), ordered by start.

    The first record of a (site, asset, start) wins; ``seen`` holds keys already stored or
    taken and is updated with the kept ones.
    """
    groups: dict[tuple[str, str, str], list[WindowRecord]] = {}
    for r in records:
        key = (r.site, r.asset, r.start)
        if key in seen:
            continue
        seen.add(key)
        groups.setdefault((r.site, r.asset, r.signals), []).append(r)
    out = []
    for (site, asset, signals), recs in groups.items():
        for i in range(0, len(recs), MAX_CHUNK):
            part = recs[i : i + MAX_CHUNK]
            starts = np.fromiter((r.start for r in part), np.float64, len(part))
            lengths = np.fromiter((r.length_s for r in part), np.float64, len(part))
            if len(part) > 1 and not bool(np.all(starts[1:] >= starts[:-1])):
                order = np.argsort(starts, kind="stable")
                starts, lengths = starts[order], lengths[order]
                part = [part[j] for j in order.tolist()]
            out.append(make_chunk(site, asset, signals, starts, lengths,
                                  b"".join([r.stats for r in part])))  # fmt: skip
    return out


def keep_only(chunk: Chunk, keep: np.ndarray) -> Chunk | None:
    """Return the chunk with only the records where ``keep`` is True (None: none left)."""
    kept = int(keep.sum())
    if kept == chunk.k:
        return chunk
    if kept == 0:
        return None
    starts, lengths, stats = chunk_arrays(chunk.k, chunk.body)
    width = len(stats) // chunk.k
    rows = np.frombuffer(stats, np.uint8).reshape(chunk.k, width)[keep]
    return make_chunk(chunk.site, chunk.asset, chunk.signals, starts[keep], lengths[keep],
                      rows.tobytes())  # fmt: skip


def chunk_arrays(k: int, body: bytes) -> tuple[np.ndarray, np.ndarray, memoryview]:
    """Return a chunk's starts, lengths and its statistics bytes (record after record)."""
    view = memoryview(bytes(body))  # PostgreSQL returns memoryview-like bytes
    starts = np.frombuffer(view, "<f8", k)
    lengths = np.frombuffer(view, "<f8", k, 8 * k)
    return starts, lengths, view[16 * k :]


@functools.lru_cache(maxsize=512)
def _heads(k: int) -> struct.Struct:
    """The struct of a chunk's ``k`` starts and ``k`` lengths."""
    return struct.Struct(f"<{2 * k}d")


def expand(
    chunks: Sequence[tuple[int, int, str, bytes]], lo: float | None, hi: float | None
) -> list[tuple[float, float, str, bytes]]:
    """Return (start, length_s, signals, stats) records of (id, k, signals, body) chunks.

    Only records with ``lo <= start < hi`` (None: unbounded), ordered by start; of records
    sharing a start, the one of the chunk stored first (lowest id) is kept.
    """
    picked: list[tuple[float, int, float, str, bytes]] = []
    low = -math.inf if lo is None else lo
    high = math.inf if hi is None else hi
    # Plain struct unpacking: live edges send small batches, so most chunks hold one record
    # or a few, where numpy's per-call overhead would dominate.
    for cid, k, signals, body in chunks:
        raw = bytes(body)  # PostgreSQL returns memoryview-like bytes
        head = _heads(k).unpack_from(raw)
        base = 16 * k
        width = (len(raw) - base) // k
        for i in range(k):
            start = head[i]
            if low <= start < high:
                at = base + i * width
                picked.append((start, cid, head[k + i], signals, raw[at : at + width]))
    picked.sort(key=lambda p: (p[0], p[1]))
    out: list[tuple[float, float, str, bytes]] = []
    last: float | None = None
    for start, _cid, length, signals, stats in picked:
        if start != last:
            out.append((start, length, signals, stats))
            last = start
    return out


def starts_of(chunks: Iterable[tuple[str, int, bytes]]) -> dict[str, set[float]]:
    """Return the stored starts per asset of (asset, k, body) chunk rows."""
    out: dict[str, set[float]] = {}
    for asset, k, body in chunks:
        out.setdefault(asset, set()).update(chunk_arrays(k, body)[0].tolist())
    return out
