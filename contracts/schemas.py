"""JSON schemas of the contracts, for `egiz schema` and for integrators."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .assets import AssetType
from .commands import Command
from .records import RECORD_ADAPTER, UplinkAnswer, UplinkBatch
from .site import SiteConfig

_MODELS: dict[str, type[BaseModel]] = {
    "site-config": SiteConfig,
    "asset-type": AssetType,
    "uplink-batch": UplinkBatch,
    "uplink-answer": UplinkAnswer,
    "command": Command,
}


def schema_names() -> list[str]:
    """Return the names `egiz schema NAME` accepts."""
    return [*sorted(_MODELS), "record"]


def model_of(name: str) -> type[BaseModel]:
    """Return the contract class called ``name``; KeyError for an unknown or non-model name."""
    return _MODELS[name]


def json_schema(name: str) -> dict[str, Any]:
    """Return the JSON schema of contract ``name``; KeyError for an unknown name."""
    if name == "record":
        return RECORD_ADAPTER.json_schema()
    return _MODELS[name].model_json_schema()
