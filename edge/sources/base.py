"""The one small interface every source implements, and what it reports besides samples."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

from egiz.contracts import EventKind

from ..samples import RefTable, SampleBatch


@dataclass(frozen=True, slots=True)
class SourceNote:
    """Something a source wants recorded as an event (state change, malformed input, bad node)."""

    kind: EventKind
    message: str
    data: dict[str, Any] = field(default_factory=dict)


NoteSink = Callable[[SourceNote], None]


class Source(Protocol):
    """An async context manager whose ``stream()`` yields batches of samples.

    Connecting happens inside ``stream()`` (validation never does I/O); a source recovers from
    every disconnect on its own and never raises out of ``stream()`` except on cancellation.
    """

    name: str
    refs: RefTable
    state: str  # "starting" | "connected" | "reconnecting" | "stopped"

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...

    def stream(self) -> AsyncIterator[SampleBatch]: ...

    def stats(self) -> dict[str, Any]: ...


def ignore_note(_note: SourceNote) -> None:
    """Default sink: drop notes (used by tests and tools that only want samples)."""
