"""Base classes for every contract: frozen, strict about unknown fields."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """A frozen pydantic model that refuses unknown fields (typos fail loudly)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
