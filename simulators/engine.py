"""The simulation engine: every asset of a scenario advanced together, block by block.

One call to :meth:`Engine.advance` computes T steps for all assets (numpy, no per-sample
Python loop), adds measurement noise and returns a :class:`Block` of values on data time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from .catalog import TYPES
from .faults import SENSOR_FAULTS, Active, corrupt
from .physics.base import AssetGroup
from .physics.common import Degradation, profile_level
from .physics.compressor import CompressorGroup
from .physics.conveyor import ConveyorGroup
from .physics.esp import EspGroup
from .physics.mill import MillGroup
from .physics.motor import MotorGroup
from .physics.pipeline import PipelineGroup
from .physics.pump import PumpGroup
from .physics.transformer import TransformerGroup
from .scenario import Scenario

GROUPS: dict[str, type[AssetGroup]] = {
    g.SPEC.name: g
    for g in (
        PumpGroup,
        MotorGroup,
        ConveyorGroup,
        MillGroup,
        CompressorGroup,
        TransformerGroup,
        EspGroup,
        PipelineGroup,
    )
}

#: status codes in :attr:`Block.status`: GOOD, UNCERTAIN, BAD (from .faults)
STATUS_NAMES = ("good", "uncertain", "bad")
DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Block:
    """T steps of every signal: ``values[s, k]`` is signal s at ``times[k]`` (s since epoch)."""

    times: np.ndarray  # (T,) float64
    values: np.ndarray  # (S, T) float64; NaN = no value (dropout)
    status: np.ndarray  # (S, T) int8: GOOD, UNCERTAIN, BAD


def iso(t_s: float) -> str:
    """Format seconds since epoch as ISO-8601 UTC with milliseconds and 'Z'."""
    return datetime.fromtimestamp(round(t_s, 3), UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Engine:
    """Advance a scenario in simulated time; holds all physics and ground-truth state."""

    def __init__(
        self,
        scenario: Scenario,
        start: datetime | None = None,
        seed: int | None = None,
        repair_after_h: float | None = None,
    ) -> None:
        self.scenario = scenario
        self.rng = np.random.default_rng(scenario.seed if seed is None else seed)
        self.dt = scenario.step_s
        begin = start or scenario.start or DEFAULT_START
        self.t0 = self.t = math.floor(begin.timestamp() / self.dt) * self.dt
        self.groups: list[AssetGroup] = []
        self.where: dict[str, tuple[AssetGroup, int]] = {}
        self.signals: list[tuple[str, str]] = []
        self._noise: list[np.ndarray] = []
        self._lo: list[np.ndarray] = []
        self._hi: list[np.ndarray] = []
        self.active: list[Active] = []
        self._last: np.ndarray | None = None
        #: per-step truth of the last advance, rows in ``asset_ids`` order
        self.block_truth: dict[str, np.ndarray] = {}
        # Faults have their own random stream: adding one does not change the noise.
        self._fault_rng = np.random.default_rng([scenario.seed if seed is None else seed, 1])
        self._next_random = [
            self.t + self._fault_rng.exponential(86400.0 / f.rate_per_day)
            if f.rate_per_day
            else math.inf
            for f in scenario.faults
        ]
        self.events: list[dict] = []
        self._failures_seen: set[tuple[str, float]] = set()
        #: failed assets are repaired (Reset) this long after failing; None = stay failed
        self.repair_after_h = repair_after_h
        for type_name in dict.fromkeys(a.type for a in scenario.assets):
            specs = [a for a in scenario.assets if a.type == type_name]
            group = GROUPS[type_name](
                [a.id for a in specs], [a.params for a in specs], self._draw(specs)
            )
            self.groups.append(group)
            spec = TYPES[type_name]
            for i, a in enumerate(specs):
                self.where[a.id] = (group, i)
                self.signals += [(a.id, s.name) for s in spec.signals]
            self._noise.append(np.array([s.noise for s in spec.signals]))
            self._lo.append(np.array([s.range[0] for s in spec.signals]))
            self._hi.append(np.array([s.range[1] for s in spec.signals]))

    @property
    def asset_ids(self) -> list[str]:
        """Asset ids in engine (group) order: the row order of per-asset truth arrays."""
        return [a for g in self.groups for a in g.ids]

    def _draw(self, specs: list) -> Degradation:
        """Draw stochastic onset and life of every configured degradation mode."""
        modes = [m.name for m in TYPES[specs[0].type].modes]
        onset = np.full((len(specs), len(modes)), np.inf)
        life = np.ones((len(specs), len(modes)))
        for i, a in enumerate(specs):
            for d in a.degradation:
                j = modes.index(d.mode)
                onset[i, j] = self.rng.uniform(*d.onset_h)
                life[i, j] = self.rng.uniform(*d.life_h)
        return Degradation(onset, life)

    def advance(self, steps: int) -> Block:
        """Advance ``steps`` steps; return the values of every signal at each new step.

        The block is split at fault start and end times so faults begin and end exactly.
        """
        blocks, truths = [], []
        while steps > 0:
            self._expire()
            self._repair_due()
            self._operate()
            self._start_faults()
            gap = (self._next_event() - self.t) / self.dt
            n = steps if gap >= steps else max(1, math.ceil(gap))
            blocks.append(self._advance(n))
            truths.append(self._truth_block())
            self._note_failures()
            steps -= n
        if len(blocks) == 1:
            self.block_truth = truths[0]
            return blocks[0]
        self.block_truth = {k: np.concatenate([t[k] for t in truths], axis=1) for k in truths[0]}
        return Block(
            np.concatenate([b.times for b in blocks]),
            np.concatenate([b.values for b in blocks], axis=1),
            np.concatenate([b.status for b in blocks], axis=1),
        )

    def _truth_block(self) -> dict[str, np.ndarray]:
        return {
            k: np.concatenate([g.block_truth[k] for g in self.groups])
            for k in ("rul_h", "health_index", "state")
        }

    def _next_event(self) -> float:
        starts = [f.at_h * 3600.0 + self.t0 for f in self.scenario.faults if f.at_h is not None]
        later = [t for t in starts if t > self.t]
        ends = [a.until for a in self.active]
        ops = [op.next_s(self.t0, self.t) for op in self.scenario.operations]
        return min([math.inf, *later, *ends, *ops, *self._next_random, *self._repairs()])

    def _operate(self) -> None:
        """Run scheduled starts and stops that fall due at this step."""
        for op in self.scenario.operations:
            due = op.due_s(self.t0, self.t)
            if self.t - self.dt < due <= self.t:
                self.command(op.asset, op.action)
                self.events.append(
                    {
                        "asset": op.asset,
                        "mode": op.action,
                        "kind": "operation",
                        "onset": iso(self.t),
                    }
                )

    def _repairs(self) -> list[float]:
        if self.repair_after_h is None:
            return []
        wait = self.repair_after_h * 3600.0
        return [
            float(g.failure_ts[i]) + wait for g in self.groups for i in range(g.n) if g.failed[i]
        ]

    def _repair_due(self) -> None:
        if self.repair_after_h is None:
            return
        wait = self.repair_after_h * 3600.0
        for g in self.groups:
            for i in np.nonzero(g.failed & (g.failure_ts + wait <= self.t))[0]:
                self.command(g.ids[i], "reset")
                self.events.append(
                    {
                        "asset": g.ids[i],
                        "mode": "repair",
                        "kind": "maintenance",
                        "onset": iso(self.t),
                    }
                )

    def _note_failures(self) -> None:
        for g in self.groups:
            for i in np.nonzero(g.failed & ~np.isnan(g.failure_ts))[0]:
                key = (g.ids[i], float(g.failure_ts[i]))
                if key not in self._failures_seen:
                    self._failures_seen.add(key)
                    modes = [m.name for j, m in enumerate(g.SPEC.modes) if g.wear_now[i, j] >= 1.0]
                    self.events.append(
                        {
                            "asset": g.ids[i],
                            "mode": ",".join(modes),
                            "kind": "failure",
                            "onset": iso(key[1]),
                        }
                    )

    def _start_faults(self) -> None:
        for j, f in enumerate(self.scenario.faults):
            if f.at_h is not None:
                due = self.t0 + f.at_h * 3600.0
                if not (self.t - self.dt < due <= self.t) and not (
                    due <= self.t0 and self.t == self.t0
                ):
                    continue
            elif self._next_random[j] > self.t:
                continue
            else:
                self._next_random[j] = self.t + self._fault_rng.exponential(
                    86400.0 / f.rate_per_day
                )
            hours = self._fault_rng.uniform(*f.duration_h)
            span = max(1, round(hours * 3600.0 / self.dt)) * self.dt  # whole steps
            rec = self.inject(f.asset, f.fault, f.severity, f.signal, span)
            self.events.append({"asset": f.asset, **rec, "until": iso(self.t + span)})

    def _advance(self, steps: int) -> Block:
        times = self.t + self.dt * np.arange(1, steps + 1)
        parts = []
        for g, sigma, lo, hi in zip(self.groups, self._noise, self._lo, self._hi, strict=True):
            level = np.stack([profile_level(*self.scenario.asset(a).profile, times) for a in g.ids])
            out = g.advance(times, self.dt, level)
            names = g.SPEC.signal_names()
            vals = np.stack([out[n] for n in names], axis=1)  # (n, s, T)
            vals = vals + self.rng.standard_normal(vals.shape) * sigma[None, :, None]
            vals = np.clip(vals, lo[None, :, None], hi[None, :, None])
            parts.append(vals.reshape(-1, steps))
        self.t = float(times[-1])
        values = np.concatenate(parts, axis=0)
        status = np.zeros(values.shape, dtype=np.int8)
        self._sensor_faults(times, values, status)
        self._last = values[:, -1].copy()
        return Block(times, values, status)

    def inject(
        self,
        asset_id: str,
        fault: str,
        severity: float = 1.0,
        signal: str | None = None,
        duration_s: float | None = None,
    ) -> dict:
        """Inject a sudden fault (machine) or a sensor fault (needs ``signal``) from now on."""
        group, i = self._locate(asset_id)
        until = self.t + duration_s if duration_s else math.inf
        if fault in SENSOR_FAULTS:
            names = group.SPEC.signal_names()
            if signal not in names:
                raise KeyError(f"sensor fault {fault!r} needs --signal, one of {', '.join(names)}")
            row = self.signals.index((asset_id, signal))
            hold = float(self._last[row]) if self._last is not None else 0.0
            act = Active("sensor", fault, asset_id, signal, severity, self.t, until, hold)
        elif fault in group.FAULTS:
            group.fault[fault][i] = severity
            act = Active("fault", fault, asset_id, None, severity, self.t, until)
        else:
            known = ", ".join((*group.FAULTS, *SENSOR_FAULTS))
            raise KeyError(
                f"asset {asset_id!r} ({group.SPEC.name}) has no fault {fault!r}; use one of {known}"
            )
        self.active = [
            a for a in self.active if (a.name, a.asset, a.signal) != (fault, asset_id, signal)
        ]
        self.active.append(act)
        return self._describe(act)

    def clear(self, asset_id: str, fault: str | None = None) -> int:
        """Clear injected faults of an asset (all, or one by name); return how many."""
        gone = [a for a in self.active if a.asset == asset_id and fault in (None, a.name)]
        for a in gone:
            if a.kind == "fault":
                group, i = self._locate(a.asset)
                group.fault[a.name][i] = 0.0
        self.active = [a for a in self.active if a not in gone]
        return len(gone)

    def _expire(self) -> None:
        for a in [a for a in self.active if a.until <= self.t]:
            self.clear(a.asset, a.name)

    def _describe(self, a: Active) -> dict:
        out = {"mode": a.name, "kind": a.kind, "onset": iso(a.since), "severity": a.severity}
        if a.signal:
            out["signal"] = a.signal
        return out

    def _sensor_faults(self, times: np.ndarray, values: np.ndarray, status: np.ndarray) -> None:
        """Corrupt what the sensors report; the physics state is untouched."""
        for a in self.active:
            if a.kind == "sensor":
                group = self._locate(a.asset)[0]
                spec = next(s for s in TYPES[group.SPEC.name].signals if s.name == a.signal)
                row = self.signals.index((a.asset, a.signal))
                corrupt(a, spec.range, times, values[row], status[row], self.rng)

    def set_setpoint(self, asset_id: str, name: str, value: float) -> float:
        """Write a setpoint (clamped to its limits); return the value applied."""
        group, i = self._locate(asset_id)
        if name not in group.sp:
            known = ", ".join(group.sp) or "none"
            raise KeyError(f"asset {asset_id!r} has no setpoint {name!r} (known: {known})")
        return group.set_setpoint(i, name, value)

    def setpoints(self, asset_id: str) -> dict[str, float]:
        """Return the current setpoints of an asset."""
        group, i = self._locate(asset_id)
        return {k: float(v[i]) for k, v in group.sp.items()}

    def command(self, asset_id: str, action: str) -> None:
        """Run start, stop or reset; reset of a failed asset repairs it and redraws its wear."""
        group, i = self._locate(asset_id)
        if action != "reset":
            group.command(i, action)
            return
        if group.failed[i]:
            specs = [self.scenario.asset(group.ids[i])]
            fresh = self._draw(specs)
            group.repair(i, fresh.onset_h[0], fresh.life_h[0])

    def _locate(self, asset_id: str) -> tuple[AssetGroup, int]:
        try:
            return self.where[asset_id]
        except KeyError:
            raise KeyError(f"no asset {asset_id!r} (known: {', '.join(self.where)})") from None

    def truth(self) -> list[dict]:
        """Return the ground truth of every asset at the current step (JSON-ready)."""
        out = []
        for g in self.groups:
            rul = g.deg.rul_h(g.op_h)
            names = [m.name for m in g.SPEC.modes]
            for i, asset_id in enumerate(g.ids):
                w = g.wear_now[i]
                modes = [
                    {
                        "mode": names[j],
                        "kind": "degradation",
                        "onset": iso(g.onset_ts[i, j]),
                        "severity": round(float(w[j]), 6),
                    }
                    for j in range(len(names))
                    if w[j] > 0
                ] + [self._describe(a) for a in self.active if a.asset == asset_id]
                failed = bool(g.failed[i])
                if failed:
                    fail_ts: str | None = iso(g.failure_ts[i])
                elif math.isfinite(rul[i]):
                    # Projected: assumes the asset keeps running from now on.
                    fail_ts = iso(self.t + rul[i] * 3600.0)
                else:
                    fail_ts = None
                out.append(
                    {
                        "asset": f"{self.scenario.site}.{asset_id}",
                        "ts": iso(self.t),
                        "state": "failed" if failed else ("running" if g.running[i] else "stopped"),
                        "health": "failed" if failed else ("degrading" if modes else "healthy"),
                        "health_index": round(100.0 * (1.0 - float(np.max(w, initial=0.0))), 3),
                        "modes": modes,
                        "operating_h": round(float(g.op_h[i]), 6),
                        "rul_h": round(float(rul[i]), 6) if math.isfinite(rul[i]) else None,
                        "failure_time": fail_ts,
                        **g.truth_extra(i),
                    }
                )
        return out
