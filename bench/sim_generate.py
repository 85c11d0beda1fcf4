"""Benchmark: offline generation rate of the simulator (samples/s on one core).

Usage: .venv/bin/python bench/sim_generate.py [--scenario mine] [--days 2] [--out /tmp/egiz-gen]

Runs `egiz.simulators.generate.generate` (physics, noise, faults, truth and npz writing
included) with numpy limited to one thread, and prints samples/s. Target (issue 3): >= 5 M/s.
"""

from __future__ import annotations

import os

# One core: keep BLAS/OpenMP pools from borrowing the other.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from egiz.simulators.engine import Engine  # noqa: E402
from egiz.simulators.generate import generate  # noqa: E402
from egiz.simulators.scenario import load_scenario  # noqa: E402


def main() -> None:
    """Run the benchmark and print one line per measurement."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="mine")
    ap.add_argument("--days", type=float, default=2.0)
    ap.add_argument("--out", type=Path, default=Path("/tmp/egiz-bench-gen"))
    args = ap.parse_args()
    sc = load_scenario(args.scenario)
    engine = Engine(sc)
    steps = 86400
    began = time.process_time()
    engine.advance(steps)
    cpu = time.process_time() - began
    print(
        f"engine only      {sc.name}: {len(engine.signals) * steps / cpu / 1e6:6.2f} M samples/s (CPU)"
    )
    shutil.rmtree(args.out, ignore_errors=True)
    began, wall0 = time.process_time(), time.perf_counter()
    manifest = generate(sc, args.out, args.days)
    cpu, wall = time.process_time() - began, time.perf_counter() - wall0
    n = manifest["samples"]
    print(
        f"generate to npz  {sc.name}: {n / cpu / 1e6:6.2f} M samples/s (CPU), "
        f"{n / wall / 1e6:6.2f} M samples/s (wall), {n:,} samples, {args.days} days"
    )
    shutil.rmtree(args.out, ignore_errors=True)


if __name__ == "__main__":
    main()
