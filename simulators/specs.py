"""The shapes of the simulator's asset-type catalogue: signals, setpoints, modes, types.

Deliberately independent of ``egiz.contracts`` (the plant must not share code with the twin);
:func:`egiz.simulators.siteconfig.site_config` renders these tables into the edge's shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Signal:
    """One measured signal: unit symbol, kind, valid range, ISA-18.2 limits, noise sigma."""

    name: str
    unit: str
    kind: str
    description: str
    range: tuple[float, float]
    limits: dict[str, float] = field(default_factory=dict)
    noise: float = 0.0


@dataclass(frozen=True, slots=True)
class Setpoint:
    """A writable setpoint; writes are clamped to [min, max]."""

    name: str
    unit: str
    min: float
    max: float
    default: float
    description: str
    max_step: float | None = None


@dataclass(frozen=True, slots=True)
class Mode:
    """A degradation mode (progresses to failure) and the signals that show it."""

    name: str
    description: str
    signals: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AssetTypeSpec:
    """Everything the outside world sees of one simulated asset type."""

    name: str
    description: str
    signals: tuple[Signal, ...]
    setpoints: tuple[Setpoint, ...]
    modes: tuple[Mode, ...]
    commands: tuple[str, ...] = ("start", "stop", "reset")

    def signal_names(self) -> tuple[str, ...]:
        """Return the signal names in serving order."""
        return tuple(s.name for s in self.signals)


# Vibration limits follow ISO 10816-3 group 2 (15-300 kW, flexible mounting): zone B/C
# boundary 4.5 mm/s (alarm), C/D 7.1 mm/s (trip). Bearing temperature limits follow common
# rolling-bearing practice (alarm 85 degC, trip 95 degC).
VIB = dict(hi=4.5, hi_hi=7.1)
BRG = dict(hi=85.0, hi_hi=95.0)
