"""Config errors name file:line, the path inside the document, and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from egiz.contracts import ConfigError, SiteConfig, load_yaml_model

GOOD = """\
site: {id: demo, name: Demo plant}
asset_types:
  - name: pump
    signals:
      - {name: flow, unit: m3/h, kind: flow, range: [0, 500]}
      - {name: bearing_temp, unit: degC, kind: temperature, limits: {hi: 80, hi_hi: 95}}
    setpoints:
      - {name: speed, unit: rpm, min: 0, max: 3000, max_step: 300}
assets:
  - {id: pump-1, type: pump, area: pumping}
sources:
  - kind: opcua
    name: plc
    endpoint: opc.tcp://127.0.0.1:4840
    nodes:
      - {node: "ns=2;s=demo.pump-1.flow", asset: pump-1, signal: flow}
  - kind: mqtt
    name: sensors
    url: mqtt://127.0.0.1:1883
    subscriptions:
      - topic: "egiz/demo/pumping/{asset}/{signal}"
        units: {bearing_temp: degF}
uplink: {url: "http://127.0.0.1:8000", edge_id: demo-edge}
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "site.yaml"
    p.write_text(text)
    return p


def test_loader_accepts_a_good_site_config(tmp_path: Path) -> None:
    cfg = load_yaml_model(SiteConfig, _write(tmp_path, GOOD))
    assert cfg.site.id == "demo"
    assert cfg.asset_type_of("pump-1").signal("flow").unit == "m3/h"


@pytest.mark.parametrize(
    ("old", "new", "line", "path", "words"),
    [
        (
            "unit: m3/h, kind: flow",
            "unit: m3/hr, kind: flow",
            5,
            "asset_types[0].signals[0]",
            "unknown unit",
        ),
        ("endpoint: opc.tcp://", "endpoint: http://", 14, "sources[0].endpoint", "pattern"),
        ("{id: pump-1, type: pump", "{id: Pump_1, type: pump", 10, "assets[0].id", "pattern"),
        (
            "    name: plc\n",
            "    name: plc\n    colour: red\n",
            14,
            "sources[0].colour",
            "Extra inputs",
        ),
        ("kind: mqtt", "kind: modbus", 17, "sources[1]", "tag"),
    ],
)
def test_loader_error_names_file_line_path_and_fix(
    tmp_path: Path, old: str, new: str, line: int, path: str, words: str
) -> None:
    assert old in GOOD
    p = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ConfigError) as exc:
        load_yaml_model(SiteConfig, p)
    err = exc.value
    assert err.file == str(p)
    assert err.line == line, str(err)
    assert err.path == path, str(err)
    assert words.lower() in str(err).lower()
    assert "fix:" in str(err)
    assert "\n" not in str(err)


def test_loader_cross_reference_error_names_the_unknown_signal(tmp_path: Path) -> None:
    p = _write(tmp_path, GOOD.replace("signal: flow}", "signal: flw}"))
    with pytest.raises(ConfigError, match=r"has no signal 'flw' \(known: flow, bearing_temp\)"):
        load_yaml_model(SiteConfig, p)


def test_loader_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    p = _write(tmp_path, GOOD.replace("assets:\n", "assets:\n  - [unclosed\n"))
    with pytest.raises(ConfigError) as exc:
        load_yaml_model(SiteConfig, p)
    assert exc.value.line is not None and exc.value.line >= 10
    assert "not valid YAML" in str(exc.value)


def test_loader_duplicate_key_is_an_error(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        GOOD.replace("site: {id: demo, name: Demo plant}", "site: {id: demo}\nsite: {id: x}"),
    )
    with pytest.raises(ConfigError, match="duplicate key 'site'") as exc:
        load_yaml_model(SiteConfig, p)
    assert exc.value.line == 2


def test_loader_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_yaml_model(SiteConfig, tmp_path / "nope.yaml")
