"""One asset's health model: window means → physics residuals + features → health → alarm.

Input is the sequence of an asset's window means, ``(n_windows, n_signals)`` in the order of
``signals`` (what the edge's window stage produces). A window counts only when the asset ran
through it and the ``settle`` windows before it (a machine restarting from cold is not a
degraded one); other windows get NaN health and hold the alarm state.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> n = rng.uniform(850, 900, 400); q = rng.uniform(1800, 2400, 400)
>>> M = np.c_[q, n, n**3 * (1 + 0.2 * q / n) * 1e-7, 60 + rng.normal(0, .3, 400), np.ones(400)]
>>> m = AssetHealth("centrifugal_pump", ["flow", "speed", "shaft_power", "bearing_temp",
...                 "running"]).fit(M)
>>> m.features_[-2:]
['affinity_power', 'bearing_thermal']
>>> bad = M[-5:].copy(); bad[:, 2] *= 1.3
>>> bool(m.health(M[-5:]).min() > 50), bool(m.health(bad)[-1] < 50)
(True, True)
"""

from __future__ import annotations

import numpy as np

from egiz.models.features.residuals import PhysicsResiduals
from egiz.models.health.alarm import AlarmRule
from egiz.models.health.index import HealthIndex

#: Signals that describe the machine's state, not its condition (never features).
STATE_SIGNALS = ("running",)


class AssetHealth:
    """Health index of one asset from its window means, with explanations and an alarm rule.

    Parameters
    ----------
    asset_type : str
        Asset type (selects the physics relations).
    signals : list of str
        Column names of the window-mean matrices.
    index_params : dict, optional
        :class:`HealthIndex` hyperparameters.
    alarm_params : dict, optional
        :class:`AlarmRule` limits.
    settle : int
        Windows after a stop that are not scored.
    """

    def __init__(
        self,
        asset_type: str,
        signals: list[str],
        index_params: dict | None = None,
        alarm_params: dict | None = None,
        settle: int = 2,
    ) -> None:
        self.asset_type = asset_type
        self.signals = list(signals)
        self.index_params = dict(index_params or {})
        self.alarm_params = dict(alarm_params or {})
        self.settle = settle

    def usable(self, M: np.ndarray) -> np.ndarray:
        """Windows the asset ran through, and ran through the ``settle`` windows before."""
        M = np.asarray(M, dtype=float)
        if "running" not in self.signals:
            return np.ones(M.shape[0], bool)
        ran = np.nan_to_num(M[:, self.signals.index("running")], nan=0.0) >= 0.999
        stopped = np.flatnonzero(~ran)
        if stopped.size == 0:
            return ran
        # Distance to the last stop at or before each window (vectorized, no loop).
        idx = np.searchsorted(stopped, np.arange(M.shape[0]), side="right") - 1
        since = np.where(idx >= 0, np.arange(M.shape[0]) - stopped[np.maximum(idx, 0)], 10**9)
        return ran & (since > self.settle)

    def _features(self, M: np.ndarray, lag: np.ndarray | None = None) -> np.ndarray:
        keep = [i for i, s in enumerate(self.signals) if s not in STATE_SIGNALS]
        return np.c_[M[:, keep], self.residuals_.transform(M, lag)]

    def fit(self, M: np.ndarray, healthy: np.ndarray | None = None) -> AssetHealth:
        """Fit relations and the health index on the usable windows where ``healthy``."""
        M = np.asarray(M, dtype=float)
        ok = self.usable(M) & (True if healthy is None else np.asarray(healthy, bool))
        self.residuals_ = PhysicsResiduals(self.asset_type, self.signals).fit(M, ok)
        self.features_ = [f"{s}.mean" for s in self.signals if s not in STATE_SIGNALS]
        self.features_ += self.residuals_.names_
        F = self._features(M)
        ok &= np.isfinite(F).all(axis=1)
        if ok.sum() < 2 * F.shape[1]:
            raise ValueError(
                f"{ok.sum()} healthy windows for {F.shape[1]} features (fix: a longer baseline)"
            )
        self.index_ = HealthIndex(**self.index_params).fit(F[ok])
        return self

    def scored(self, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mask of scored windows, their feature rows) for a sequence of window means."""
        F = self._features(np.asarray(M, dtype=float))
        ok = self.usable(M) & np.isfinite(F).all(axis=1)
        return ok, F[ok]

    def health(self, M: np.ndarray) -> np.ndarray:
        """Health 0–100 per window; NaN where the window is not scored."""
        ok, F = self.scored(M)
        out = np.full(ok.shape, np.nan)
        if F.shape[0]:
            out[ok] = self.index_.health(F)
        return out

    def explain(self, M: np.ndarray, top: int = 3) -> list[list[dict]]:
        """Per scored window, the features that moved health most (see HealthIndex.explain)."""
        _, F = self.scored(M)
        return self.index_.explain(F, self.features_, top) if F.shape[0] else []

    def alarms(self, M: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(health, alarm active) per window, the alarm rule run over the whole sequence."""
        from egiz.models.health.alarm import run_alarm

        h = self.health(M)
        return h, run_alarm(h, **self.alarm_params)

    def runner(self) -> HealthRunner:
        """A streaming scorer (one window at a time) with this model's state."""
        return HealthRunner(self)


class HealthRunner:
    """Scores one window at a time, as the edge does; equals :meth:`AssetHealth.health`."""

    def __init__(self, model: AssetHealth) -> None:
        self.model = model
        self.rule = AlarmRule(**model.alarm_params)
        self.lag = None  # thermal lag state of the residual relations
        self.recent: list[np.ndarray] = []  # last `smoothing` scored feature rows
        self.prev: list[np.ndarray] = []  # last `settle` + 1 windows, for `usable`

    def update(self, means: np.ndarray, top: int = 3) -> dict:
        """Feed one window's means; return health (None if not scored), alarm and explanation."""
        m = self.model
        row = np.asarray(means, dtype=float)[None, :]
        f = m._features(row, self.lag)
        self.lag = m.residuals_.lag_state(row, self.lag)
        self.prev = [*self.prev, row[0]][-(m.settle + 1) :]
        # A window is usable when it and the settle windows before it all ran (as in batch).
        ok = bool(m.usable(np.asarray(self.prev))[-1]) and bool(np.isfinite(f).all())
        health, why = None, []
        if ok:
            self.recent = [*self.recent, f[0]][-max(1, m.index_.smoothing) :]
            stack = np.asarray(self.recent)
            health = float(m.index_.health(stack)[-1])
            why = m.index_.explain(stack, m.features_, top)[-1]
        alarm = self.rule.update(np.nan if health is None else health)
        return {"health": health, "alarm": alarm, "explain": why}

    def state(self) -> dict:
        """Plain-data (JSON-safe) runner state, so the edge resumes exactly after a restart."""
        return {
            "lag": None if self.lag is None else [float(v) for v in self.lag],
            "recent": [r.tolist() for r in self.recent],
            "prev": [r.tolist() for r in self.prev],
            "rule": self.rule.state(),
        }

    def restore(self, state: dict) -> HealthRunner:
        """Continue from :meth:`state`'s output."""
        self.lag = None if state["lag"] is None else np.asarray(state["lag"], dtype=float)
        self.recent = [np.asarray(r, dtype=float) for r in state["recent"]]
        self.prev = [np.asarray(r, dtype=float) for r in state["prev"]]
        self.rule.restore(state["rule"])
        return self
