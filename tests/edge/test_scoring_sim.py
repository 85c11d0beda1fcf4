"""`egiz model train-sim` artifacts, pinned in the simulator's own site config, score at the edge.

The simulator generates short run-to-failure runs; the edge runner is fed the held-out run's
hourly windows as the agent would feed it (one 1 h edge window = one model window here) and
must emit health, anomaly and a RUL interval in hours.
"""

from __future__ import annotations

import re

import numpy as np

from egiz.cli.main import main
from egiz.contracts import SiteConfig
from egiz.edge.scoring import EdgeModels
from egiz.edge.window import WindowResult
from egiz.models.eval.simdata import read_run
from egiz.models.rul.simtrain import true_rul
from egiz.simulators.scenario import load_scenario
from egiz.simulators.siteconfig import site_config

ATYPE = "induction_motor"


def test_scoring_train_sim_artifacts_load_and_score_at_the_edge(tmp_path, capsys):
    out, cache = tmp_path / "art", tmp_path / "runs"
    argv = ["model", "train-sim", "--scenario", "mine", "--out", str(out), "--cache", str(cache),
            "--days", "60", "--train-runs", "2", "--eval-runs", "1", "--types", ATYPE]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    pins = re.findall(r"\{asset_type: (\S+), artifact: (\S+), sha256: ([0-9a-f]{64})\}", text)
    assert [(p[0], p[1].rsplit("/", 1)[-1]) for p in pins] == [(ATYPE, "health"), (ATYPE, "rul")]
    row = next(line for line in text.splitlines() if line.startswith(ATYPE))
    rmse, const = float(row.split()[2]), float(row.split()[-1])
    assert rmse < const  # beats the constant guess on the held-out seed

    doc = site_config(load_scenario("mine"), cloud_url=None)
    doc["models"] = [{"asset_type": a, "artifact": p, "sha256": s} for a, p, s in pins]
    models = EdgeModels(SiteConfig.model_validate(doc), tmp_path)
    assert models.describe()[0].startswith(f"model induction-motor-health 1.0.0 for {ATYPE}")

    run = read_run(next(cache.glob("*seed100")), 3600.0)  # the held-out run
    signals, M = run.means["mill-motor-1"]
    scores = []
    for i in range(M.shape[0]):
        stats = {s: {"mean": float(M[i, j]), "count": 60} for j, s in enumerate(signals)
                 if np.isfinite(M[i, j])}  # fmt: skip
        w = WindowResult("mill-motor-1", i, float(run.starts[i]), 3600.0, stats)
        scores.append(models.score(w))
    assert all(s is not None for s in scores)  # every 1 h edge window closes a model window
    health = np.array([np.nan if s.health is None else s.health for s in scores])
    assert np.nanmin(health) < 50 < np.nanmax(health)  # degradation seen in the held-out run
    ruls = [s.rul for s in scores if s.rul is not None]
    assert ruls and all(r.unit == "h" and r.low <= r.value <= r.high for r in ruls)
    est = np.array([np.nan if s.rul is None else s.rul.value for s in scores])
    truth = true_rul(run, "mill-motor-1")
    near, far = est[truth <= 100], est[truth >= 400]
    assert np.nanmedian(near) < np.nanmedian(far)  # the estimate falls as the failure nears
