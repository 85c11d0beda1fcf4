"""The model alarm rule: health below a level for N windows raises; recovery needs hysteresis.

ISA-18.2 style: ``raise_below`` with a persistence of ``persist`` consecutive windows (so one
odd window never alarms), cleared only after ``clear_after`` consecutive windows above the
higher ``clear_above`` (so an alarm does not chatter around its limit). Windows with no health
(NaN: asset stopped, data missing) hold the state and reset neither counter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class AlarmRule:
    """Streaming alarm state machine over one asset's health, one window at a time.

    Examples
    --------
    >>> rule = AlarmRule(raise_below=50, persist=2, clear_above=70, clear_after=2)
    >>> [rule.update(h) for h in [40, 90, 40, 40, 60, 80, 80]]
    [False, False, False, True, True, True, False]
    """

    raise_below: float = 50.0
    persist: int = 3
    clear_above: float = 70.0
    clear_after: int = 6
    active: bool = False
    _low: int = field(default=0, repr=False)
    _high: int = field(default=0, repr=False)

    def update(self, health: float) -> bool:
        """Feed one window's health; return whether the alarm is active after it."""
        if not np.isfinite(health):
            return self.active
        self._low = self._low + 1 if health < self.raise_below else 0
        self._high = self._high + 1 if health > self.clear_above else 0
        if not self.active and self._low >= self.persist:
            self.active, self._high = True, 0
        elif self.active and self._high >= self.clear_after:
            self.active, self._low = False, 0
        return self.active

    def state(self) -> dict:
        """Plain-data state, so the edge keeps it across restarts."""
        return {"active": self.active, "low": self._low, "high": self._high}

    def restore(self, state: dict) -> AlarmRule:
        """Continue from :meth:`state`'s output."""
        self.active, self._low, self._high = bool(state["active"]), state["low"], state["high"]
        return self

    def params(self) -> dict:
        """The rule's limits (JSON-safe)."""
        return {
            "raise_below": self.raise_below,
            "persist": self.persist,
            "clear_above": self.clear_above,
            "clear_after": self.clear_after,
        }


def run_alarm(health: np.ndarray, **params: float) -> np.ndarray:
    """Alarm state after each window of a health series (a fresh rule; evaluation helper)."""
    rule = AlarmRule(**params)  # type: ignore[arg-type]
    # Sequential by nature (a state machine over windows), once per window per asset.
    return np.fromiter((rule.update(float(h)) for h in health), bool, len(health))
