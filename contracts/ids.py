"""Identifier types shared by every contract: asset ids, signal names, global ids."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

#: Asset, site, area and line ids: lowercase, digits and dashes, unique within their parent.
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
#: Signal, setpoint and command names: snake_case, as they appear in OPC UA and MQTT paths.
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]


def global_id(site: str, asset: str) -> str:
    """Return the fleet-wide id of an asset: ``<site>.<asset>``."""
    return f"{site}.{asset}"


def split_global_id(gid: str) -> tuple[str, str]:
    """Split ``<site>.<asset>`` into its parts; raise ValueError when it is not one."""
    site, sep, asset = gid.partition(".")
    if not sep or not site or not asset:
        raise ValueError(f"{gid!r} is not a global asset id '<site>.<asset>'")
    return site, asset
