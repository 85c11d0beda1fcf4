"""`egiz edge discover`: browse an OPC UA server and draft a site.yaml an engineer can edit.

Every numeric variable becomes a signal of the object that holds it (the asset); the object
above the asset is its area. Assets with the same base name and signals share an asset type.
Units and ranges come from the OPC UA EngineeringUnits / EURange properties when present.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from asyncua import Client, ua

from egiz.contracts.units import UNITS

from .errors import SourceUnavailable

_NUMERIC = {
    ua.VariantType.Double,
    ua.VariantType.Float,
    ua.VariantType.Int16,
    ua.VariantType.Int32,
    ua.VariantType.Int64,
    ua.VariantType.UInt16,
    ua.VariantType.UInt32,
    ua.VariantType.UInt64,
    ua.VariantType.Byte,
    ua.VariantType.SByte,
    ua.VariantType.Boolean,
}


def slug(text: str) -> str:
    """An id: lowercase letters, digits and dashes."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (s or "x")[:63] if s[:1].isalnum() else ("x" + s)[:63]


def snake(text: str) -> str:
    """A signal name: snake_case, starting with a letter."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    s = re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")
    return (s if s[:1].isalpha() else "s_" + s)[:63] or "signal"


async def _unit_and_range(node: Any) -> tuple[str | None, tuple[float, float] | None]:
    unit, rng = None, None
    for child in await node.get_properties():
        name = (await child.read_browse_name()).Name
        try:
            value = await child.read_value()
        except Exception:  # an unreadable property is not worth failing the draft for
            continue
        if name == "EngineeringUnits" and isinstance(value, ua.EUInformation):
            for text in (value.Description.Text, value.DisplayName.Text):
                if text in UNITS:
                    unit = text
                    break
        elif name == "EURange" and isinstance(value, ua.Range):
            rng = (float(value.Low), float(value.High))
    return unit, rng


async def browse(endpoint: str, max_nodes: int = 20_000) -> list[dict[str, Any]]:
    """Return one row per numeric variable: node id, path of browse names, unit, range."""
    client = Client(endpoint, timeout=10)
    try:
        await client.connect()
    except (OSError, TimeoutError, ua.UaError) as err:
        raise SourceUnavailable(f"{endpoint}: cannot connect: {err!r}") from err
    rows: list[dict[str, Any]] = []
    try:
        todo = [(client.nodes.objects, ())]
        seen = 0
        while todo and seen < max_nodes:
            node, path = todo.pop(0)
            for child in await node.get_children():
                seen += 1
                if child.nodeid.NamespaceIndex == 0:
                    continue  # the server's own objects (Server, ...)
                cls = await child.read_node_class()
                name = (await child.read_browse_name()).Name
                if cls == ua.NodeClass.Object:
                    todo.append((child, (*path, name)))
                elif cls == ua.NodeClass.Variable and path:
                    vt = await child.read_data_type_as_variant_type()
                    if vt not in _NUMERIC:
                        continue
                    unit, rng = await _unit_and_range(child)
                    rows.append(
                        {
                            "node": child.nodeid.to_string(),
                            "path": (*path, name),
                            "unit": unit,
                            "range": rng,
                        }
                    )
    finally:
        await client.disconnect()
    return rows


def draft(endpoint: str, rows: list[dict[str, Any]], site: str | None = None) -> dict[str, Any]:
    """Turn browsed variables into a site config document (a dict ready for YAML)."""
    assets: dict[str, dict[str, Any]] = {}
    for r in rows:
        *parents, var = r["path"]
        aid = slug(parents[-1])
        # ISA-95 as the simulator serves it: site / area / [line /] asset / signal
        area = parents[1] if len(parents) >= 3 else (parents[-2] if len(parents) == 2 else "")
        line = parents[-2] if len(parents) >= 4 else None
        a = assets.setdefault(
            aid,
            {
                "id": aid,
                "area": slug(area) if area else "default",
                "line": slug(line) if line else None,
                "signals": {},
                "top": slug(parents[0]),
            },
        )
        a["signals"].setdefault(snake(var), r)
    types: dict[tuple, str] = {}
    type_docs, asset_docs, nodes = [], [], []
    for aid, a in sorted(assets.items()):
        sig = tuple(sorted((n, r["unit"], r["range"]) for n, r in a["signals"].items()))
        if sig not in types:
            base = snake(re.sub(r"[-_]?\d+$", "", aid)) or "asset"
            name, k = base, 2
            while name in types.values():
                name, k = f"{base}_{k}", k + 1
            types[sig] = name
            type_docs.append(
                {"name": name, "signals": [_signal(n, r) for n, r in sorted(a["signals"].items())]}
            )
        doc = {"id": aid, "type": types[sig], "area": a["area"]}
        if a["line"]:
            doc["line"] = a["line"]
        asset_docs.append(doc)
        nodes += [
            {"node": r["node"], "asset": aid, "signal": n} for n, r in sorted(a["signals"].items())
        ]
    site_id = site or (next(iter(assets.values()))["top"] if assets else "site")
    return {
        "version": 1,
        "site": {"id": slug(site_id), "name": f"drafted from {endpoint}"},
        "asset_types": type_docs,
        "assets": asset_docs,
        "sources": [{"kind": "opcua", "name": "opcua", "endpoint": endpoint, "nodes": nodes}],
        "uplink": {"url": None, "edge_id": f"{slug(site_id)}-edge"},
    }


def _signal(name: str, row: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": name, "unit": row["unit"] or "1"}
    if row["unit"] is None:
        doc["description"] = "unit not found on the server: check it"
    if row["range"] is not None and row["range"][0] <= row["range"][1]:
        doc["range"] = list(row["range"])
    return doc


def discover(endpoint: str, site: str | None = None) -> dict[str, Any]:
    """Browse ``endpoint`` and return the drafted site config document."""
    return draft(endpoint, asyncio.run(browse(endpoint)), site)
