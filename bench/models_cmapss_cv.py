"""Grouped CV on a C-MAPSS training file: out-of-fold member predictions and post-hoc candidates.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python bench/models_cmapss_cv.py \
        --data ../shared/data/cmapss --subset FD001 --oof /tmp/oof-fd001.npz

Reads **only** ``train_FD00N.txt`` (the test file is never opened: it goes through
``read_trajectories`` on the train path alone). Trains the frozen recipe on the engine-modulo-5
folds of :func:`egiz.models.eval.cmapss.grouped_cv`, keeps every ensemble member's raw
out-of-fold prediction (cached in ``--oof``, ~10 min on a loaded 2-core box), then prints the
four CV metrics (RMSE and PHM08 per 100 rows, true and capped RUL) of every post-hoc point
rule of ``RulParams.point_rule_grid()`` so the choice between them is reproducible.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from egiz.models.eval.cmapss import CAPPED_TRUTH, phm08_score, rmse, train_on
from egiz.models.eval.cmapss_data import Trajectories, read_trajectories
from egiz.models.rul.runtime import combine_members
from egiz.models.rul.train import RulParams


def out_of_fold(t: Trajectories, params: RulParams, folds: int = 5) -> np.ndarray:
    """Raw prediction of every ensemble member for every row, each from the fold without it."""
    fold_of = np.arange(t.units.size) % folds
    raw = None
    for f in range(folds):
        held = np.isin(t.unit, t.units[fold_of == f])
        part = Trajectories(t.unit[~held], t.cycle[~held], t.settings[~held], t.sensors[~held])
        model = train_on(part, params).runtime
        X = model.features(t.settings[held], t.sensors[held], t.unit[held], t.cycle[held])
        r = model.ensemble.predict(X)
        if raw is None:
            raw = np.full((t.unit.size, r.shape[1]), np.nan)
        raw[held] = r
        print(f"fold {f + 1}/{folds} done", flush=True)
    assert raw is not None
    return raw


def metrics(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The four CV metrics on the scored rows (PHM08 per 100 rows: a 100-engine file's scale)."""
    capped = np.minimum(y, CAPPED_TRUTH)
    return {
        "rmse_true": rmse(pred, y),
        "rmse_capped": rmse(pred, capped),
        "phm08_true_per100": 100 * phm08_score(pred, y) / y.size,
        "phm08_capped_per100": 100 * phm08_score(pred, capped) / y.size,
    }


def main() -> None:
    """Compute (or load) out-of-fold predictions and print every candidate's CV metrics."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--subset", default="FD001")
    ap.add_argument("--oof", type=Path, required=True, help="cache of out-of-fold predictions")
    ap.add_argument("--min-cycle", type=int, default=31)
    args = ap.parse_args()

    params = RulParams()
    t = read_trajectories(Path(args.data) / f"train_{args.subset}.txt")
    if args.oof.is_file():
        raw = np.load(args.oof, allow_pickle=False)["raw"]
    else:
        raw = out_of_fold(t, params)
        np.savez(args.oof, raw=raw)
    rul = t.rul()
    sel = (t.cycle >= args.min_cycle) & (rul <= 145)
    n_point = len(params.seeds) + len(params.no_hi_seeds)
    rows = []
    for name, rule in params.point_rule_grid():
        point, low, high = combine_members(
            raw[sel], n_point, params.cap, params.interval_scale, **rule
        )
        m = metrics(point, rul[sel])
        capped = np.minimum(rul[sel], CAPPED_TRUTH)
        m["coverage"] = float(np.mean((capped >= low) & (capped <= high)))
        rows.append({"candidate": name, **{k: round(v, 4) for k, v in m.items()}})
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
