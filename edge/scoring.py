"""The model runner: pinned artifacts score each asset's model windows (health, anomaly, RUL).

Edge windows (e.g. 10 s) are aggregated per asset into the health model's window length (its
manifest's ``window_length``, e.g. 1 h): per signal the count-weighted mean of the window
means. When the last edge window of a model window closes (or a later one shows up after a
gap), the model window is scored and its :class:`ModelScores` ride on that edge window's
summary. Artifacts load only through ``egiz.models.registry.load`` with the sha256 pinned in
the site config, at construction: an agent never starts with a refused artifact.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from egiz.contracts import ModelScores, RulEstimate, SiteConfig
from egiz.contracts.errors import ConfigError
from egiz.models import registry
from egiz.models.errors import ModelError
from egiz.models.health.artifact import KIND as HEALTH_KIND
from egiz.models.health.index import HEALTH_AT_THRESHOLD, distance_from_health
from egiz.models.rul.trend import KIND as TREND_KIND

from .ledger import EdgeLedger, open_edge_ledger
from .window import WindowResult


class ModelRunner(Protocol):
    """Anything that turns an asset's window into scores, or None when it has no model."""

    def score(self, window: WindowResult) -> ModelScores | None: ...


class PassThrough:
    """The runner for a site without models: no scores."""

    def score(self, window: WindowResult) -> ModelScores | None:
        """Return None: no model is loaded for any asset."""
        return None


@dataclass
class TypeModels:
    """The loaded artifacts of one asset type: a health model and optionally a RUL model."""

    health_manifest: dict
    health: Any  # egiz.models.health.asset.AssetHealth
    window_s: float
    rul_manifest: dict | None = None
    rul: Any = None  # egiz.models.rul.trend.HealthTrendRul

    @property
    def name(self) -> str:
        """Model name shown in scores (the RUL model's joined on when there is one)."""
        m = self.health_manifest["name"]
        return m if self.rul_manifest is None else f"{m}+{self.rul_manifest['name']}"

    @property
    def version(self) -> str:
        """Model version shown in scores."""
        v = self.health_manifest["version"]
        return v if self.rul_manifest is None else f"{v}+{self.rul_manifest['version']}"


def _artifact_kind(path: Path) -> str:
    """The manifest's kind, or 'artifact' when even the manifest cannot be read."""
    try:
        return str(registry.read_manifest(path).get("kind") or "artifact")
    except (ModelError, OSError, ValueError):
        return "artifact"


def record_model_change(
    ledger: EdgeLedger, asset_type: str, path: Path, sha256: str,
    manifest: dict | None = None, refused: str | None = None,
) -> None:  # fmt: skip
    """Ledger an artifact loaded for the first time, a changed sha256, or a refusal.

    One chain subject per (asset type, artifact kind). The same artifact loaded again at a
    restart is no change; an identical refusal repeated by a restart loop is ledgered once."""
    kind = manifest["kind"] if manifest else _artifact_kind(path)
    subject = f"{asset_type}/{kind}"
    history = ledger.about("model_change", subject)
    data: dict[str, Any] = {"asset_type": asset_type, "kind": kind, "artifact": str(path),
                            "sha256": sha256}  # fmt: skip
    if refused is not None:
        last = history[-1].data if history else {}
        if last.get("event") == "refused" and last.get("sha256") == sha256 \
                and last.get("reason") == refused:  # fmt: skip
            return
        ledger.append("model_change", "edge", subject, {**data, "event": "refused",
                                                         "reason": refused})  # fmt: skip
        return
    assert manifest is not None
    data |= {"name": manifest.get("name"), "version": manifest.get("version")}
    accepted = [e for e in history if e.data.get("event") in ("loaded", "changed")]
    if not accepted:
        ledger.append("model_change", "edge", subject, {**data, "event": "loaded"})
    elif accepted[-1].data.get("sha256") != sha256:
        ledger.append("model_change", "edge", subject, {
            **data, "event": "changed", "previous_sha256": accepted[-1].data.get("sha256"),
            "previous_version": accepted[-1].data.get("version"),
        })  # fmt: skip


def load_models(
    config: SiteConfig, base_dir: Path, ledger: EdgeLedger | None = None
) -> dict[str, TypeModels]:
    """Load every pinned artifact of the site, by asset type; refuse with one clear line.

    With a ``ledger``, first loads, sha256 changes and refusals become ``model_change``
    entries of the edge's chain (a refusal is ledgered before the agent stops)."""
    loaded: dict[str, list[tuple[str, dict, Any]]] = {}
    for i, ref in enumerate(config.models):
        path = Path(ref.artifact)
        path = path if path.is_absolute() else base_dir / path
        try:
            manifest, obj = registry.load(path, ref.sha256)
        except ModelError as err:
            if ledger is not None:
                record_model_change(ledger, ref.asset_type, path, ref.sha256, refused=str(err))
            raise ConfigError(f"models[{i}] ({ref.asset_type}): refused: {err}") from None
        if ledger is not None:
            record_model_change(ledger, ref.asset_type, path, ref.sha256, manifest)
        loaded.setdefault(ref.asset_type, []).append((str(path), manifest, obj))
    out = {}
    for atype, arts in loaded.items():
        by_kind = {m["kind"]: (p, m, o) for p, m, o in arts}
        if HEALTH_KIND not in by_kind:
            raise ConfigError(
                f"models ({atype}): no {HEALTH_KIND!r} artifact pinned (fix: pin the health "
                f"model `egiz model train-sim` wrote beside the other artifacts of {atype})"
            )
        path, hm, health = by_kind[HEALTH_KIND]
        _check_inputs(config, atype, path, hm)
        tm = TypeModels(hm, health, float(hm["window_length"]))
        if TREND_KIND in by_kind:
            _, tm.rul_manifest, tm.rul = by_kind[TREND_KIND]
        out[atype] = tm
    return out


def _check_inputs(config: SiteConfig, atype: str, path: str, manifest: dict) -> None:
    """The model's inputs must be signals of the asset type, in the same units."""
    at = next(t for t in config.asset_types if t.name == atype)
    units = {s.name: s.unit for s in at.signals}
    for inp in manifest["inputs"]:
        sig, unit = inp["signal"], inp.get("unit", "")
        if sig not in units:
            raise ConfigError(
                f"models ({atype}): {path}: input signal {sig!r} is not a signal of asset type "
                f"{atype!r} (fix: pin a model trained for this asset type's signals)"
            )
        if unit and unit != units[sig]:
            raise ConfigError(
                f"models ({atype}): {path}: input {sig!r} is in {unit!r}, the asset type's "
                f"signal in {units[sig]!r} (fix: a model trained in the site's units)"
            )


class AssetScorer:
    """One asset's model state: the open model window's sums and the streaming health/RUL."""

    def __init__(self, models: TypeModels) -> None:
        self.models = models
        self.signals = [i["signal"] for i in models.health_manifest["inputs"]]
        self.k: int | None = None  # index of the open model window
        self.sums = np.zeros(len(self.signals))
        self.counts = np.zeros(len(self.signals))
        self.runner = models.health.runner()
        span = models.rul.span if models.rul is not None else 1
        self.history = np.full(span, np.nan)  # trailing health values for the RUL trend
        #: After a maintenance reset: windows starting earlier (data time) hold pre-maintenance
        #: samples and are not scored; one faulty window would poison the fresh smoothing.
        self.skip_before: float | None = None

    def add(self, w: WindowResult) -> ModelScores | None:
        """Fold one edge window in; score when it completes (or skips past) a model window."""
        if self.skip_before is not None and w.start < self.skip_before:
            return None
        L = self.models.window_s
        k = math.floor(w.start / L)
        scores = None
        if self.k is not None and k > self.k:
            scores = self._close()  # a gap: the old model window ends without its last piece
        self.k = k
        means = np.array([w.signals.get(s, {}).get("mean", np.nan) for s in self.signals])
        counts = np.array([w.signals.get(s, {}).get("count", 0) for s in self.signals], float)
        ok = np.isfinite(means) & (counts > 0)
        self.sums += np.where(ok, means * counts, 0.0)
        self.counts += np.where(ok, counts, 0.0)
        if w.start + w.length_s >= (k + 1) * L - 1e-9:
            scores = self._close()
        return scores

    def _close(self) -> ModelScores:
        with np.errstate(invalid="ignore", divide="ignore"):
            means = self.sums / self.counts
        self.sums[:] = 0.0
        self.counts[:] = 0.0
        self.k = None
        out = self.runner.update(means)
        health = out["health"]
        self.history = np.r_[self.history[1:], np.nan if health is None else health]
        rul = None
        if self.models.rul is not None:
            v, lo, hi = (float(a[0]) for a in self.models.rul.predict(self.history[None, :]))
            if math.isfinite(v):
                rul = RulEstimate(value=round(v, 1), low=round(lo, 1), high=round(hi, 1), unit="h")
        # Anomaly score: the index's fused distance in units of its calibrated threshold
        # (1.0 = the declared false-alarm-rate threshold, health 50), recovered exactly from
        # health by the index's own inverse (its tail past 512 thresholds is logarithmic).
        anomaly = None if health is None else float(distance_from_health(health))
        return ModelScores(
            model=self.models.name,
            version=self.models.version,
            anomaly=None if anomaly is None else round(anomaly, 4),
            anomalous=None if health is None else health < HEALTH_AT_THRESHOLD,
            health=None if health is None else round(min(max(health, 0.0), 100.0), 2),
            rul=rul,
            explanation={e["feature"]: float(e["share"]) for e in out["explain"]},
        )

    def reset(self, what: list[str], data_time: float | None = None) -> dict[str, Any]:
        """Start afresh after maintenance; return what was dropped (for the ledger).

        ``health_baseline``: the streaming health state (feature smoothing, thermal lag, settle
        history, alarm rule), the open model window (its sums mix pre-maintenance data) and
        the RUL trend, which extrapolates the health of a machine that no longer exists; edge
        windows starting before ``data_time`` (the newest sample the edge had seen) are then
        skipped, since they still hold pre-maintenance samples. ``rul_trend``: the trend alone."""
        dropped: dict[str, Any] = {"rul_points": int(np.isfinite(self.history).sum())}
        if "health_baseline" in what:
            dropped |= {"smoothed_windows": len(self.runner.recent),
                        "alarm_active": bool(self.runner.rule.state().get("active", False)),
                        "open_window_samples": int(self.counts.sum())}  # fmt: skip
            self.runner = self.models.health.runner()
            self.k = None
            self.sums[:] = 0.0
            self.counts[:] = 0.0
            if data_time is not None and math.isfinite(data_time):
                self.skip_before = data_time
                dropped["scoring_from"] = data_time
        self.history[:] = np.nan
        return dropped

    def state(self) -> dict:
        """Plain-data state (JSON-safe) for the outbox's meta table."""
        return {**self.open_state(), **self.model_state()}

    def open_state(self) -> dict:
        """The open model window's part of :meth:`state` (it changes with every edge window)."""
        return {"k": self.k, "sums": self.sums.tolist(), "counts": self.counts.tolist()}

    def model_state(self) -> dict:
        """The rest of :meth:`state`: it changes only when a model window closes, or a reset."""
        return {
            "runner": self.runner.state(),
            "history": [None if not math.isfinite(h) else h for h in self.history.tolist()],
            "skip_before": self.skip_before,
        }

    def restore(self, state: dict) -> None:
        """Continue from :meth:`state`'s output."""
        self.k = state["k"]
        self.sums = np.asarray(state["sums"], float)
        self.counts = np.asarray(state["counts"], float)
        self.runner.restore(state["runner"])
        h = np.array([np.nan if v is None else v for v in state["history"]], float)
        n = min(h.size, self.history.size)
        if n:
            self.history[-n:] = h[-n:]
        self.skip_before = state.get("skip_before")


#: Outbox meta keys of the model state: ``models/<asset>`` and ``models/<asset>/open``
#: (asset ids are slugs, never holding a "/").
STATE_PREFIX = "models/"
OPEN_SUFFIX = "/open"


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def row_asset(key: str) -> str:
    """The asset a ``models/...`` meta key belongs to."""
    return key.removeprefix(STATE_PREFIX).removesuffix(OPEN_SUFFIX)


def state_from_rows(rows: dict[str, str]) -> dict[str, dict]:
    """Each asset's :meth:`EdgeModels.state` from its meta rows (:meth:`EdgeModels.state_rows`).

    An asset needs its ``models/<asset>`` row; its ``/open`` row, when there is one, holds the
    newest open model window (it is written with every change, the other row less often)."""
    model: dict[str, dict] = {}
    opened: dict[str, dict] = {}
    for key, value in rows.items():
        (opened if key.endswith(OPEN_SUFFIX) else model)[row_asset(key)] = json.loads(value)
    out = {}
    for asset, st in model.items():
        merged = {**st, **opened.get(asset, {})}
        if all(k in merged for k in ("k", "sums", "counts", "runner", "history")):
            out[asset] = merged
    return out


class EdgeModels:
    """The agent's runner: per asset, aggregate edge windows and score the model windows."""

    def __init__(
        self, config: SiteConfig, base_dir: str | Path = ".", ledger: EdgeLedger | None = None
    ) -> None:
        self.by_type = load_models(config, Path(base_dir), ledger)
        self.assets: dict[str, AssetScorer] = {
            a.id: AssetScorer(self.by_type[a.type]) for a in config.assets if a.type in self.by_type
        }
        #: Assets whose state changed since it was last saved (the agent saves only these)...
        self._unsaved: set[str] = set()
        #: ... and those whose model state (not just the open window) did, or was never saved.
        self._unsaved_model: set[str] = set(self.assets)

    @classmethod
    def ledgered(cls, config: SiteConfig, base_dir: str | Path = ".") -> EdgeModels:
        """Load as the agent does: artifact changes and refusals go into the edge ledger.

        Only with control enabled: the edge ledger (and its signed head) exists only then."""
        if not config.control.enabled:
            return cls(config, base_dir)
        ledger = open_edge_ledger(config, base_dir)
        try:
            return cls(config, base_dir, ledger)
        finally:
            ledger.close()

    def reset(self, asset: str, what: list[str], data_time: float | None = None) -> dict[str, Any]:
        """Reset an asset's model state after maintenance; KeyError when it has no model.

        ``data_time``: the newest data time the edge has seen (windows before it are skipped)."""
        scorer = self.assets.get(asset)
        if scorer is None:
            raise KeyError(f"no model is pinned for asset {asset!r} at this edge")
        self._unsaved.add(asset)
        self._unsaved_model.add(asset)
        return {"model": self._pin(scorer), **scorer.reset(what, data_time)}

    def score(self, window: WindowResult) -> ModelScores | None:
        """Scores when this window completes its asset's model window, else None."""
        scorer = self.assets.get(window.asset)
        if scorer is None:
            return None
        self._unsaved.add(window.asset)
        scores = scorer.add(window)
        if scores is not None:  # a model window closed: the runner and the trend moved on
            self._unsaved_model.add(window.asset)
        return scores

    def state(self, assets: Iterable[str] | None = None) -> dict[str, dict]:
        """Each asset's state (every asset's, or those in ``assets``), keyed by asset id, with
        the pinned hashes it belongs to."""
        names = self.assets if assets is None else [a for a in assets if a in self.assets]
        return {a: {"model": self._pin(self.assets[a]), **self.assets[a].state()} for a in names}

    def unsaved(self) -> set[str]:
        """Assets whose state changed (a window folded in, a reset) since :meth:`saved`."""
        return set(self._unsaved)

    def saved(self, assets: Iterable[str]) -> None:
        """The rows :meth:`state_rows` gave for ``assets`` are durable (committed)."""
        done = set(assets)
        self._unsaved -= done
        self._unsaved_model -= done

    def state_rows(self, assets: Iterable[str], full: bool = False) -> dict[str, str]:
        """Outbox meta rows holding the state of ``assets``: ``models/<asset>/open`` (the open
        model window: a few hundred bytes) always, ``models/<asset>`` (pin, health runner,
        trend: most of the state) only when it changed since saved, or with ``full``."""
        names = [a for a in sorted(assets) if a in self.assets]
        out = {}
        for a in names:
            if full or a in self._unsaved_model:
                s = self.assets[a]
                out[STATE_PREFIX + a] = _dumps({"model": self._pin(s), **s.model_state()})
        # The open rows last: inserted together, they share database pages (rows are stored in
        # insertion order), so rewriting all of them rewrites few pages, not every model row's.
        for a in names:
            out[STATE_PREFIX + a + OPEN_SUFFIX] = _dumps(self.assets[a].open_state())
        return out

    def restore(self, state: dict[str, dict]) -> set[str]:
        """Resume assets whose saved state belongs to the same pinned models (else start over).

        Returns the assets resumed; saved state of an asset not in the config, or of other
        pinned models, is ignored (the agent deletes it)."""
        resumed = set()
        for asset, st in state.items():
            scorer = self.assets.get(asset)
            if scorer is not None and st.get("model") == self._pin(scorer):
                scorer.restore(st)
                resumed.add(asset)
                self._unsaved_model.discard(asset)
        return resumed

    @staticmethod
    def _pin(s: AssetScorer) -> str:
        r = s.models.rul_manifest
        return s.models.health_manifest["sha256"] + ("+" + r["sha256"] if r else "")

    def describe(self) -> list[str]:
        """One line per asset type: what is loaded (for `egiz edge check`)."""
        lines = []
        for atype, tm in sorted(self.by_type.items()):
            n = sum(1 for s in self.assets.values() if s.models is tm)
            rul = tm.rul_manifest
            lines.append(
                f"model {tm.health_manifest['name']} {tm.health_manifest['version']} for "
                f"{atype} ({n} assets): health + anomaly over {tm.window_s:g} s windows, "
                + (f"RUL {rul['name']} {rul['version']}" if rul else "no RUL")
                + f"; sha256 {tm.health_manifest['sha256'][:12]}… verified"
            )
        return lines
