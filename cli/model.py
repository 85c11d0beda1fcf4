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

    _register_train_sim(msub)

    e = msub.add_parser("eval", help="evaluate on a public benchmark with its protocol")
    esub = e.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    # One function per dataset keeps this group open to `skab`, `nab`, ... side by side.
    _register_eval_cmapss(esub)
    _register_eval_skab(esub)
    _register_eval_nab(esub)
    _register_eval_sim(esub)

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


def _register_eval_skab(esub: argparse._SubParsersAction) -> None:
    from egiz.models.anomaly import BATCH_DETECTORS

    s = esub.add_parser(
        "skab",
        help="SKAB anomalies: leaderboard protocol, F1/FAR/MAR and change-point NAB",
        description="Per file the first 400 rows train (fit, scaling, threshold) and the rest "
        "test; F1/FAR/MAR pooled over all test rows; change points scored with NAB "
        "(60 s right-sided windows), both SKAB's variant and official NAB.",
    )
    s.add_argument("--data", type=Path, required=True, help="SKAB folder (valve1/, valve2/, ...)")
    s.add_argument(
        "--detector",
        choices=[*BATCH_DETECTORS, "all"],
        default="all",
        help="batch detector with its default hyperparameters (default: all)",
    )
    s.set_defaults(func=run_eval_skab)


def _register_eval_nab(esub: argparse._SubParsersAction) -> None:
    from egiz.models.anomaly import STREAMING_DETECTORS

    n = esub.add_parser(
        "nab",
        help="NAB: standard / reward-low-FP / reward-low-FN with NAB's threshold optimisation",
        description="Run a streaming detector causally over every series of the windows file "
        "found under --data and score it with NAB v1.1's scorer: 15%% probation (at most "
        "750 rows), one threshold per profile optimised over all series pooled.",
    )
    n.add_argument("--data", type=Path, required=True, help="NAB data folder (realKnownCause/...)")
    n.add_argument("--labels", type=Path, required=True, help="NAB combined_windows.json")
    n.add_argument(
        "--detector",
        choices=list(STREAMING_DETECTORS),
        default="tail_probability",
        help="streaming detector (default: tail_probability)",
    )
    n.set_defaults(func=run_eval_nab)


def run_eval_skab(args: argparse.Namespace) -> int:
    """Run the SKAB protocol and print our numbers beside the published leaderboard."""
    from egiz.models.anomaly import BATCH_DETECTORS
    from egiz.models.eval import skab

    names = list(BATCH_DETECTORS) if args.detector == "all" else [args.detector]
    try:
        n_files = len(skab.find_files(args.data))
        results = {n: skab.evaluate(args.data, BATCH_DETECTORS[n]) for n in names}
    except (FileNotFoundError, ValueError) as err:
        raise EgizError(str(err)) from None
    print(f"SKAB {args.data}: {n_files} files; per file rows 0-399 train, rows 400+ test")
    print(
        f"{'model':28s} {'F1':>6s} {'FAR':>7s} {'MAR':>7s}   change points, NAB standard / "
        "low-FP / low-FN: SKAB's variant | official NAB"
    )
    for name, r in results.items():
        own = " / ".join(f"{r.skab_nab[p]:5.1f}" for p in skab.SKAB_NAB_PROFILES)
        cp = " / ".join(f"{r.nab_normalized[p]:5.1f}" for p in skab.nab.PROFILES)
        print(f"{'egiz ' + name:28s} {r.f1:6.3f} {r.far:7.1%} {r.mar:7.1%}   {own} | {cp}")
    print("published (34 files, SKAB leaderboard; change points by SKAB's NAB variant):")
    for name, (f1, far, mar) in skab.PUBLISHED_OUTLIER.items():
        far_s = f"{far:7.1%}" if far is not None else f"{'-':>7s}"
        mar_s = f"{mar:7.1%}" if mar is not None else f"{'-':>7s}"
        print(f"{'  ' + name:28s} {f1:6.2f} {far_s} {mar_s}")
    for name, score in skab.PUBLISHED_CP_NAB_STANDARD.items():
        print(f"{'  ' + name:28s} {'':6s} {'':7s} {'':7s}   {score:5.1f} (standard)")
    return 0


def run_eval_nab(args: argparse.Namespace) -> int:
    """Score a streaming detector NAB's way and print it beside the published scoreboard."""
    from egiz.models.anomaly import STREAMING_DETECTORS, score_stream
    from egiz.models.eval import nab

    def scores(values):  # a fresh detector per series, run causally
        return nab.to_unit_interval(score_stream(STREAMING_DETECTORS[args.detector](), values))

    try:
        r = nab.evaluate_corpus(args.data, args.labels, scores)
    except (FileNotFoundError, ValueError, KeyError) as err:
        raise EgizError(str(err)) from None
    print(f"NAB {args.data}: {len(r.files)} series, detector egiz {args.detector}")
    print(
        f"{'profile':20s} {'threshold':>9s} {'raw':>8s} {'TP':>6s} {'FP':>6s} {'FN':>6s} {'score':>6s}"
    )
    for p in nab.PROFILES:
        b = r.best[p]
        print(
            f"{p:20s} {b.threshold:9.4f} {b.score:8.3f} {b.tp:6d} {b.fp:6d} {b.fn:6d} "
            f"{r.normalized[p]:6.1f}"
        )
    print("per series, raw score at the pooled threshold (standard / low-FP / low-FN):")
    for f in r.files:
        print(f"  {f}: " + " / ".join(f"{r.per_file[p][f].score:.3f}" for p in nab.PROFILES))
    print("published NAB v1.1 corpus scores, standard profile (58 series):")
    for name, score in nab.PUBLISHED_CORPUS_STANDARD.items():
        print(f"  {name:26s} {score:5.1f}")
    return 0


def _register_eval_sim(esub: argparse._SubParsersAction) -> None:
    s = esub.add_parser(
        "sim",
        help="simulated run-to-failure: health-index early warning and false alarms",
        description="Generate runs of a simulator scenario, train one health model per asset "
        "on the healthy windows of runs with seeds SEED+1000.., and evaluate on runs with "
        "seeds SEED, SEED+1, .. until they hold --episodes degradation failures: the share "
        "warned >= 24 simulated hours ahead and false alarms per asset per 30 days.",
    )
    s.add_argument("--scenario", default="mine", help="built-in scenario name or YAML file")
    s.add_argument("--episodes", type=int, default=20, help="run-to-failure episodes (>= 20)")
    s.add_argument("--days", type=float, default=90.0, help="simulated days per run")
    s.add_argument("--seed", type=int, default=0, help="first evaluation seed")
    s.add_argument("--train-runs", type=int, default=3, help="training runs (other seeds)")
    s.add_argument("--step-s", type=float, default=60.0, help="simulation step for generation")
    s.add_argument("--cache", type=Path, help="keep generated runs here (default: a temp dir)")
    s.add_argument("--json", action="store_true", help="print metrics as JSON, not a table")
    s.set_defaults(func=run_eval_sim)


def run_eval_sim(args: argparse.Namespace) -> int:
    """Generate runs with the simulator, then run the acceptance-6 protocol of models/."""
    import tempfile

    from egiz.models.eval import earlywarning
    from egiz.simulators.errors import ScenarioError
    from egiz.simulators.generate import generate
    from egiz.simulators.scenario import load_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as err:
        raise EgizError(str(err)) from None
    types = {a.id: a.type for a in scenario.assets}
    with tempfile.TemporaryDirectory(prefix="egiz-eval-sim-") as tmp:
        root = args.cache or Path(tmp)

        def make_run(seed: int) -> Path:
            out = root / f"{scenario.name}-{args.days:g}d-{args.step_s:g}s-seed{seed}"
            if not (out / "manifest.json").is_file():
                log.info("generating %s", out)
                generate(scenario, out, args.days, seed=seed, step_s=args.step_s)
            return out

        try:
            report, protocol = earlywarning.run_protocol(
                make_run,
                types,
                episodes=args.episodes,
                seed=args.seed,
                days=args.days,
                train_runs=args.train_runs,
            )
        except (ModelError, ValueError) as err:
            raise EgizError(str(err)) from None
    if args.json:
        out = {**report.metrics(), "train_seeds": protocol.train_seeds}
        out["eval_seeds"] = protocol.eval_seeds
        out["episodes"] = report.failures
        print(json.dumps(out, indent=2))
    else:
        print(earlywarning.format_report(report, protocol, scenario.name))
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


def _register_train_sim(msub: argparse._SubParsersAction) -> None:
    s = msub.add_parser(
        "train-sim",
        help="train health + RUL artifacts per asset type on simulated run-to-failure runs",
        description="Generate runs of a simulator scenario; per asset type fit a health model "
        "on the healthy windows of training seeds SEED+1000.., calibrate a health-trend RUL "
        "model (capped target, empirical 80%% interval) on the same runs, score RUL on "
        "held-out seeds SEED, SEED+1, .. and write OUT/<asset type>/{health,rul} artifacts.",
    )
    s.add_argument("--scenario", default="mine", help="built-in scenario name or YAML file")
    s.add_argument("--out", type=Path, required=True, help="new folder for the artifacts")
    s.add_argument("--days", type=float, default=90.0, help="simulated days per run")
    s.add_argument("--seed", type=int, default=100, help="first evaluation seed")
    s.add_argument("--train-runs", type=int, default=3, help="training runs (seeds SEED+1000..)")
    s.add_argument("--eval-runs", type=int, default=5, help="held-out evaluation runs")
    s.add_argument("--types", nargs="*", help="asset types to train (default: all)")
    s.add_argument("--version", default="1.0.0")
    s.add_argument("--step-s", type=float, default=60.0, help="simulation step for generation")
    s.add_argument("--cache", type=Path, help="keep generated runs here (default: a temp dir)")
    s.set_defaults(func=run_train_sim)


def run_train_sim(args: argparse.Namespace) -> int:
    """Train and export per asset type, print held-out RUL errors and the `models:` pins."""
    import hashlib
    import tempfile

    from egiz.models.eval.simdata import read_run
    from egiz.models.rul import simtrain
    from egiz.simulators.errors import ScenarioError
    from egiz.simulators.generate import generate
    from egiz.simulators.scenario import load_scenario

    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as err:
        raise EgizError(str(err)) from None
    types = {a.id: a.type for a in scenario.assets}
    wanted = sorted(set(args.types or types.values()))
    if unknown := set(wanted) - set(types.values()):
        raise EgizError(f"--types: {sorted(unknown)} not in scenario {scenario.name!r}")
    if args.out.exists() and any(args.out.iterdir()):
        raise EgizError(f"{args.out}: directory is not empty (fix: choose a new --out)")
    with tempfile.TemporaryDirectory(prefix="egiz-train-sim-") as tmp:
        root = args.cache or Path(tmp)

        def run(seed: int):
            out = root / f"{scenario.name}-{args.days:g}d-{args.step_s:g}s-seed{seed}"
            if not (out / "manifest.json").is_file():
                log.info("generating %s", out)
                generate(scenario, out, args.days, seed=seed, step_s=args.step_s)
            return read_run(out, 3600.0)

        train_seeds = [args.seed + 1000 + i for i in range(args.train_runs)]
        eval_seeds = [args.seed + i for i in range(args.eval_runs)]
        train = [run(s) for s in train_seeds]
        held = [run(s) for s in eval_seeds]
        data_sha = hashlib.sha256("".join(r.sha256 for r in train).encode()).hexdigest()
        pins, rows = [], []
        try:
            for atype in wanted:
                health, rul = simtrain.train_type(train, types, atype)
                base = simtrain.training_mean(train, types, atype, rul.cap_h)
                score = simtrain.evaluate_type(health, rul, held, types, atype, baseline=base)
                metrics = {**score.metrics(), "train_seeds": train_seeds, "eval_seeds": eval_seeds}
                asset = simtrain.assets_of(types, atype)[0]
                shas = simtrain.export_type(
                    args.out / atype, atype, health, rul, units=simtrain.run_units(train[0], asset),
                    version=args.version, training_sha256=data_sha, metrics=metrics,
                )  # fmt: skip
                pins += [
                    (atype, args.out / atype / k, sha)
                    for k, sha in zip(("health", "rul"), shas, strict=True)
                ]
                rows.append((atype, score))
        except (ModelError, ValueError) as err:
            raise EgizError(str(err)) from None
    print(f"simulated {scenario.name}: train seeds {train_seeds}, held-out seeds {eval_seeds} "
          f"({args.days:g} days each); RUL vs the true RUL capped at {rul.cap_h:g} h")  # fmt: skip
    print(f"{'asset type':18s} {'windows':>8s} {'RMSE h':>7s} {'MAE h':>7s} {'80% int':>8s} "
          f"{'RMSE<=100h':>10s} {'const RMSE':>10s}")  # fmt: skip
    for atype, sc in rows:
        print(f"{atype:18s} {sc.windows:8d} {sc.rmse:7.1f} {sc.mae:7.1f} {sc.coverage:8.1%} "
              f"{sc.rmse_near:10.1f} {sc.baseline_rmse:10.1f}")  # fmt: skip
    print("models:  # pin these in site.yaml")
    lines = [f"  - {{asset_type: {a}, artifact: {p.resolve()}, sha256: {h}}}" for a, p, h in pins]
    print("\n".join(lines))
    # The same pins as a file, for `egiz demo --models` (written by the trainer, not re-read
    # from the artifacts: a pin taken from the artifact itself would prove nothing).
    (args.out / "models.yaml").write_text("models:\n" + "\n".join(lines) + "\n", "utf-8")
    print(f"pins written to {args.out / 'models.yaml'}")
    return 0
