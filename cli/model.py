"""`egiz model`: train, evaluate (one subparser per benchmark dataset) and inspect artifacts."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from egiz.contracts.errors import EgizError
from egiz.models.errors import ModelError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    """Add `egiz model train|eval|inspect` to the command tree."""
    p = sub.add_parser("model", help="train, evaluate and inspect model artifacts")
    msub = p.add_subparsers(dest="model_command", metavar="ACTION", required=True)

    t = msub.add_parser("train", help="train a RUL model and write a versioned artifact")
    t.add_argument("--data", type=Path, required=True, help="C-MAPSS folder (NASA's layout)")
    t.add_argument("--subset", default="FD001", help="FD001..FD004 (default FD001)")
    t.add_argument("--out", type=Path, required=True, help="new artifact directory")
    t.add_argument("--name", default="turbofan-rul")
    t.add_argument("--version", default="1.0.0")
    t.add_argument("--asset-type", default="turbofan")
    t.set_defaults(func=run_train)

    e = msub.add_parser("eval", help="evaluate on a public benchmark with its protocol")
    esub = e.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    # One function per dataset keeps this group open to `skab`, `nab`, ... side by side.
    _register_eval_cmapss(esub)

    i = msub.add_parser("inspect", help="print an artifact's manifest and verify its hashes")
    i.add_argument("path", type=Path, help="artifact directory")
    i.add_argument("--sha256", help="also check the artifact against this pinned hash")
    i.set_defaults(func=run_inspect)


def _register_eval_cmapss(esub: argparse._SubParsersAction) -> None:
    c = esub.add_parser("cmapss", help="NASA C-MAPSS RUL: RMSE and PHM08 score, two conventions")
    c.add_argument("--data", type=Path, required=True, help="folder with train_/test_/RUL_ files")
    c.add_argument("--subset", default="FD001", help="FD001..FD004 (default FD001)")
    c.add_argument("--cv", action="store_true", help="also run 5-fold CV grouped by engine")
    c.add_argument("--json", action="store_true", help="print metrics as JSON, not a table")
    c.set_defaults(func=run_eval_cmapss)


def run_eval_cmapss(args: argparse.Namespace) -> int:
    """Train on the train file, score the test file once, print the table."""
    from egiz.models.eval import cmapss

    try:
        subset = cmapss.read_subset(args.data, args.subset)
        if args.cv:
            cv = cmapss.grouped_cv(subset.train)
            log.info("grouped CV on train_%s.txt: %s", args.subset, cv)
        result, _ = cmapss.evaluate(subset)
    except (ModelError, ValueError) as err:
        raise EgizError(str(err)) from None
    if args.json:
        out = result.metrics()
        if args.cv:
            out["cv"] = cv
        print(json.dumps(out, indent=2))
    else:
        print(cmapss.format_table(result))
        if args.cv:
            print(
                f"grouped {cv['folds']}-fold CV on train_{args.subset}.txt ({cv['rows']} rows): "
                f"RMSE true {cv['rmse_true_rul']:.2f}, capped {cv['rmse_capped_125']:.2f}"
            )
    return 0


def run_train(args: argparse.Namespace) -> int:
    """Train, evaluate once on the subset's test file, write the artifact, print its sha256."""
    from egiz.models.eval import cmapss
    from egiz.models.eval.cmapss_data import SENSORS
    from egiz.models.rul.artifact import CMAPSS_INPUTS, rul_manifest, save_rul

    try:
        subset = cmapss.read_subset(args.data, args.subset)
        result, trained = cmapss.evaluate(subset)
        manifest = rul_manifest(
            trained.runtime,
            name=args.name,
            version=args.version,
            asset_type=args.asset_type,
            inputs=CMAPSS_INPUTS,
            training_sha256=subset.train_sha256,
            metrics=result.metrics(),
            signals=list(SENSORS),
        )
        sha = save_rul(args.out, trained.runtime, manifest)
    except (ModelError, ValueError) as err:
        raise EgizError(str(err)) from None
    print(cmapss.format_table(result))
    print(f"artifact {args.out} sha256 {sha}")
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    """Print the manifest; exit 1 with one line if the artifact is altered or not the pin."""
    from egiz.models import registry
    from egiz.models.artifacts.store import verify_artifact

    try:
        manifest = verify_artifact(args.path)
        if args.sha256:
            registry.load(args.path, args.sha256)
    except ModelError as err:
        raise EgizError(str(err)) from None
    shown = {k: v for k, v in manifest.items() if k != "features"}
    shown["features"] = f"{len(manifest.get('features', []))} features"
    print(json.dumps(shown, indent=2, sort_keys=True))
    print(f"verified: sha256 {manifest['sha256']}" + (" matches the pin" if args.sha256 else ""))
    return 0
