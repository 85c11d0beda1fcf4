"""Asset-type catalogue of the simulator (data, not code): rotating equipment here, process
equipment in :mod:`.catalog_process`; :data:`TYPES` holds them all by name.
"""

from __future__ import annotations

from .catalog_process import COMPRESSOR, MILL, PIPELINE, TRANSFORMER
from .specs import BRG, VIB, AssetTypeSpec, Mode, Setpoint, Signal

__all__ = [
    "COMPRESSOR",
    "CONVEYOR",
    "ESP",
    "MILL",
    "MOTOR",
    "PIPELINE",
    "PUMP",
    "TRANSFORMER",
    "TYPES",
    "AssetTypeSpec",
    "Mode",
    "Setpoint",
    "Signal",
]

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
            BRG,
            0.1,
        ),
        Signal(
            "vibration",
            "mm/s",
            "vibration",
            "Bearing housing vibration velocity RMS",
            (0, 50),
            VIB,
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
            BRG,
            0.1,
        ),
        Signal(
            "vibration",
            "mm/s",
            "vibration",
            "Bearing housing vibration velocity RMS",
            (0, 50),
            VIB,
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
            BRG,
            0.1,
        ),
        Signal(
            "idler_vibration",
            "mm/s",
            "vibration",
            "Carry-side idler set vibration (RMS)",
            (0, 50),
            VIB,
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


TYPES: dict[str, AssetTypeSpec] = {
    t.name: t for t in (PUMP, MOTOR, CONVEYOR, MILL, COMPRESSOR, TRANSFORMER, ESP, PIPELINE)
}
