"""Edge sources: one module per protocol behind one interface, and the registry of kinds."""

from __future__ import annotations

from typing import Any

from .base import NoteSink, Source, SourceNote, ignore_note
from .mqtt import MqttSource
from .opcua import OpcUaSource

#: Source kind (the config's ``kind``) -> implementation. Adding a protocol = one line here.
REGISTRY: dict[str, Any] = {"opcua": OpcUaSource, "mqtt": MqttSource}


def make_source(config: Any, on_note: NoteSink = ignore_note) -> Source:
    """Build the source for one ``sources[]`` entry of a site config."""
    return REGISTRY[config.kind](config, on_note=on_note)


__all__ = [
    "REGISTRY",
    "MqttSource",
    "NoteSink",
    "OpcUaSource",
    "Source",
    "SourceNote",
    "make_source",
]
