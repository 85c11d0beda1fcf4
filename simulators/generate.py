"""Offline generation: a scenario's signals and per-step truth to columnar npz files, fast.

Output directory::

    manifest.json          scenario, seed, start, step, signals (asset, signal, unit), files
    signals-0000.npz       one per simulated day: times (int64 s since epoch, (T,)),
                           values (float32, (S, T); NaN = dropout), status (uint8, (S, T))
    truth.npz              times (every truth_every_s), assets, rul_h, health_index (float32,
                           (A, T')), state (int8: 0 stopped, 1 running, 2 failed)
    events.json            injected faults and failures with their data times

Byte-for-byte reproducible for the same scenario, seed and numpy: the physics is chunked at
fixed boundaries and the npz members are written with a fixed zip timestamp.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np

from .catalog import TYPES
from .engine import Engine, iso
from .scenario import Scenario

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an uncompressed .npz whose bytes depend only on the arrays (no timestamps)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def generate(
    scenario: Scenario,
    out: Path,
    days: float,
    seed: int | None = None,
    start: datetime | None = None,
    truth_every_s: float = 60.0,
    chunk_steps: int = 3600,
    step_s: float | None = None,
    repair_after_h: float | None = 24.0,
) -> dict:
    """Simulate ``days`` of ``scenario`` into ``out``; return the manifest.

    ``step_s`` overrides the scenario's step (e.g. 60 s for quarter-year run-to-failure sets);
    failed assets are repaired ``repair_after_h`` later, so long runs hold several episodes.
    """
    out.mkdir(parents=True, exist_ok=True)
    if step_s is not None:
        scenario = dataclasses.replace(scenario, step_s=step_s)
    engine = Engine(scenario, start=start, seed=seed, repair_after_h=repair_after_h)
    dt = scenario.step_s
    per_day = round(86400.0 / dt)
    total = round(days * 86400.0 / dt)
    chunk = chunk_steps
    every = max(1, round(truth_every_s / dt))
    t_times, rul, hi, state = [], [], [], []
    files = []
    done = 0
    while done < total:
        n_day = min(per_day, total - done)
        vals = np.empty((len(engine.signals), n_day), dtype=np.float32)
        stat = np.empty((len(engine.signals), n_day), dtype=np.uint8)
        times = np.empty(n_day, dtype=np.int64)
        k = 0
        while k < n_day:
            n = min(chunk, n_day - k)
            b = engine.advance(n)
            vals[:, k : k + n] = b.values
            stat[:, k : k + n] = b.status
            times[k : k + n] = np.round(b.times).astype(np.int64)
            # truth at every `every`-th global step
            first = (done + k) % every
            pick = np.arange((every - 1 - first) % every, n, every)
            t_times.append(times[k : k + n][pick])
            rul.append(engine.block_truth["rul_h"][:, pick].astype(np.float32))
            hi.append(engine.block_truth["health_index"][:, pick].astype(np.float32))
            state.append(engine.block_truth["state"][:, pick])
            k += n
        name = f"signals-{len(files):04d}.npz"
        write_npz(out / name, {"times": times, "values": vals, "status": stat})
        files.append(name)
        done += n_day
    write_npz(
        out / "truth.npz",
        {
            "times": np.concatenate(t_times),
            "assets": np.array([f"{scenario.site}.{a}" for a in engine.asset_ids]),
            "rul_h": np.concatenate(rul, axis=1),
            "health_index": np.concatenate(hi, axis=1),
            "state": np.concatenate(state, axis=1),
        },
    )
    events = list(engine.events)
    for g in engine.groups:
        for i, a in enumerate(g.ids):
            if not math.isnan(g.failure_ts[i]):
                events.append(
                    {
                        "asset": a,
                        "mode": "failure",
                        "kind": "failure",
                        "onset": iso(g.failure_ts[i]),
                    }
                )
    (out / "events.json").write_text(json.dumps(events, indent=1, sort_keys=True) + "\n")
    units = {(a.id, s.name): s.unit for a in scenario.assets for s in TYPES[a.type].signals}
    manifest = {
        "scenario": scenario.name,
        "site": scenario.site,
        "seed": scenario.seed if seed is None else seed,
        "start": iso(engine.t0),
        "step_s": dt,
        "days": days,
        "samples": total * len(engine.signals),
        "signals": [
            {"asset": f"{scenario.site}.{a}", "signal": s, "unit": units[(a, s)]}
            for a, s in engine.signals
        ],
        "truth_every_s": every * dt,
        "repair_after_h": repair_after_h,
        "files": [*files, "truth.npz", "events.json"],
        "sha256": {
            f: hashlib.sha256((out / f).read_bytes()).hexdigest()
            for f in [*files, "truth.npz", "events.json"]
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest
