"""The edge's error tree; protocol library errors are translated into these at the boundary."""

from __future__ import annotations

from egiz.contracts.errors import EgizError


class EdgeError(EgizError):
    """Base of every error the edge agent raises on purpose."""


class SourceUnavailable(EdgeError):
    """A source cannot reach its server or broker (it will retry with backoff)."""


class OutboxError(EdgeError):
    """The outbox database cannot be opened or written."""


class UplinkError(EdgeError):
    """The cloud refused or did not answer an uplink batch."""
