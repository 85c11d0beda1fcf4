"""Save a fitted :class:`AssetHealth` as a pinned artifact (kind ``health-index``), load it numpy-only.

Manifest (JSON): asset type, signals, window length, the fitted relations, the health index's
hyperparameters and learned scalars, the alarm rule, feature names and outputs. Arrays
(``arrays.npz``, read with ``allow_pickle=False``): the index's learned arrays (prefix
``index.``) and the relations' coefficients and time constants (prefix ``residuals.``).

Examples
--------
>>> import tempfile
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> M = np.c_[rng.uniform(1, 2, 300), 60 + rng.normal(0, .2, 300)]
>>> m = AssetHealth("induction_motor", ["current", "winding_temp"]).fit(M)
>>> d = Path(tempfile.mkdtemp()) / "h"
>>> sha = save_health(d, m, health_manifest(m, name="motor-health", version="1.0.0",
...     window_s=3600, units={"current": "A", "winding_temp": "degC"},
...     training_sha256="0" * 64, metrics={}))
>>> _, again = load_health(d, sha)
>>> bool(np.array_equal(m.health(M), again.health(M)))
True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from egiz.models.anomaly.state import export_state, import_state
from egiz.models.artifacts.store import load_artifact, save_artifact
from egiz.models.errors import ArtifactError
from egiz.models.features.residuals import PhysicsResiduals
from egiz.models.health.asset import AssetHealth

KIND = "health-index"


def health_manifest(
    model: AssetHealth,
    *,
    name: str,
    version: str,
    window_s: float,
    units: dict[str, str],
    training_sha256: str,
    metrics: dict,
) -> dict:
    """The manifest fields of a health-index artifact (the store adds files and sha256)."""
    _, index_params, _ = export_state(model.index_)
    return {
        "name": name,
        "version": version,
        "kind": KIND,
        "asset_type": model.asset_type,
        "inputs": [{"signal": s, "unit": units.get(s, "")} for s in model.signals],
        "window_length": window_s,
        "window_unit": "s",
        "features": list(model.features_),
        "relations": list(model.residuals_.names_),
        "index_params": index_params,
        "alarm": dict(model.alarm_params),
        "settle": model.settle,
        "outputs": [
            {"name": "health_index", "unit": "1", "range": [0, 100]},
            {"name": "health_alarm", "unit": "bool"},
        ],
        "training_data_sha256": training_sha256,
        "metrics": metrics,
    }


def save_health(path: Path, model: AssetHealth, manifest: dict) -> str:
    """Write the model's arrays and ``manifest`` to ``path``; return the artifact sha256."""
    _, _, arrays = export_state(model.index_)
    scalars = {k: v.item() for k, v in arrays.items() if v.ndim == 0}
    out = {f"index.{k}": v for k, v in arrays.items() if v.ndim > 0}
    out["residuals.coef_"] = model.residuals_.coef_
    out["residuals.tau_"] = model.residuals_.tau_
    return save_artifact(path, {**manifest, "scalar_state": scalars}, out)


def load_health(path: Path, expected_sha256: str) -> tuple[dict, AssetHealth]:
    """Load a health-index artifact pinned by ``expected_sha256`` (numpy only)."""
    manifest, arrays = load_artifact(path, expected_sha256)
    if manifest.get("kind") != KIND:
        raise ArtifactError(f"{path}: artifact kind {manifest.get('kind')!r} is not {KIND!r}")
    try:
        signals = [i["signal"] for i in manifest["inputs"]]
        model = AssetHealth(
            manifest["asset_type"],
            signals,
            manifest["index_params"],
            manifest["alarm"],
            manifest["settle"],
        )
        state = {k.removeprefix("index."): v for k, v in arrays.items() if k.startswith("index.")}
        state.update({k: np.asarray(v) for k, v in manifest["scalar_state"].items()})
        model.index_ = import_state("health_index", manifest["index_params"], state)
        res = PhysicsResiduals(manifest["asset_type"], signals)
        res.names_ = list(manifest["relations"])
        res.coef_, res.tau_ = arrays["residuals.coef_"], arrays["residuals.tau_"]
        res.relations()  # every named relation must exist in this build's catalogue
        model.residuals_ = res
        model.features_ = list(manifest["features"])
    except (KeyError, ValueError, TypeError) as err:
        raise ArtifactError(f"{path}: artifact content is inconsistent: {err}") from None
    return manifest, model
