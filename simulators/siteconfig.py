"""Render the edge site config matching a scenario (the shape of ``egiz.contracts.SiteConfig``).

Returns plain dicts: the simulator must not import the contracts; a test validates the
output against them so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from .catalog import TYPES, AssetTypeSpec
from .opcua import node_id
from .scenario import Scenario

_COMMAND_TEXT = {
    "start": "Start the asset",
    "stop": "Stop the asset",
    "reset": "Reset trips; on a failed asset, replace the worn parts",
}


def asset_type_dict(spec: AssetTypeSpec) -> dict[str, Any]:
    """Return one asset type in the contract's shape."""
    return {
        "name": spec.name,
        "description": spec.description,
        "signals": [
            {
                "name": s.name,
                "unit": s.unit,
                "kind": s.kind,
                "description": s.description,
                "range": [float(s.range[0]), float(s.range[1])],
                **({"limits": dict(s.limits)} if s.limits else {}),
                "nominal_rate_hz": 1.0,
            }
            for s in spec.signals
        ],
        "setpoints": [
            {
                "name": p.name,
                "unit": p.unit,
                "min": p.min,
                "max": p.max,
                **({"max_step": p.max_step} if p.max_step else {}),
                "description": p.description,
            }
            for p in spec.setpoints
        ],
        "commands": [{"name": c, "description": _COMMAND_TEXT.get(c, "")} for c in spec.commands],
        "failure_modes": [
            {"name": m.name, "description": m.description, "signals": list(m.signals)}
            for m in spec.modes
        ],
    }


def site_config(
    scenario: Scenario,
    opcua_endpoint: str = "opc.tcp://127.0.0.1:4840/egiz/",
    mqtt_url: str = "mqtt://127.0.0.1:1883",
    cloud_url: str | None = "http://127.0.0.1:8000",
    edge_id: str | None = None,
    *,
    topic_prefix: str = "egiz",
    mqtt_layout: str = "signal",
    token: str | None = None,
    window_s: float = 10.0,
) -> dict[str, Any]:
    """Return the edge site config (a dict ready for YAML) that reads this scenario's plant."""
    sc = scenario
    used = [t for t in dict.fromkeys(a.type for a in sc.assets)]
    rate = 1.0 / sc.step_s
    types = [asset_type_dict(TYPES[t]) for t in used]
    for t in types:
        for s in t["signals"]:
            s["nominal_rate_hz"] = rate
    assets = []
    for a in sc.assets:
        item: dict[str, Any] = {"id": a.id, "type": a.type, "name": a.name or a.id, "area": a.area}
        if a.line:
            item["line"] = a.line
        assets.append(item)
    sources: list[dict[str, Any]] = []
    nodes = [
        {"node": node_id(sc.site, a.id, s.name), "asset": a.id, "signal": s.name}
        for a in sc.assets
        if a.protocol == "opcua"
        for s in TYPES[a.type].signals
    ]
    if nodes:
        sources.append(
            {"kind": "opcua", "name": "sim-opcua", "endpoint": opcua_endpoint, "nodes": nodes}
        )
    paths = list(dict.fromkeys(a.path()[:-1] for a in sc.assets if a.protocol == "mqtt"))
    if paths:
        subs: list[dict[str, Any]] = [
            {"topic": "/".join((topic_prefix, sc.site, *p, "{asset}", "{signal}"))} for p in paths
        ]
        if mqtt_layout == "document":
            subs += [
                {
                    "topic": "/".join((topic_prefix, sc.site, *p, "{asset}")),
                    "payload": {"format": "document"},
                }
                for p in paths
            ]
        sources.append(
            {"kind": "mqtt", "name": "sim-mqtt", "url": mqtt_url, "qos": 1, "subscriptions": subs}
        )
    uplink: dict[str, Any] = {"url": cloud_url, "edge_id": edge_id or f"{sc.site}-edge"}
    if token:
        uplink["token"] = token
    return {
        "version": 1,
        "site": {"id": sc.site, "name": sc.site_name or sc.site, "enterprise": sc.enterprise},
        "asset_types": types,
        "assets": assets,
        "sources": sources,
        "window": {"length_s": window_s},
        "uplink": uplink,
    }
