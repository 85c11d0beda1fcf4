"""Issue 6, acceptance 6: early warning of run-to-failure episodes in simulated runs.

Protocol (docs/model-quality.md, "Simulated mine: early warning"):

- train one :class:`~egiz.models.health.asset.AssetHealth` per asset on the healthy windows
  (no degradation active, no injected fault — from the simulator's truth) of the TRAINING runs;
  the evaluation runs use other seeds and are never looked at while fitting;
- run every model over each evaluation run, window by window, through its alarm rule;
- a failure is *warned* when the model alarm was raised ≥ ``lead_h`` before the failure and
  stayed active until it (lead = failure time − end of the window that raised the final alarm);
- a *false alarm* is an alarm raise on an asset with no degradation and no injected fault
  active within the next ``horizon_d`` days (``strict``: sensor faults do not excuse it);
- sudden machine faults are reported separately: the share of them during which (or within
  one window after) a model alarm was active.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from egiz.models.eval.simdata import (
    Run,
    degraded_between,
    faulted_between,
    healthy_windows,
    read_run,
)
from egiz.models.health.alarm import AlarmRule
from egiz.models.health.asset import AssetHealth


@dataclass
class Report:
    """Acceptance-6 numbers over the evaluation runs."""

    failures: list[dict] = field(default_factory=list)
    false_alarms: int = 0
    false_alarms_strict: int = 0
    raises: int = 0
    asset_days: float = 0.0
    sudden: list[dict] = field(default_factory=list)
    healthy_windows: int = 0
    healthy_in_alarm: int = 0

    @property
    def warned(self) -> float:
        """Fraction of failures warned ≥ lead_h ahead."""
        return float(np.mean([f["warned"] for f in self.failures])) if self.failures else 0.0

    def per_asset_30d(self, strict: bool = False) -> float:
        """False alarms per asset per 30 simulated days."""
        n = self.false_alarms_strict if strict else self.false_alarms
        return n / max(self.asset_days, 1e-9) * 30.0

    def metrics(self) -> dict:
        """Plain-data summary (JSON-safe)."""
        leads = [f["lead_h"] for f in self.failures if f["lead_h"] is not None]
        return {
            "failures": len(self.failures),
            "warned_fraction": round(self.warned, 4),
            "lead_h_median": round(float(np.median(leads)), 1) if leads else None,
            "false_alarms": self.false_alarms,
            "false_alarms_strict": self.false_alarms_strict,
            "alarm_raises": self.raises,
            "asset_days": round(self.asset_days, 1),
            "false_alarms_per_asset_30d": round(self.per_asset_30d(), 3),
            "false_alarms_per_asset_30d_strict": round(self.per_asset_30d(strict=True), 3),
            "healthy_window_alarm_share": round(
                self.healthy_in_alarm / max(self.healthy_windows, 1), 5
            ),
            "sudden_faults": len(self.sudden),
            "sudden_faults_alarmed": sum(s["alarmed"] for s in self.sudden),
        }


def train(
    runs: list[Run], asset_types: dict[str, str], index_params: dict, alarm_params: dict
) -> dict[str, AssetHealth]:
    """One health model per asset, fitted on the healthy windows of all training runs."""
    models = {}
    for asset, atype in sorted(asset_types.items()):
        signals = runs[0].means[asset][0]
        M = np.concatenate([r.means[asset][1] for r in runs])
        ok = np.concatenate([healthy_windows(r, asset) for r in runs])
        models[asset] = AssetHealth(atype, signals, index_params, alarm_params).fit(M, ok)
    return models


def evaluate(
    models: dict[str, AssetHealth], runs: list[Run], lead_h: float = 24.0, horizon_d: float = 7.0
) -> Report:
    """Score every evaluation run with the trained models; count warnings and false alarms."""
    rep = Report()
    for run in runs:
        ends = run.starts + run.window_s
        for asset, model in models.items():
            _, alarm = model.alarms(run.means[asset][1])
            rep.asset_days += run.days
            calm = healthy_windows(run, asset)
            rep.healthy_windows += int(calm.sum())
            rep.healthy_in_alarm += int((alarm & calm).sum())
            raised = np.flatnonzero(alarm & ~np.r_[False, alarm[:-1]])
            t = ends[raised]
            rep.raises += t.size
            ahead = t + horizon_d * 86400.0
            degr = degraded_between(run, asset, t, ahead)
            rep.false_alarms += int(
                (~degr & ~faulted_between(run, asset, t, ahead, ("fault", "sensor"))).sum()
            )
            rep.false_alarms_strict += int(
                (~degr & ~faulted_between(run, asset, t, ahead, ("fault",))).sum()
            )
            for a, mode, tf in run.failures():
                if a == asset:
                    rep.failures.append(_episode(run, asset, mode, tf, ends, alarm, lead_h))
            for f0, f1 in run.faults(asset, ("fault",)):
                during = (ends >= f0) & (ends <= f1 + run.window_s)
                rep.sudden.append(
                    {"asset": asset, "run": run.seed, "alarmed": bool(alarm[during].any())}
                )
    return rep


def _episode(
    run: Run, asset: str, mode: str, tf: float, ends: np.ndarray, alarm: np.ndarray, lead_h: float
) -> dict:
    """Lead time of the alarm that was active when the asset failed (None: none was)."""
    # How long degradation was active before the failure (truth): a lead beyond it would
    # mean an alarm that was on for some other reason.
    calm = np.flatnonzero((run.truth_hi[asset] >= 100.0) & (run.truth_times <= tf))
    onset = run.truth_times[calm[-1]] if calm.size else run.truth_times[0]
    before = np.flatnonzero(ends <= tf)
    lead = None
    if before.size and alarm[before[-1]]:
        k = before[-1]
        off = np.flatnonzero(~alarm[: k + 1])
        first = off[-1] + 1 if off.size else 0
        lead = (tf - ends[first]) / 3600.0
    return {
        "run": run.seed,
        "asset": asset,
        "mode": mode,
        "failure_s": tf,
        "lead_h": None if lead is None else round(float(lead), 1),
        "degrading_h": round(float(tf - onset) / 3600.0, 1),
        "warned": bool(lead is not None and lead >= lead_h),
    }


@dataclass(frozen=True)
class Protocol:
    """Which seeds trained and which were evaluated (printed so nobody has to trust us)."""

    train_seeds: tuple[int, ...]
    eval_seeds: tuple[int, ...]
    days: float
    window_s: float
    alarm: dict
    index: dict


def run_protocol(
    make_run: Callable[[int], Path],
    asset_types: dict[str, str],
    *,
    episodes: int = 20,
    seed: int = 0,
    days: float = 90.0,
    train_runs: int = 3,
    max_eval_runs: int = 20,
    window_s: float = 3600.0,
    index_params: dict | None = None,
    alarm_params: dict | None = None,
) -> tuple[Report, Protocol]:
    """Train on runs of seeds ``seed+1000…``, evaluate on ``seed, seed+1, …`` until ≥ episodes.

    ``make_run(seed)`` generates (or finds) a run of ``days`` and returns its folder. Evaluation
    runs are added until they hold ``episodes`` degradation failures (counted from the truth,
    never from the model), at most ``max_eval_runs``.
    """
    train_seeds = tuple(seed + 1000 + i for i in range(train_runs))
    runs = [read_run(make_run(s), window_s) for s in train_seeds]
    models = train(runs, asset_types, dict(index_params or {}), dict(alarm_params or {}))
    evals: list[Run] = []
    while sum(len(r.failures()) for r in evals) < episodes and len(evals) < max_eval_runs:
        evals.append(read_run(make_run(seed + len(evals)), window_s))
    report = evaluate(models, evals)
    some = next(iter(models.values()))
    alarm = {**AlarmRule().params(), **some.alarm_params}
    index = {k: getattr(some.index_, k) for k in ("false_alarm_rate", "margin", "smoothing")}
    return report, Protocol(train_seeds, tuple(r.seed for r in evals), days, window_s, alarm, index)


def format_report(report: Report, protocol: Protocol, scenario: str) -> str:
    """The table `egiz model eval sim` prints."""
    m = report.metrics()
    lines = [
        f"simulated {scenario}: health-index early warning (issue 6, acceptance 6)",
        f"train: seeds {', '.join(map(str, protocol.train_seeds))} ({protocol.days:g} days each, "
        "healthy windows only: no degradation, no injected fault)",
        f"evaluate: seeds {', '.join(map(str, protocol.eval_seeds))} ({protocol.days:g} days "
        "each; disjoint from training)",
        f"windows: {protocol.window_s / 3600:g} h means; threshold: declared false-alarm rate "
        f"{protocol.index['false_alarm_rate']:g} per window on training windows x margin "
        f"{protocol.index['margin']:g} (health 50); alarm: health < {protocol.alarm['raise_below']:g} "
        f"for {protocol.alarm['persist']} windows, clear > {protocol.alarm['clear_above']:g} "
        f"for {protocol.alarm['clear_after']}",
        "",
        f"{'metric':44s} {'ours':>10s} {'target':>8s}",
        f"{'failures (degradation-driven)':44s} {m['failures']:>10d} {'>= 20':>8s}",
        f"{'warned >= 24 h ahead, alarm held to failure':44s} {m['warned_fraction']:>10.1%} "
        f"{'>= 90%':>8s}",
        f"{'median lead time (h)':44s} {m['lead_h_median'] or 0:>10.1f}",
        f"{'false alarms per asset per 30 days':44s} "
        f"{m['false_alarms_per_asset_30d']:>10.3f} {'<= 1':>8s}",
        f"{'  strict (sensor faults do not excuse)':44s} "
        f"{m['false_alarms_per_asset_30d_strict']:>10.3f}",
        f"{'  false alarms / alarm raises':44s} "
        f"{str(m['false_alarms']) + ' / ' + str(m['alarm_raises']):>10s}",
        f"{'share of healthy windows in alarm':44s} {m['healthy_window_alarm_share']:>10.2%}",
        f"{'asset-days evaluated':44s} {m['asset_days']:>10.1f}",
        f"{'sudden machine faults alarmed (separate)':44s} "
        f"{str(m['sudden_faults_alarmed']) + ' / ' + str(m['sudden_faults']):>10s}",
        "",
        f"{'run':>5s} {'asset':18s} {'failed mode':24s} {'degrading h':>11s} {'lead h':>7s} warned",
    ]
    for f in report.failures:
        lead = "-" if f["lead_h"] is None else f"{f['lead_h']:.1f}"
        lines.append(
            f"{f['run']:>5d} {f['asset']:18s} {f['mode']:24s} {f['degrading_h']:>11.1f} "
            f"{lead:>7s} {'yes' if f['warned'] else 'NO'}"
        )
    return "\n".join(lines)
