"""Asset-type catalogue, process equipment: grinding mill, gas compressor, transformer."""

from __future__ import annotations

from .specs import VIB, AssetTypeSpec, Mode, Setpoint, Signal

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
            "vibration", "mm/s", "vibration", "Pinion bearing vibration (RMS)", (0, 50), VIB, 0.05
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
            "vibration", "mm/s", "vibration", "Bearing housing vibration (RMS)", (0, 50), VIB, 0.05
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


PIPELINE = AssetTypeSpec(
    name="pipeline",
    description="Liquid pipeline segment with inlet/outlet metering (leak detection by mass balance)",
    signals=(
        Signal("inlet_flow", "m3/h", "flow", "Flow metered at the inlet", (0, 5000), {}, 0.5),
        Signal("outlet_flow", "m3/h", "flow", "Flow metered at the outlet", (0, 5000), {}, 0.5),
        Signal(
            "inlet_pressure",
            "bar",
            "pressure",
            "Inlet pressure (gauge)",
            (0, 150),
            {"hi": 45.0, "hi_hi": 60.0},
            0.05,
        ),
        Signal(
            "outlet_pressure",
            "bar",
            "pressure",
            "Outlet (delivery) pressure (gauge)",
            (0, 150),
            {},
            0.05,
        ),
        Signal(
            "imbalance",
            "%",
            "other",
            "Volume balance (inlet - outlet) / inlet, computed by the RTU",
            (-100, 100),
            {"hi": 2.0, "hi_hi": 5.0},
            0.2,
        ),
        Signal("running", "state", "state", "1 when flowing, 0 when shut in", (0, 1), {}, 0.0),
    ),
    setpoints=(
        Setpoint(
            "outlet_pressure_setpoint", "bar", 5.0, 40.0, 20.0, "Delivery pressure control", 5.0
        ),
    ),
    modes=(
        Mode(
            "corrosion_leak",
            "Internal corrosion opens a growing leak",
            ("imbalance", "outlet_flow"),
        ),
        Mode(
            "wax_buildup", "Wax deposits narrow the bore: friction loss climbs", ("inlet_pressure",)
        ),
    ),
)
