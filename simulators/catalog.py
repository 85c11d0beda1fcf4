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
        Signal("flow", "m3/h", "flow", "Volumetric flow at the discharge", (0, 10000), {}, 0.5),
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
            "shaft_power", "kW", "power", "Shaft power delivered to the pump", (0, 5000), {}, 0.2
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
        Signal(
            "npsh_margin",
            "m",
            "other",
            "NPSH available minus NPSH required (below 0 the pump cavitates)",
            (-20, 50),
            {"lo_lo": 0.5, "lo": 1.5},
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
        Signal("current", "A", "current", "Line current RMS", (0, 5000), {}, 0.3),
        Signal("voltage", "V", "voltage", "Line-to-line voltage RMS", (0, 15000), {}, 1.0),
        Signal("power", "kW", "power", "Electrical input power", (0, 20000), {}, 0.2),
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


CONVEYOR = AssetTypeSpec(
    name="belt_conveyor",
    description="Troughed belt conveyor with its drive, per ISO 5048 / DIN 22101 resistances",
    signals=(
        Signal("belt_speed", "m/s", "speed", "Belt speed", (0, 10), {}, 0.01),
        Signal(
            "feed_rate", "t/h", "flow", "Material on the belt (belt scale)", (0, 10000), {}, 2.0
        ),
        Signal("power", "kW", "power", "Drive electrical power", (0, 5000), {}, 0.5),
        Signal("motor_current", "A", "current", "Drive motor current", (0, 5000), {}, 0.5),
        Signal(
            "drive_bearing_temp",
            "degC",
            "temperature",
            "Drive pulley bearing temperature",
            (-20, 150),
            _BRG,
            0.1,
        ),
        Signal(
            "idler_vibration",
            "mm/s",
            "vibration",
            "Carry-side idler set vibration (RMS)",
            (0, 50),
            _VIB,
            0.05,
        ),
        Signal(
            "belt_offset",
            "mm",
            "position",
            "Belt tracking offset from centre",
            (-200, 200),
            {"lo_lo": -75.0, "lo": -50.0, "hi": 50.0, "hi_hi": 75.0},
            1.0,
        ),
        Signal("running", "state", "state", "1 when running, 0 when stopped", (0, 1), {}, 0.0),
    ),
    setpoints=(
        Setpoint("speed_setpoint", "m/s", 0.5, 5.0, 3.5, "Belt speed reference (VSD)", 1.0),
    ),
    modes=(
        Mode(
            "idler_bearing_wear",
            "Idler bearings seize: rolling resistance and vibration rise",
            ("idler_vibration", "power", "motor_current"),
        ),
        Mode(
            "belt_misalignment",
            "Frame/pulley misalignment: the belt tracks off centre",
            ("belt_offset",),
        ),
    ),
)

MILL = AssetTypeSpec(
    name="grinding_mill",
    description="Trunnion-supported SAG/ball mill with its lubrication system",
    signals=(
        Signal("feed_rate", "t/h", "flow", "Fresh feed rate", (0, 10000), {}, 2.0),
        Signal(
            "charge_level",
            "%",
            "level",
            "Mill filling (charge volume fraction)",
            (0, 60),
            {"hi": 42.0, "hi_hi": 45.0},
            0.2,
        ),
        Signal("power", "kW", "power", "Mill motor power draw", (0, 30000), {}, 10.0),
        Signal("speed", "rpm", "speed", "Mill speed", (0, 30), {}, 0.02),
        Signal(
            "trunnion_temp_feed",
            "degC",
            "temperature",
            "Feed-end trunnion bearing temperature",
            (-20, 150),
            {"hi": 70.0, "hi_hi": 80.0},
            0.1,
        ),
        Signal(
            "trunnion_temp_discharge",
            "degC",
            "temperature",
            "Discharge-end trunnion bearing temperature",
            (-20, 150),
            {"hi": 70.0, "hi_hi": 80.0},
            0.1,
        ),
        Signal(
            "lube_pressure",
            "bar",
            "pressure",
            "Trunnion lube oil supply pressure",
            (0, 200),
            {"lo_lo": 30.0, "lo": 40.0},
            0.3,
        ),
        Signal(
            "vibration", "mm/s", "vibration", "Pinion bearing vibration (RMS)", (0, 50), _VIB, 0.05
        ),
        Signal("running", "state", "state", "1 when running, 0 when stopped", (0, 1), {}, 0.0),
    ),
    setpoints=(
        Setpoint("feed_setpoint", "t/h", 0.0, 3000.0, 1200.0, "Fresh feed rate reference", 300.0),
    ),
    modes=(
        Mode(
            "trunnion_bearing_wear",
            "Babbitt wear of a trunnion bearing: its temperature climbs",
            ("trunnion_temp_feed",),
        ),
        Mode(
            "lube_pump_wear",
            "Lube pump wear: supply pressure falls, both trunnions run hotter",
            ("lube_pressure", "trunnion_temp_feed", "trunnion_temp_discharge"),
        ),
    ),
)

COMPRESSOR = AssetTypeSpec(
    name="compressor",
    description="Centrifugal gas compressor on a variable-speed drive, pressure-controlled",
    signals=(
        Signal(
            "suction_pressure", "bar", "pressure", "Suction pressure (absolute)", (0, 100), {}, 0.01
        ),
        Signal(
            "discharge_pressure",
            "bar",
            "pressure",
            "Discharge pressure (absolute)",
            (0, 300),
            {},
            0.03,
        ),
        Signal(
            "suction_temp", "degC", "temperature", "Suction gas temperature", (-40, 100), {}, 0.1
        ),
        Signal(
            "discharge_temp",
            "degC",
            "temperature",
            "Discharge gas temperature",
            (-40, 300),
            {"hi": 135.0, "hi_hi": 150.0},
            0.2,
        ),
        Signal("flow", "m3/h", "flow", "Actual suction volume flow", (0, 100000), {}, 10.0),
        Signal("speed", "rpm", "speed", "Shaft speed", (0, 20000), {}, 2.0),
        Signal("power", "kW", "power", "Shaft power", (0, 50000), {}, 2.0),
        Signal(
            "surge_margin",
            "%",
            "other",
            "Distance of the flow from the surge line",
            (-50, 100),
            {"lo_lo": 5.0, "lo": 10.0},
            0.2,
        ),
        Signal(
            "vibration", "mm/s", "vibration", "Bearing housing vibration (RMS)", (0, 50), _VIB, 0.05
        ),
        Signal("running", "state", "state", "1 when running, 0 when stopped", (0, 1), {}, 0.0),
    ),
    setpoints=(
        Setpoint(
            "pressure_setpoint",
            "bar",
            25.0,
            60.0,
            45.0,
            "Discharge pressure reference (absolute)",
            10.0,
        ),
    ),
    modes=(
        Mode(
            "fouling",
            "Impeller/diffuser fouling: efficiency falls, discharge runs hot",
            ("discharge_temp", "power"),
        ),
        Mode("bearing_wear", "Bearing wear: vibration rises", ("vibration",)),
    ),
)

TRANSFORMER = AssetTypeSpec(
    name="transformer",
    description="Oil-immersed power transformer (ONAN/ONAF), thermal model per IEEE C57.91",
    signals=(
        Signal(
            "load",
            "%",
            "other",
            "Load current relative to rating (K x 100)",
            (0, 200),
            {"hi": 110.0},
            0.2,
        ),
        Signal("load_current", "A", "current", "Secondary line current", (0, 10000), {}, 1.0),
        Signal(
            "ambient_temp", "degC", "temperature", "Ambient air temperature", (-50, 60), {}, 0.1
        ),
        Signal(
            "top_oil_temp",
            "degC",
            "temperature",
            "Top-oil temperature",
            (-50, 200),
            {"hi": 95.0, "hi_hi": 105.0},
            0.1,
        ),
        Signal(
            "hot_spot_temp",
            "degC",
            "temperature",
            "Winding hot-spot temperature (calculated/fibre)",
            (-50, 250),
            {"hi": 120.0, "hi_hi": 140.0},
            0.2,
        ),
        Signal(
            "ageing_factor",
            "1",
            "other",
            "Ageing acceleration factor F_AA (IEEE C57.91 eq. 2)",
            (0, 1000),
            {},
            0.0,
        ),
        Signal(
            "oil_moisture",
            "%",
            "other",
            "Relative saturation of water in oil",
            (0, 100),
            {"hi": 30.0, "hi_hi": 45.0},
            0.2,
        ),
    ),
    setpoints=(),
    modes=(
        Mode(
            "cooling_degradation",
            "Radiator fouling / fan failure: oil runs hotter",
            ("top_oil_temp", "hot_spot_temp"),
        ),
        Mode("insulation_ageing", "Paper ageing releases water into the oil", ("oil_moisture",)),
    ),
    commands=("reset",),
)

ESP = AssetTypeSpec(
    name="esp",
    description="Electric submersible pump (multistage, VSD) lifting well fluid",
    signals=(
        Signal("frequency", "Hz", "speed", "Drive output frequency", (0, 80), {}, 0.02),
        Signal("flow", "m3/h", "flow", "Liquid rate at surface", (0, 1000), {"lo": 40.0}, 0.3),
        Signal(
            "intake_pressure",
            "bar",
            "pressure",
            "Pump intake pressure",
            (0, 400),
            {"lo": 20.0},
            0.1,
        ),
        Signal(
            "discharge_pressure", "bar", "pressure", "Pump discharge pressure", (0, 600), {}, 0.2
        ),
        Signal("motor_current", "A", "current", "Downhole motor current", (0, 500), {}, 0.3),
        Signal(
            "motor_temp",
            "degC",
            "temperature",
            "Downhole motor winding temperature",
            (0, 250),
            {"hi": 150.0, "hi_hi": 165.0},
            0.2,
        ),
        Signal(
            "vibration",
            "g",
            "vibration",
            "Pump vibration (acceleration RMS)",
            (0, 10),
            {"hi": 1.0, "hi_hi": 1.5},
            0.01,
        ),
        Signal("running", "state", "state", "1 when running, 0 when stopped", (0, 1), {}, 0.0),
    ),
    setpoints=(
        Setpoint("frequency_setpoint", "Hz", 30.0, 70.0, 55.0, "Drive frequency reference", 5.0),
    ),
    modes=(
        Mode(
            "stage_wear",
            "Sand erosion of the stages: head and rate fall, motor runs hotter",
            ("flow", "motor_temp"),
        ),
        Mode("bearing_wear", "Radial bearing wear: vibration rises", ("vibration",)),
    ),
)

TYPES.update({t.name: t for t in (CONVEYOR, MILL, COMPRESSOR, TRANSFORMER, ESP)})
