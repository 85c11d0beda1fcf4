"""Benchmark: numpy-only RUL inference latency per engine window, one core.

Usage::

    .venv/bin/egiz model train --data ../shared/data/cmapss --subset FD001 --out /tmp/rul-fd001
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/models_rul.py \
        --artifact /tmp/rul-fd001 --data ../shared/data/cmapss

Loads the artifact through the pinned-hash loader (the hash is read from its manifest here,
because the benchmark is about speed, not trust), then times ``predict_window`` — one call per
engine window, exactly what the edge runner does per asset — over the last window of every
test engine, and one batched call for 100 assets. Prints median and p99 per window (wall time
and the thread's CPU time, which preemption on a loaded machine does not inflate), the 1-minute
load average at the end, and the bytes of the loaded arrays.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from egiz.models.artifacts.store import read_manifest
from egiz.models.eval.cmapss_data import read_subset
from egiz.models.rul.artifact import load_rul


def main() -> None:
    """Run the benchmark and print one JSON line."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifact", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--subset", default="FD001")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    manifest, rt = load_rul(args.artifact, read_manifest(args.artifact)["sha256"])
    test = read_subset(args.data, args.subset).test
    L = rt.spec.length
    windows = []
    for u in test.units:
        m = test.unit == u
        windows.append((test.settings[m][-L:], test.sensors[m][-L:], float(test.cycle[m][-1])))
    rt.predict_window(*windows[0])  # warm-up: first-call allocations are not steady state

    # Wall time is what an asset waits; thread CPU time is what the call costs, and on a
    # shared, loaded machine (preemption inflates the wall-time tail) it is the stable figure.
    per_call, per_call_cpu = [], []
    for _ in range(args.repeat):
        for w in windows:
            c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
            rt.predict_window(*w)
            t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
            per_call.append(t1 - t0)
            per_call_cpu.append(c1 - c0)
    per_call_us = np.array(per_call) / 1e3
    cpu_us = np.array(per_call_cpu) / 1e3

    # 100 assets scored in one call: each asset's window stacked, one pass through the trees.
    settings = np.concatenate([np.asarray(w[0]) for w in windows])
    sensors = np.concatenate([np.asarray(w[1]) for w in windows])
    unit = np.repeat(np.arange(len(windows)), [len(w[0]) for w in windows])
    cycle = np.concatenate([np.arange(w[2] - len(w[0]) + 1, w[2] + 1) for w in windows])
    batch = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        rt.predict_last(settings, sensors, unit, cycle)
        batch.append(time.perf_counter() - t0)

    arrays = rt.ensemble.to_arrays() | rt.normalizer.to_arrays()
    print(
        json.dumps(
            {
                "artifact": manifest["name"] + " " + manifest["version"],
                "trees": int(rt.ensemble.feature.shape[0]),
                "features": len(manifest["features"]),
                "windows": len(windows),
                "per_window_us_median": round(float(np.median(per_call_us)), 1),
                "per_window_us_p99": round(float(np.percentile(per_call_us, 99)), 1),
                "per_window_cpu_us_median": round(float(np.median(cpu_us)), 1),
                "per_window_cpu_us_p99": round(float(np.percentile(cpu_us, 99)), 1),
                "load_average_1m": round(os.getloadavg()[0], 2),
                "batch_100_assets_ms": round(min(batch) * 1e3 * 100 / len(windows), 2),
                "model_array_bytes": int(sum(a.nbytes for a in arrays.values())),
                "omp_threads": os.environ.get("OMP_NUM_THREADS", "unset"),
            }
        )
    )


if __name__ == "__main__":
    main()
