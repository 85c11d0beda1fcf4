"""Benchmark: per-window health-index inference latency and memory at 100 assets (edge runtime).

Run: .venv/bin/python bench/models_health_latency.py [--assets 100] [--windows 200]

Trains one health model per asset of a 30-day simulated `mine` run (step 60 s), saves them as
pinned artifacts, then in a FRESH process loads N artifacts with the numpy-only loader
(``egiz.models.registry.load``; N/10 copies of each of the 10 mine assets) and scores one hour
window per asset per tick with the streaming runner (residuals, health, explanation, alarm).
Prints latency per asset-window (median, p99), per 100-asset tick, resident memory added by
the loaded models and their state (VmRSS delta) and whether scikit-learn was imported.
Results go to docs/benchmarks.md ("Models: health index"), never into tests.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _train(root: Path) -> list[dict]:
    """Generate 30 days, fit one model per asset, save artifacts; return their pins."""
    from egiz.models.eval.simdata import healthy_windows, read_run
    from egiz.models.health.artifact import health_manifest, save_health
    from egiz.models.health.asset import AssetHealth
    from egiz.simulators.generate import generate
    from egiz.simulators.scenario import load_scenario

    scenario = load_scenario("mine")
    generate(scenario, root / "run", 30, seed=1000, step_s=60.0)
    run = read_run(root / "run")
    pins = []
    for a in scenario.assets:
        signals, M = run.means[a.id]
        model = AssetHealth(a.type, signals).fit(M, healthy_windows(run, a.id))
        manifest = health_manifest(
            model, name=f"{a.id}-health", version="1.0.0", window_s=3600, units={},
            training_sha256=run.sha256, metrics={},
        )  # fmt: skip
        sha = save_health(root / a.id, model, manifest)
        np.save(root / f"{a.id}.windows.npy", M)
        pins.append({"path": str(root / a.id), "sha256": sha, "windows": f"{a.id}.windows.npy"})
    return pins


def _edge(root: Path, n_assets: int, n_windows: int) -> dict:
    """The edge side: load N artifacts numpy-only, score window by window."""
    from egiz.models import registry

    pins = json.loads((root / "pins.json").read_text())
    before = _rss_kib()
    fleet = []
    for i in range(n_assets):
        pin = pins[i % len(pins)]
        _, model = registry.load(Path(pin["path"]), pin["sha256"])
        fleet.append((model.runner(), np.load(root / pin["windows"])))
    per, ticks = [], []
    for k in range(n_windows):
        t_tick = time.perf_counter()
        for runner, M in fleet:
            t0 = time.perf_counter()
            runner.update(M[k % M.shape[0]])
            per.append(time.perf_counter() - t0)
        ticks.append(time.perf_counter() - t_tick)
    after = _rss_kib()
    return {
        "assets": n_assets,
        "windows": n_windows,
        "median_us": float(np.median(per) * 1e6),
        "p99_us": float(np.quantile(per, 0.99) * 1e6),
        "tick_ms": float(np.median(ticks) * 1e3),
        "rss_delta_mib": (after - before) / 1024,
        "rss_mib": after / 1024,
        "sklearn_imported": any(m.startswith("sklearn") for m in sys.modules),
        "scipy_imported": any(m.startswith("scipy") for m in sys.modules),
    }


def main() -> None:
    """Train, then measure the edge runtime in a fresh process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100)
    parser.add_argument("--windows", type=int, default=200)
    parser.add_argument("--edge", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.edge:
        print(json.dumps(_edge(args.edge, args.assets, args.windows)))
        return
    with tempfile.TemporaryDirectory(prefix="egiz-bench-health-") as tmp:
        root = Path(tmp)
        (root / "pins.json").write_text(json.dumps(_train(root)))
        out = subprocess.run(
            [sys.executable, __file__, "--edge", str(root), "--assets", str(args.assets),
             "--windows", str(args.windows)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    r = json.loads(out.strip().splitlines()[-1])
    print(
        f"health index, {r['assets']} assets x {r['windows']} windows (1 h means, streaming "
        f"runner): {r['median_us']:.0f} µs median / {r['p99_us']:.0f} µs p99 per asset-window, "
        f"{r['tick_ms']:.1f} ms per {r['assets']}-asset tick; models + state "
        f"{r['rss_delta_mib']:.1f} MiB RSS (process {r['rss_mib']:.0f} MiB); "
        f"scikit-learn imported: {r['sklearn_imported']}, scipy: {r['scipy_imported']}"
    )


if __name__ == "__main__":
    main()
