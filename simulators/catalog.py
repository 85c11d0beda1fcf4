"""Asset-type catalogue of the simulator: signals, limits, setpoints, commands (data, not code).

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
_VIB = dict(hi=4.5, hi_hi=7.1)
_BRG = dict(hi=85.0, hi_hi=95.0)

PUMP = AssetTypeSpec(
    name="centrifugal_pump",
    description="Centrifugal pump on a variable-speed drive, pumping into a system curve",
    signals=(
        Signal("flow", "m3/h", "flow", "Volumetric flow at the discharge", (0, 2000), {}, 0.5),
        Signal(
            "suction_pressure", "bar", "pressure", "Suction pressure (gauge)", (-1, 10), {}, 0.005
        ),
        Signal(
            "discharge_pressure",
            "bar",
            "pressure",
            "Discharge pressure (gauge)",
            (-1, 40),
            {},
            0.02,
        ),
        Signal("speed", "rpm", "speed", "Shaft speed", (0, 3600), {}, 1.0),
        Signal(
            "shaft_power", "kW", "power", "Shaft power delivered to the pump", (0, 2000), {}, 0.2
        ),
        Signal("efficiency", "%", "other", "Hydraulic efficiency", (0, 100), {"lo": 55.0}, 0.2),
        Signal(
            "bearing_temp",
            "degC",
            "temperature",
            "Drive-end bearing temperature",
            (-20, 150),
            _BRG,
            0.1,
        ),
        Signal(
            "vibration",
            "mm/s",
            "vibration",
            "Bearing housing vibration velocity RMS",
            (0, 50),
            _VIB,
            0.05,
        ),
        Signal("running", "state", "state", "1 when running, 0 when stopped", (0, 1), {}, 0.0),
    ),
    setpoints=(
        Setpoint("speed_setpoint", "rpm", 0.0, 1800.0, 1480.0, "Drive speed reference", 300.0),
        Setpoint("valve_setpoint", "%", 5.0, 100.0, 80.0, "Discharge valve opening", 20.0),
    ),
    modes=(
        Mode(
            "bearing_wear",
            "Rolling-bearing wear: vibration and temperature rise",
            ("vibration", "bearing_temp"),
        ),
        Mode(
            "impeller_wear",
            "Impeller/wear-ring erosion: head, flow and efficiency fall",
            ("discharge_pressure", "flow", "efficiency"),
        ),
    ),
)

MOTOR = AssetTypeSpec(
    name="induction_motor",
    description="Three-phase induction motor driving a variable mechanical load",
    signals=(
        Signal("current", "A", "current", "Line current RMS", (0, 2000), {}, 0.3),
        Signal("voltage", "V", "voltage", "Line-to-line voltage RMS", (0, 1000), {}, 1.0),
        Signal("power", "kW", "power", "Electrical input power", (0, 2000), {}, 0.2),
        Signal("power_factor", "1", "other", "Displacement power factor", (0, 1), {}, 0.003),
        Signal("speed", "rpm", "speed", "Rotor speed", (0, 3600), {}, 0.5),
        Signal("load", "%", "other", "Mechanical load relative to rating", (0, 150), {}, 0.2),
        Signal(
            "winding_temp",
            "degC",
            "temperature",
            "Stator winding temperature (RTD)",
            (-20, 200),
            {"hi": 130.0, "hi_hi": 145.0},
            0.2,
        ),
        Signal(
            "bearing_temp",
            "degC",
            "temperature",
            "Drive-end bearing temperature",
            (-20, 150),
            _BRG,
            0.1,
        ),
        Signal(
            "vibration",
            "mm/s",
            "vibration",
            "Bearing housing vibration velocity RMS",
            (0, 50),
            _VIB,
            0.05,
        ),
        Signal("running", "state", "state", "1 when running, 0 when stopped", (0, 1), {}, 0.0),
    ),
    setpoints=(),
    modes=(
        Mode(
            "bearing_wear",
            "Rolling-bearing wear: vibration and temperature rise",
            ("vibration", "bearing_temp"),
        ),
        Mode(
            "cooling_fouling",
            "Fan/fin fouling: thermal resistance rises, winding runs hot",
            ("winding_temp",),
        ),
    ),
)

TYPES: dict[str, AssetTypeSpec] = {t.name: t for t in (PUMP, MOTOR)}
