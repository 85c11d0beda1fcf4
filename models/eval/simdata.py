"""Read a simulator's offline run (``egiz sim generate`` npz layout) into per-asset windows.

Only the documented file format is used (docs/simulators.md, "Offline generation"): the
twin never imports the simulator. ``manifest.json`` lists the signals, ``signals-NNNN.npz``
hold ``times`` and ``values`` (S, T), ``truth.npz`` the per-asset health index and state, and
``events.json`` faults, failures and repairs with their data times.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True)
class Run:
    """One generated run: hourly (or ``window_s``) window means per asset, truth and events."""

    path: Path
    seed: int
    window_s: float
    starts: np.ndarray  # (W,) window start times, s since epoch
    means: dict[str, tuple[list[str], np.ndarray]]  # asset -> (signals, (W, s) means)
    truth_times: np.ndarray
    truth_hi: dict[str, np.ndarray]  # asset -> health index 0..100 at truth_times
    events: list[dict]
    sha256: str

    @property
    def days(self) -> float:
        """Simulated days covered by whole windows."""
        return self.starts.size * self.window_s / 86400.0

    def faults(self, asset: str, kinds: tuple[str, ...] = ("fault", "sensor")) -> np.ndarray:
        """(k, 2) start/end times of the asset's injected faults of ``kinds``."""
        rows = [
            (_ts(e["onset"]), _ts(e["until"]))
            for e in self.events
            if e["asset"] == asset and e["kind"] in kinds and "until" in e
        ]
        return np.asarray(rows, dtype=float).reshape(-1, 2)

    def failures(self) -> list[tuple[str, str, float]]:
        """(asset, failed mode, time) of every failure in the run."""
        return [
            (e["asset"], e["mode"], _ts(e["onset"])) for e in self.events if e["kind"] == "failure"
        ]


def read_run(path: Path, window_s: float = 3600.0) -> Run:
    """Load a generated run and average every signal over ``window_s`` windows."""
    path = Path(path)
    manifest = json.loads((path / "manifest.json").read_text("utf-8"))
    step = float(manifest["step_s"])
    per = round(window_s / step)
    if per < 1 or abs(per * step - window_s) > 1e-6:
        raise ValueError(f"{path}: window {window_s} s is not a multiple of the step {step} s")
    files = sorted(f for f in manifest["files"] if f.startswith("signals-"))
    times, values = [], []
    for f in files:
        with np.load(path / f, allow_pickle=False) as npz:
            times.append(npz["times"])
            values.append(npz["values"])
    t = np.concatenate(times)
    v = np.concatenate(values, axis=1)
    w = t.size // per
    # NaN (dropout) samples are left out of a window's mean; an all-NaN window stays NaN.
    block = v[:, : w * per].reshape(v.shape[0], w, per).astype(np.float64)
    present = np.isfinite(block)
    with np.errstate(invalid="ignore"):
        mean = np.where(present, block, 0.0).sum(axis=2) / present.sum(axis=2)
    site = manifest["site"]
    by_asset: dict[str, list[int]] = {}
    for i, s in enumerate(manifest["signals"]):
        by_asset.setdefault(s["asset"].removeprefix(site + "."), []).append(i)
    means = {
        a: ([manifest["signals"][i]["signal"] for i in idx], mean[idx].T)
        for a, idx in by_asset.items()
    }
    with np.load(path / "truth.npz", allow_pickle=False) as npz:
        tt, assets, hi = npz["times"], npz["assets"], npz["health_index"]
    truth_hi = {str(a).removeprefix(site + "."): hi[i] for i, a in enumerate(assets)}
    digest = hashlib.sha256(json.dumps(manifest["sha256"], sort_keys=True).encode()).hexdigest()
    return Run(
        path=path,
        seed=int(manifest["seed"]),
        window_s=window_s,
        starts=t[: w * per : per].astype(float),
        means=means,
        truth_times=tt.astype(float),
        truth_hi=truth_hi,
        events=json.loads((path / "events.json").read_text("utf-8")),
        sha256=digest,
    )


def degraded_between(run: Run, asset: str, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
    """Per interval [t0, t1]: was any degradation active (truth health index below 100)?"""
    bad = run.truth_hi[asset] < 100.0
    # Prefix counts of degraded truth rows answer every interval at once.
    c = np.r_[0, np.cumsum(bad)]
    lo = np.searchsorted(run.truth_times, t0, side="left")
    hi = np.searchsorted(run.truth_times, t1, side="right")
    return c[hi] - c[lo] > 0


def faulted_between(
    run: Run, asset: str, t0: np.ndarray, t1: np.ndarray, kinds: tuple
) -> np.ndarray:
    """Per interval [t0, t1]: did an injected fault of ``kinds`` overlap it?"""
    f = run.faults(asset, kinds)
    if f.size == 0:
        return np.zeros(np.shape(t0), bool)
    return (
        (f[None, :, 0] <= np.asarray(t1)[:, None]) & (f[None, :, 1] >= np.asarray(t0)[:, None])
    ).any(axis=1)


def healthy_windows(run: Run, asset: str) -> np.ndarray:
    """Training baseline: windows with no degradation active and no injected fault."""
    t0, t1 = run.starts, run.starts + run.window_s
    return ~degraded_between(run, asset, t0, t1) & ~faulted_between(
        run, asset, t0, t1, ("fault", "sensor")
    )
