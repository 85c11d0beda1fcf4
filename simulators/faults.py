"""Injected faults: the record of one active fault and how sensor faults corrupt a signal.

Machine faults act inside the physics (each asset group reads its ``fault`` arrays); sensor
faults only change what is served — the value and its status — never the physical state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: status codes of served values
GOOD, UNCERTAIN, BAD = 0, 1, 2
#: faults of a measurement, not of the machine
SENSOR_FAULTS = ("stuck", "drift", "spike", "dropout", "noise_burst", "bad_quality")


@dataclass
class Active:
    """One injected fault: what, where, since when (data time), until when, how strong."""

    kind: str  # "fault" or "sensor"
    name: str
    asset: str
    signal: str | None
    severity: float
    since: float
    until: float
    hold: float = 0.0  # the value a stuck sensor keeps reporting


def corrupt(
    a: Active,
    valid: tuple[float, float],
    times: np.ndarray,
    values: np.ndarray,
    status: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Apply sensor fault ``a`` in place to one signal's ``values``/``status`` at ``times``."""
    span = valid[1] - valid[0]
    on = times <= a.until
    if a.name == "stuck":
        values[on] = a.hold
    elif a.name == "drift":  # 2 % of span per hour at severity 1
        values += on * a.severity * 0.02 * span * (times - a.since) / 3600.0
    elif a.name == "spike":  # 2 % of samples, +-30 % of span
        hit = on & (rng.random(times.shape) < 0.02 * a.severity)
        values += hit * rng.choice([-1.0, 1.0], times.shape) * 0.3 * span
    elif a.name == "noise_burst":
        values += on * rng.standard_normal(times.shape) * (0.02 * span * a.severity)
    elif a.name == "dropout":
        values[on] = np.nan
        status[on] = BAD
    elif a.name == "bad_quality":
        status[on] = BAD if a.severity >= 1.0 else UNCERTAIN
