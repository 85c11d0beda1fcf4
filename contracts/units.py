"""Engineering units: the catalogue of units Egiz understands and how to convert between them.

A unit is ``value_si = value * scale + offset`` within a dimension. Conversions are exact
affine maps so a whole numpy array converts with one multiply-add.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Unit:
    """One engineering unit: its dimension and its affine map to that dimension's base."""

    symbol: str
    dimension: str
    scale: float
    offset: float = 0.0


_UNITS = (
    Unit("degC", "temperature", 1.0, 0.0),
    Unit("K", "temperature", 1.0, -273.15),
    Unit("degF", "temperature", 5.0 / 9.0, -32.0 * 5.0 / 9.0),
    Unit("bar", "pressure", 1.0),
    Unit("kPa", "pressure", 0.01),
    Unit("Pa", "pressure", 1e-5),
    Unit("MPa", "pressure", 10.0),
    Unit("psi", "pressure", 0.0689475729),
    Unit("m3/h", "flow", 1.0),
    Unit("L/s", "flow", 3.6),
    Unit("L/min", "flow", 0.06),
    Unit("gpm", "flow", 0.227124707),
    Unit("t/h", "mass_flow", 1.0),
    Unit("kg/s", "mass_flow", 3.6),
    Unit("kW", "power", 1.0),
    Unit("W", "power", 1e-3),
    Unit("MW", "power", 1e3),
    Unit("hp", "power", 0.745699872),
    Unit("A", "current", 1.0),
    Unit("kA", "current", 1e3),
    Unit("V", "voltage", 1.0),
    Unit("kV", "voltage", 1e3),
    Unit("mm/s", "velocity_vib", 1.0),
    Unit("in/s", "velocity_vib", 25.4),
    Unit("g", "acceleration", 1.0),
    Unit("m/s2", "acceleration", 1.0 / 9.80665),
    Unit("rpm", "speed", 1.0),
    Unit("Hz", "frequency", 1.0),
    Unit("m/s", "linear_speed", 1.0),
    Unit("m", "length", 1.0),
    Unit("mm", "length", 1e-3),
    Unit("%", "ratio", 1.0),
    Unit("1", "ratio", 100.0),
    Unit("h", "duration", 1.0),
    Unit("s", "duration", 1.0 / 3600.0),
    Unit("kVA", "apparent_power", 1.0),
    Unit("MVA", "apparent_power", 1e3),
    Unit("state", "state", 1.0),
)

UNITS: dict[str, Unit] = {u.symbol: u for u in _UNITS}


def known_units() -> list[str]:
    """Return every unit symbol Egiz can convert, sorted."""
    return sorted(UNITS)


def conversion(from_unit: str, to_unit: str) -> tuple[float, float]:
    """Return ``(scale, offset)`` so that ``value_to = value_from * scale + offset``.

    Raises KeyError for an unknown unit and ValueError when the dimensions differ.
    """
    src, dst = UNITS[from_unit], UNITS[to_unit]
    if src.dimension != dst.dimension:
        raise ValueError(
            f"unit {from_unit!r} ({src.dimension}) is not convertible to "
            f"{to_unit!r} ({dst.dimension})"
        )
    # to base: v*s1 + o1; from base: (b - o2)/s2
    scale = src.scale / dst.scale
    offset = (src.offset - dst.offset) / dst.scale
    return scale, offset
