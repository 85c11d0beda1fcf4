"""The digital master: asset types (the catalogue) and assets (the instances on a site)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, model_validator

from .base import Contract
from .ids import Name, Slug
from .units import UNITS


class SignalKind(StrEnum):
    """What a signal measures; drives default features and dashboard grouping."""

    temperature = "temperature"
    pressure = "pressure"
    flow = "flow"
    vibration = "vibration"
    current = "current"
    voltage = "voltage"
    power = "power"
    speed = "speed"
    level = "level"
    position = "position"
    state = "state"
    other = "other"


class Severity(StrEnum):
    """Alarm and event severity, lowest first."""

    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


class AlarmLimits(Contract):
    """ISA-18.2 style limits on one signal, with deadband and on/off delays."""

    lo_lo: float | None = None
    lo: float | None = None
    hi: float | None = None
    hi_hi: float | None = None
    deadband: float = Field(0.0, ge=0, description="hysteresis before an alarm clears")
    on_delay_s: float = Field(0.0, ge=0, description="condition must hold this long to raise")
    off_delay_s: float = Field(0.0, ge=0, description="condition must be gone this long to clear")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        values = [v for v in (self.lo_lo, self.lo, self.hi, self.hi_hi) if v is not None]
        if values != sorted(values):
            raise ValueError("limits must be ordered lo_lo <= lo <= hi <= hi_hi")
        return self


class SignalSpec(Contract):
    """One signal of an asset type: its canonical unit, valid range and alarm limits."""

    name: Name = Field(description="snake_case signal name")
    unit: str = Field(description="canonical unit; sources are converted to it")
    kind: SignalKind = Field(SignalKind.other, description="what it measures")
    description: str = ""
    range: tuple[float, float] | None = Field(
        None, description="physically valid range; values outside are flagged, never dropped"
    )
    limits: AlarmLimits | None = None
    nominal_rate_hz: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _known_unit(self) -> Self:
        if self.unit not in UNITS:
            raise ValueError(f"unknown unit {self.unit!r}; known: {', '.join(sorted(UNITS))}")
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError("range must be [low, high] with low <= high")
        return self


class SetpointSpec(Contract):
    """A writable setpoint with the limits every command is checked against."""

    name: Name
    unit: str
    min: float
    max: float
    max_step: float | None = Field(None, gt=0, description="largest change in one command")
    max_rate: float | None = Field(
        None, gt=0, description="largest change per second since the last executed command"
    )
    description: str = ""

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min > self.max:
            raise ValueError("setpoint min must be <= max")
        return self


class CommandSpec(Contract):
    """A method an asset type exposes (start, stop, reset, ...)."""

    name: Name
    critical: bool = Field(False, description="needs a second person's approval")
    description: str = ""


class FailureMode(Contract):
    """A way the asset type fails and the signals that show it."""

    name: Name
    description: str = ""
    signals: tuple[Name, ...] = ()


class AssetType(Contract):
    """A catalogue entry of the digital master: what every asset of this type has."""

    name: Name = Field(description="snake_case type name, e.g. centrifugal_pump")
    description: str = ""
    signals: tuple[SignalSpec, ...] = Field(description="what every asset of the type measures")
    setpoints: tuple[SetpointSpec, ...] = ()
    commands: tuple[CommandSpec, ...] = ()
    failure_modes: tuple[FailureMode, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        for label, items in (
            ("signals", self.signals),
            ("setpoints", self.setpoints),
            ("commands", self.commands),
        ):
            names = [i.name for i in items]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"duplicate {label}: {', '.join(dupes)}")
        return self

    def signal(self, name: str) -> SignalSpec:
        """Return the spec of signal ``name``; KeyError if the type has none."""
        for spec in self.signals:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def setpoint(self, name: str) -> SetpointSpec:
        """Return the spec of setpoint ``name``; KeyError if the type has none."""
        for spec in self.setpoints:
            if spec.name == name:
                return spec
        raise KeyError(name)


class Asset(Contract):
    """One asset on a site, placed in the ISA-95 tree site/area/[line/]asset."""

    id: Slug = Field(description="unique within the site; [a-z0-9-]")
    type: Name = Field(description="name of its asset type")
    name: str = Field("", description="human-readable name")
    area: Slug = Field(description="ISA-95 area")
    line: Slug | None = Field(None, description="ISA-95 line, when the area has lines")
    attributes: dict[str, str | float | int | bool] = Field(default_factory=dict)

    def path(self, enterprise: str, site: str) -> tuple[str, ...]:
        """Return the ISA-95 path of this asset, line omitted when it has none."""
        parts = [enterprise, site, self.area]
        if self.line:
            parts.append(self.line)
        parts.append(self.id)
        return tuple(parts)


AssetTypes = Annotated[tuple[AssetType, ...], Field(description="asset type catalogue")]
