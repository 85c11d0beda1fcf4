"""The model runner: scores one asset's closed window (pass-through until models land)."""

from __future__ import annotations

from typing import Protocol

from egiz.contracts import ModelScores

from .window import WindowResult


class ModelRunner(Protocol):
    """Anything that turns an asset's window into scores, or None when it has no model."""

    def score(self, window: WindowResult) -> ModelScores | None: ...


class PassThrough:
    """The runner used until the modeling layer provides models: no scores."""

    def score(self, window: WindowResult) -> ModelScores | None:
        """Return None: no model is loaded for any asset."""
        return None
