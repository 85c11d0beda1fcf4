"""`egiz edge discover` against the simulator's OPC UA server: the draft validates and maps."""

from __future__ import annotations

import asyncio
import sys

from egiz.contracts import SiteConfig, load_yaml_model
from egiz.edge.discover import draft, slug, snake


def test_discover_drafts_a_valid_site_from_the_simulator(tmp_path, kit):
    from egiz.simulators import SimulatorService, load_scenario
    from egiz.simulators.siteconfig import site_config

    out = tmp_path / "site.yaml"

    async def go():
        scen = load_scenario("demo")
        async with SimulatorService(
            scen, opcua_port=kit.free_port(), mqtt_url=None, truth_dir=tmp_path / "truth"
        ) as sim:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "egiz.cli.main",
                "edge",
                "discover",
                sim.opcua_endpoint,
                "--out",
                str(out),
            )
            assert await asyncio.wait_for(proc.wait(), 120) == 0
            return site_config(scen, opcua_endpoint=sim.opcua_endpoint, cloud_url=None)

    truth = asyncio.run(go())
    cfg = load_yaml_model(SiteConfig, out)  # the draft is a valid site config as written
    drafted = {n.node for n in cfg.sources[0].nodes}
    served = {n["node"] for s in truth["sources"] if s["kind"] == "opcua" for n in s["nodes"]}
    assert served and served <= drafted  # every signal the simulator serves is in the draft
    units = {(a.id, s.name): s.unit for a in cfg.assets for s in cfg.asset_type_of(a.id).signals}
    true_units = {s["name"]: s["unit"] for t in truth["asset_types"] for s in t["signals"]}
    mapped = [n for n in cfg.sources[0].nodes if n.node in served]
    assert all(units[(n.asset, n.signal)] == true_units[n.signal] for n in mapped)


def test_discover_draft_groups_assets_into_types():
    rows = [
        {
            "node": "ns=2;s=a",
            "path": ("Site", "Area", "Pump-1", "Flow"),
            "unit": "m3/h",
            "range": (0.0, 10.0),
        },
        {
            "node": "ns=2;s=b",
            "path": ("Site", "Area", "Pump-2", "Flow"),
            "unit": "m3/h",
            "range": (0.0, 10.0),
        },
        {
            "node": "ns=2;s=c",
            "path": ("Site", "Area", "Mixer", "MotorTemp"),
            "unit": None,
            "range": None,
        },
    ]
    doc = draft("opc.tcp://x:4840", rows)
    cfg = SiteConfig.model_validate(doc)
    assert [t.name for t in cfg.asset_types] == ["mixer", "pump"]
    assert {a.id: a.type for a in cfg.assets} == {
        "mixer": "mixer",
        "pump-1": "pump",
        "pump-2": "pump",
    }
    assert cfg.asset_type_of("mixer").signal("motor_temp").unit == "1"
    assert (slug("Line 3/B"), snake("BearingTemp")) == ("line-3-b", "bearing_temp")
