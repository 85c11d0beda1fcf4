"""The generated edge site config validates as egiz.contracts.SiteConfig and matches the server."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from egiz.cli.main import main
from egiz.contracts import SiteConfig
from egiz.contracts.loader import load_yaml_model
from egiz.contracts.units import UNITS
from egiz.simulators.catalog import TYPES
from egiz.simulators.scenario import builtin_names, load_scenario
from egiz.simulators.siteconfig import site_config


@pytest.mark.parametrize("name", builtin_names())
def test_siteconfig_validates_for_every_builtin(name: str) -> None:
    sc = load_scenario(name)
    cfg = SiteConfig.model_validate(
        site_config(sc, "opc.tcp://127.0.0.1:4840/egiz/", "mqtt://127.0.0.1:1883", None, "e1")
    )
    assert {a.id for a in cfg.assets} == {a.id for a in sc.assets}
    assert cfg.site.id == sc.site and cfg.uplink.edge_id == "e1"
    mapped = {(n.asset, n.signal) for s in cfg.sources if s.kind == "opcua" for n in s.nodes}
    for a in sc.assets:
        signals = {(a.id, s.name) for s in TYPES[a.type].signals}
        assert signals <= mapped if a.protocol == "opcua" else not signals & mapped
    for t in cfg.asset_types:
        assert all(s.unit in UNITS for s in t.signals)


def test_siteconfig_mqtt_template_matches_served_topics() -> None:
    cfg = site_config(load_scenario("demo"), topic_prefix="px")
    mqtt = next(s for s in cfg["sources"] if s["kind"] == "mqtt")
    assert [s["topic"] for s in mqtt["subscriptions"]] == ["px/demo/conveying/{asset}/{signal}"]


def test_siteconfig_cli_writes_loadable_yaml(tmp_path: Path) -> None:
    out = tmp_path / "site.yaml"
    assert (
        main(["sim", "site-config", "--scenario", "demo", "--out", str(out), "--edge-id", "x1"])
        == 0
    )
    cfg = load_yaml_model(SiteConfig, out)
    assert cfg.uplink.edge_id == "x1" and len(cfg.assets) == 3
    assert yaml.safe_load(out.read_text())["version"] == 1


def test_siteconfig_cli_bad_scenario_is_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nsite: {id: s}\nassets:\n  - {id: p, type: pump, area: a, protocol: opcua}\n"
    )
    assert main(["sim", "site-config", "--scenario", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"egiz: error: {bad}:4: assets[0].type: unknown asset type 'pump'")
    assert "fix:" in err and "\n" not in err


def test_siteconfig_document_layout_validates() -> None:
    cfg = SiteConfig.model_validate(
        site_config(load_scenario("oilfield"), topic_prefix="px", mqtt_layout="document")
    )
    mqtt = next(s for s in cfg.sources if s.kind == "mqtt")
    assert [(s.topic, s.payload.format) for s in mqtt.subscriptions] == [
        ("px/oilfield/wells/{asset}/{signal}", "json"),
        ("px/oilfield/wells/{asset}", "document"),
    ]
