"""Scenarios: the YAML description of a simulated site, and its validating loader.

Every error names ``file:line``, the field (dotted path), what is wrong and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .catalog import TYPES
from .errors import ScenarioError
from .physics.common import PROFILE_FIELDS, PROFILE_KINDS
from .schedule import FaultSpec, OperationSpec, parse_fault, parse_operation
from .yamlines import LinedDict, LinedList, Reader, choices, parse

BUILTIN_DIR = Path(__file__).parent / "scenarios"
PROTOCOLS = ("opcua", "mqtt")


@dataclass(frozen=True, slots=True)
class DegradationSpec:
    """One degradation mode of an asset: onset and life in operating hours, each a range."""

    mode: str
    onset_h: tuple[float, float]
    life_h: tuple[float, float]


@dataclass(frozen=True, slots=True)
class AssetSpec:
    """One simulated asset, placed in the ISA-95 tree and assigned to a protocol."""

    id: str
    type: str
    area: str
    protocol: str
    name: str = ""
    line: str | None = None
    params: dict[str, float] = field(default_factory=dict)
    profile: tuple[str, dict[str, float]] = ("constant", {})
    degradation: tuple[DegradationSpec, ...] = ()

    def path(self) -> tuple[str, ...]:
        """Return area/[line/]asset."""
        return (self.area, self.line, self.id) if self.line else (self.area, self.id)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A whole simulated site."""

    name: str
    site: str
    assets: tuple[AssetSpec, ...]
    site_name: str = ""
    enterprise: str = "egiz"
    description: str = ""
    seed: int = 0
    step_s: float = 1.0
    start: datetime | None = None
    faults: tuple[FaultSpec, ...] = ()
    operations: tuple[OperationSpec, ...] = ()
    file: str = ""

    def asset(self, asset_id: str) -> AssetSpec:
        """Return the asset ``asset_id``; KeyError when the scenario has none."""
        for a in self.assets:
            if a.id == asset_id:
                return a
        raise KeyError(asset_id)


def builtin_names() -> list[str]:
    """Return the names of the built-in scenarios."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a built-in scenario by name, or a scenario YAML file by path."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = BUILTIN_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise ScenarioError(
                f"no built-in scenario {str(name_or_path)!r}",
                fix=f"use one of {', '.join(builtin_names())} or a path to a .yaml file",
            )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(
            f"cannot read: {err.strerror}", file=str(path), fix="check the path"
        ) from None
    return parse_scenario(text, str(path), default_name=path.stem)


def parse_scenario(text: str, file: str, default_name: str = "scenario") -> Scenario:
    """Parse and validate scenario YAML ``text`` read from ``file``."""
    doc = parse(text, file)
    r = Reader(file)
    if not isinstance(doc, LinedDict):
        raise ScenarioError(
            "the scenario must be a YAML mapping", file=file, line=1, fix="see docs/simulators.md"
        )
    r.keys(
        doc,
        "",
        (
            "version",
            "name",
            "description",
            "site",
            "seed",
            "step_s",
            "start",
            "assets",
            "faults",
            "operations",
        ),
    )
    if r.get(doc, "version", "", int, 1) != 1:
        r.fail(doc, "version", "version", "only version 1 exists", "set version: 1")
    site = r.need(doc, "site", "", LinedDict)
    r.keys(site, "site", ("id", "name", "enterprise"))
    site_id = r.slug(site, "id", "site")
    start = r.get(doc, "start", "", (str, datetime), None)
    if isinstance(start, str):
        try:
            start = datetime.fromisoformat(start.replace("Z", "+00:00"))
        except ValueError:
            r.fail(
                doc,
                "start",
                "start",
                f"{start!r} is not an ISO-8601 time",
                "write e.g. 2026-01-01T00:00:00Z",
            )
    if isinstance(start, datetime) and start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    items = r.need(doc, "assets", "", LinedList)
    assets = tuple(_asset(r, item, items, i) for i, item in enumerate(items))
    seen: set[str] = set()
    for i, a in enumerate(assets):
        if a.id in seen:
            r.fail_line(
                items.item_lines[i],
                f"assets[{i}].id",
                f"duplicate asset id {a.id!r}",
                "asset ids must be unique within the site",
            )
        seen.add(a.id)
    faults = tuple(
        parse_fault(r, f, j, {a.id: a for a in assets})
        for j, f in enumerate(r.get(doc, "faults", "", LinedList, LinedList()))
    )
    operations = tuple(
        parse_operation(r, o, j, {a.id for a in assets})
        for j, o in enumerate(r.get(doc, "operations", "", LinedList, LinedList()))
    )
    step = float(r.get(doc, "step_s", "", (int, float), 1.0))
    if step <= 0:
        r.fail(doc, "step_s", "step_s", "must be > 0", "use e.g. 1.0 (1 Hz)")
    return Scenario(
        name=str(r.get(doc, "name", "", str, default_name)),
        description=str(r.get(doc, "description", "", str, "")),
        site=site_id,
        site_name=str(r.get(site, "name", "site", str, "")),
        enterprise=r.slug(site, "enterprise", "site", default="egiz"),
        seed=int(r.get(doc, "seed", "", int, 0)),
        step_s=step,
        start=start,
        assets=assets,
        faults=faults,
        operations=operations,
        file=file,
    )


def _asset(r: Reader, item: Any, items: LinedList, i: int) -> AssetSpec:
    where = f"assets[{i}]"
    if not isinstance(item, LinedDict):
        r.fail_line(
            items.item_lines[i],
            where,
            "each asset must be a mapping",
            "write `- id: pump-1` and its fields",
        )
    r.keys(
        item,
        where,
        ("id", "type", "name", "area", "line", "protocol", "params", "profile", "degradation"),
    )
    type_name = r.need(item, "type", where, str)
    if type_name not in TYPES:
        r.fail(
            item,
            "type",
            f"{where}.type",
            f"unknown asset type {type_name!r}",
            choices(type_name, TYPES),
        )
    spec = TYPES[type_name]
    protocol = r.need(item, "protocol", where, str)
    if protocol not in PROTOCOLS:
        r.fail(
            item,
            "protocol",
            f"{where}.protocol",
            f"unknown protocol {protocol!r}",
            choices(protocol, PROTOCOLS),
        )
    params = r.get(item, "params", where, LinedDict, LinedDict())
    from .engine import GROUPS  # the physics owns the parameter tables

    allowed = tuple(GROUPS[type_name].PARAMS) + tuple(s.name for s in spec.setpoints)
    r.keys(params, f"{where}.params", allowed)
    for k, v in params.items():
        if not isinstance(v, int | float) or isinstance(v, bool):
            r.fail(
                params,
                k,
                f"{where}.params.{k}",
                f"must be a number, got {v!r}",
                "write a plain number",
            )
    profile = r.get(item, "profile", where, LinedDict, LinedDict(kind="constant"))
    kind = r.need(profile, "kind", f"{where}.profile", str) if profile else "constant"
    if kind not in PROFILE_KINDS:
        r.fail(
            profile,
            "kind",
            f"{where}.profile.kind",
            f"unknown profile {kind!r}",
            choices(kind, PROFILE_KINDS),
        )
    fields = PROFILE_FIELDS[kind]
    r.keys(profile, f"{where}.profile", ("kind", *fields))
    for k, v in profile.items():
        if k != "kind" and (not isinstance(v, int | float) or isinstance(v, bool)):
            r.fail(
                profile,
                k,
                f"{where}.profile.{k}",
                f"must be a number, got {v!r}",
                "write a plain number",
            )
    modes = {m.name for m in spec.modes}
    degs = []
    for j, d in enumerate(r.get(item, "degradation", where, LinedList, LinedList())):
        dw = f"{where}.degradation[{j}]"
        r.keys(d, dw, ("mode", "onset_h", "life_h"))
        mode = r.need(d, "mode", dw, str)
        if mode not in modes:
            r.fail(
                d,
                "mode",
                f"{dw}.mode",
                f"type {type_name!r} has no mode {mode!r}",
                choices(mode, modes),
            )
        degs.append(
            DegradationSpec(mode, r.span(d, "onset_h", dw), r.span(d, "life_h", dw, positive=True))
        )
    return AssetSpec(
        id=r.slug(item, "id", where),
        type=type_name,
        name=str(r.get(item, "name", where, str, "")),
        area=r.slug(item, "area", where),
        line=r.slug(item, "line", where, default=None),
        protocol=protocol,
        params={k: float(v) for k, v in params.items()},
        profile=(kind, {k: float(v) for k, v in profile.items() if k != "kind"}),
        degradation=tuple(degs),
    )
