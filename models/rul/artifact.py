"""Save a :class:`RulRuntime` as an artifact and load it back, numpy only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from egiz.models.artifacts.store import load_artifact, save_artifact
from egiz.models.artifacts.trees import TreeEnsemble
from egiz.models.errors import ArtifactError
from egiz.models.rul.features import FeatureSpec
from egiz.models.rul.regimes import RegimeNormalizer
from egiz.models.rul.runtime import RulRuntime

KIND = "rul-gbt"

#: C-MAPSS inputs in the order the runtime expects them (settings, then sensors s1..s21).
CMAPSS_INPUTS = [
    {"signal": "op_setting_1", "unit": "kft"},
    {"signal": "op_setting_2", "unit": "Mach"},
    {"signal": "op_setting_3", "unit": "deg"},
] + [{"signal": f"s{i}", "unit": "raw"} for i in range(1, 22)]


def rul_manifest(
    runtime: RulRuntime,
    *,
    name: str,
    version: str,
    asset_type: str,
    inputs: list[dict],
    training_sha256: str,
    metrics: dict,
    signals: list[str],
) -> dict:
    """The manifest fields of a RUL artifact (the store adds files and sha256)."""
    kept = [s for s, k in zip(signals, runtime.normalizer.keep_, strict=True) if k]
    return {
        "name": name,
        "version": version,
        "kind": KIND,
        "asset_type": asset_type,
        "inputs": inputs,
        "window_length": runtime.spec.length,
        "window_unit": "cycle",
        "features": runtime.spec.names([*kept, "hi"]),
        "feature_spec": runtime.spec.to_json(),
        "outputs": [
            {"name": "rul", "unit": "cycle", "cap": runtime.cap},
            {"name": "rul_low", "unit": "cycle", "quantile": runtime.quantiles[0]},
            {"name": "rul_high", "unit": "cycle", "quantile": runtime.quantiles[-1]},
        ],
        "n_point_models": runtime.n_point,
        "quantiles": list(runtime.quantiles),
        "interval_scale": runtime.interval_scale,
        "early_shift": runtime.early_shift,
        "phm08_shrink": runtime.phm08_shrink,
        "hi_intercept": runtime.hi_intercept,
        "training_data_sha256": training_sha256,
        "metrics": metrics,
    }


def save_rul(path: Path, runtime: RulRuntime, manifest: dict) -> str:
    """Write the runtime's arrays and ``manifest`` to ``path``; return the artifact sha256."""
    arrays = {f"trees_{k}": v for k, v in runtime.ensemble.to_arrays().items()}
    arrays.update(runtime.normalizer.to_arrays())
    arrays["hi_coef"] = runtime.hi_coef
    return save_artifact(path, manifest, arrays)


def load_rul(path: Path, expected_sha256: str) -> tuple[dict, RulRuntime]:
    """Load a RUL artifact pinned by ``expected_sha256`` into a numpy runtime."""
    manifest, a = load_artifact(path, expected_sha256)
    if manifest.get("kind") != KIND:
        raise ArtifactError(f"{path}: artifact kind {manifest.get('kind')!r} is not {KIND!r}")
    try:
        trees = {k.removeprefix("trees_"): v for k, v in a.items() if k.startswith("trees_")}
        runtime = RulRuntime(
            normalizer=RegimeNormalizer.from_arrays(a),
            hi_coef=np.asarray(a["hi_coef"], np.float64),
            hi_intercept=float(manifest["hi_intercept"]),
            spec=FeatureSpec.from_json(manifest["feature_spec"]),
            ensemble=TreeEnsemble.from_arrays(trees),
            n_point=int(manifest["n_point_models"]),
            quantiles=tuple(float(q) for q in manifest["quantiles"]),
            cap=float(manifest["outputs"][0]["cap"]),
            interval_scale=float(manifest["interval_scale"]),
            # Artifacts from before the point rule existed averaged the members plainly.
            early_shift=float(manifest.get("early_shift", 0.0)),
            phm08_shrink=float(manifest.get("phm08_shrink", 0.0)),
        )
    except (KeyError, ValueError, TypeError) as err:
        raise ArtifactError(f"{path}: artifact content is inconsistent: {err}") from None
    n_features = len(manifest["features"])
    if runtime.ensemble.feature.max() >= n_features:
        raise ArtifactError(f"{path}: trees use a feature beyond the {n_features} declared")
    return manifest, runtime
