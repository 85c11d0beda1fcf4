"""The hot-path sample batch: parallel numpy arrays, never one pydantic object per sample."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from egiz.contracts import Quality

#: Quality codes on the hot path (uint8); index into QUALITY_NAMES.
GOOD, UNCERTAIN, BAD = 0, 1, 2
QUALITY_NAMES = (Quality.good, Quality.uncertain, Quality.bad)


@dataclass(slots=True)
class SampleBatch:
    """Samples from one source: ``ref`` indexes the source's RefTable; ``ts`` NaN = no timestamp."""

    ref: np.ndarray  # int32, index into the source's refs
    ts: np.ndarray  # float64 epoch seconds (source timestamp), NaN when the source gave none
    value: np.ndarray  # float64
    quality: np.ndarray  # uint8 GOOD/UNCERTAIN/BAD
    received: float  # wall-clock epoch seconds when the batch was assembled

    def __len__(self) -> int:
        return int(self.ref.shape[0])

    @classmethod
    def from_lists(
        cls,
        ref: list[int],
        ts: list[float],
        value: list[float],
        quality: list[int],
        received: float,
    ) -> SampleBatch:
        """Build a batch from parallel Python lists (what a protocol callback accumulates)."""
        return cls(
            np.asarray(ref, dtype=np.int32),
            np.asarray(ts, dtype=np.float64),
            np.asarray(value, dtype=np.float64),
            np.asarray(quality, dtype=np.uint8),
            received,
        )


@dataclass(frozen=True, slots=True)
class Ref:
    """What one source reference means: the asset signal and the unit the source speaks."""

    asset: str
    signal: str
    unit: str | None = None  # None = already canonical


@dataclass(slots=True)
class RefTable:
    """Append-only list of a source's references; batches carry indices into it."""

    refs: list[Ref] = field(default_factory=list)
    _index: dict[Ref, int] = field(default_factory=dict)

    def add(self, ref: Ref) -> int:
        """Return the index of ``ref``, adding it when new."""
        idx = self._index.get(ref)
        if idx is None:
            idx = len(self.refs)
            self.refs.append(ref)
            self._index[ref] = idx
        return idx

    def append(self, ref: Ref) -> int:
        """Add ``ref`` at the next index even when an equal one exists (one index per node)."""
        self.refs.append(ref)
        self._index.setdefault(ref, len(self.refs) - 1)
        return len(self.refs) - 1

    def __len__(self) -> int:
        return len(self.refs)


class SampleBuffer:
    """Collects samples one at a time (a protocol callback) and hands them over as a batch."""

    __slots__ = ("qual", "ref", "ts", "val")

    def __init__(self) -> None:
        self.ref: list[int] = []
        self.ts: list[float] = []
        self.val: list[float] = []
        self.qual: list[int] = []

    def add(self, ref: int, ts: float, value: float, quality: int = 0) -> None:
        """Append one sample (four list appends: the whole per-sample cost)."""
        self.ref.append(ref)
        self.ts.append(ts)
        self.val.append(value)
        self.qual.append(quality)

    def __len__(self) -> int:
        return len(self.ref)

    def take(self, received: float) -> SampleBatch:
        """Return what was collected as one batch and start afresh."""
        batch = SampleBatch.from_lists(self.ref, self.ts, self.val, self.qual, received)
        self.ref, self.ts, self.val, self.qual = [], [], [], []
        return batch
