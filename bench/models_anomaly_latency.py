"""Benchmark: per-sample / per-window scoring latency and memory of anomaly detectors.

Run: .venv/bin/python bench/models_anomaly_latency.py [--assets 100]
Prints one line per detector: median latency on one core and resident state for N assets
(tracemalloc of N fitted detectors). Results go to docs/model-quality.md, never into tests.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from egiz.models.anomaly import BATCH_DETECTORS, STREAMING_DETECTORS


def _bench_streaming(name: str, n_assets: int) -> str:
    rng = np.random.default_rng(0)
    warm = 10.0 + rng.normal(size=8064)
    det = STREAMING_DETECTORS[name]()
    for x in warm:
        det.learn_one(x)
    xs = 10.0 + rng.normal(size=2000)
    times = []
    for x in xs:
        t0 = time.perf_counter()
        det.score_one(x)
        det.learn_one(x)
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    fleet = []
    for _ in range(n_assets):
        d = STREAMING_DETECTORS[name]()
        for x in warm:
            d.learn_one(x)
        fleet.append(d)
    mem = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (
        f"{name:18s} streaming  {np.median(times) * 1e6:8.1f} µs/sample (score+learn)  "
        f"{mem / 2**20:7.1f} MiB for {n_assets} assets (history full)"
    )


def _bench_batch(name: str, n_assets: int, window: int = 60, signals: int = 8) -> str:
    rng = np.random.default_rng(0)
    train = rng.normal(size=(400, signals))
    det = BATCH_DETECTORS[name]().fit(train)
    block = rng.normal(size=(window, signals))
    times = []
    for _ in range(300):
        t0 = time.perf_counter()
        det.score_samples(block)
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    fleet = [BATCH_DETECTORS[name]().fit(train) for _ in range(n_assets)]
    mem = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del fleet
    return (
        f"{name:18s} batch      {np.median(times) * 1e6:8.1f} µs/window ({window}×{signals})  "
        f"{mem / 2**20:7.1f} MiB for {n_assets} assets"
    )


def main() -> None:
    """Print the latency and memory table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100)
    args = parser.parse_args()
    for name in STREAMING_DETECTORS:
        print(_bench_streaming(name, args.assets))
    for name in BATCH_DETECTORS:
        print(_bench_batch(name, args.assets))


if __name__ == "__main__":
    main()
