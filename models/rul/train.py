"""Train the RUL model with scikit-learn and export it to a numpy-only :class:`RulRuntime`.

Recipe (hyperparameters frozen in :class:`RulParams`, chosen by 5-fold cross-validation
grouped by engine on train_FD001 only; see docs/model-quality.md):
piecewise-linear target capped at 125 cycles; sensors z-scored per operating regime, constant
and two-level sensors dropped; a linear health index (ridge on the normalised sensors) added as
one more channel; means, least-squares slopes, min/max and exponentially weighted means over
several window lengths up to 300 cycles, plus the cycle count; one sample per cycle of every
training engine; the point estimate averages boosted-tree ensembles of several seeds, and
two quantile ensembles give the 10 %/90 % interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from threadpoolctl import threadpool_limits

from egiz.models.artifacts.trees import TreeEnsemble, export_hist_gbr
from egiz.models.rul.features import FeatureSpec
from egiz.models.rul.regimes import RegimeNormalizer
from egiz.models.rul.runtime import RulRuntime


@dataclass(frozen=True)
class RulParams:
    """Frozen hyperparameters of the RUL recipe (the same for FD001–FD004)."""

    cap: float = 125.0
    spec: FeatureSpec = field(
        # 300 cycles (grouped CV, 2 + 1 seeds, RMSE true/capped: 120 -> 10.52/8.87, 160 ->
        # 10.36/8.70, 200 -> 10.29/8.61, 300 -> 10.22/8.55; PHM08 fell alike): long-lived
        # engines keep their early, healthy level in view, which sets their baseline.
        default_factory=lambda: FeatureSpec(
            length=300,
            means=(5, 10, 20, 50, 120, 200, 300),
            slopes=(10, 20, 50, 120, 200, 300),
            extremes=(30,),
            ewm_alphas=(0.01, 0.02, 0.05, 0.1, 0.3),
            cycle=True,
        )
    )
    #: Seeds of the point members that see every feature ...
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    #: ... and of those that do not see the health-index channel (a second view of the data).
    #: Grouped CV over 1-5 full-view x 0-3 no-health-index seeds: 5 + 1 improved all four CV
    #: metrics (RMSE and PHM08, true and capped) the most over the earlier 3 + 1.
    no_hi_seeds: tuple[int, ...] = (0,)
    max_iter: int = 300
    learning_rate: float = 0.06
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 100
    l2_regularization: float = 1.0
    max_features: float = 0.5
    quantiles: tuple[float, ...] = (0.1, 0.9)
    quantile_max_iter: int = 150
    #: The quantile GBMs' band is widened by this factor around the point estimate: fitted
    #: in-sample they under-cover held-out engines. Grouped CV on train_FD001: 1.0 -> 63 %,
    #: 1.4 -> 76 %, 1.6 -> 80 % (nominal for 10-90 %), 2.0 -> 85 % coverage.
    interval_scale: float = 1.6
    #: Point rule (egiz.models.rul.runtime.combine_members): cycles moved earlier, and the
    #: fraction of the way to the PHM08-optimal point for the band's spread. Chosen by grouped
    #: CV with the joint rule declared in docs/model-quality.md (round 3): the only admissible
    #: candidate (CV RMSE each <= +0.5 %, CV PHM08 capped not up) was a 0.5-cycle shift, CV
    #: RMSE 10.17 -> 10.21 true, 8.51 -> 8.49 capped, PHM08/100 rows 153.9 -> 151.7 true,
    #: 123.6 -> 120.4 capped; shrinking toward the PHM08-optimal point cost more RMSE.
    early_shift: float = 0.5
    phm08_shrink: float = 0.0
    hi_alpha: float = 1.0
    #: Monotone constraints: RUL never rises with the cycle count and rises with the health
    #: index level (its means, EWMs, min/max); slopes are left free.
    monotone: bool = False

    def point_rule_grid(self) -> list[tuple[str, dict]]:
        """The round-3 point-rule candidates (declared in docs/model-quality.md before CV ran)."""
        grid = [("frozen (plain mean)", {"early_shift": 0.0, "phm08_shrink": 0.0})]
        grid += [(f"shift -{b:g}", {"early_shift": b}) for b in (0.5, 1.0, 1.5, 2.0, 3.0)]
        grid += [(f"PHM08 shrink {lam:g}", {"phm08_shrink": lam}) for lam in (0.25, 0.5, 0.75, 1.0)]
        return grid

    def monotonic_cst(self, n_channels: int) -> np.ndarray | None:
        """Per-feature constraint for HistGradientBoosting (last channel is the health index)."""
        if not self.monotone:
            return None
        names = self.spec.names([f"c{i}" for i in range(n_channels - 1)] + ["hi"])
        cst = [
            -1 if n == "cycle" else 1 if n.startswith("hi.") and ".slope" not in n else 0
            for n in names
        ]
        return np.asarray(cst, np.int64)

    def gbm(self, seed: int, **overrides) -> HistGradientBoostingRegressor:
        """One boosted-tree regressor (early stopping off: it would hold out random rows)."""
        kw = dict(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            max_features=self.max_features,
            early_stopping=False,
            random_state=seed,
        )
        kw.update(overrides)
        return HistGradientBoostingRegressor(**kw)


@dataclass
class TrainedRul:
    """The numpy runtime plus the scikit-learn models it was exported from (for checks)."""

    runtime: RulRuntime
    estimators: list[HistGradientBoostingRegressor]
    #: Feature columns each estimator was fitted on (its input is ``X[:, columns[k]]``).
    columns: list[np.ndarray]


def fit_rul(
    settings: np.ndarray,
    sensors: np.ndarray,
    unit: np.ndarray,
    cycle: np.ndarray,
    rul: np.ndarray,
    params: RulParams | None = None,
) -> TrainedRul:
    """Fit on run-to-failure trajectories ordered by (unit, cycle); ``rul`` is uncapped."""
    p = params or RulParams()
    target = np.minimum(np.asarray(rul, np.float64), p.cap)
    norm = RegimeNormalizer().fit(settings, sensors)
    z = norm.transform(settings, sensors)
    ridge = Ridge(alpha=p.hi_alpha).fit(z, target)
    runtime = RulRuntime(
        normalizer=norm,
        hi_coef=np.asarray(ridge.coef_, np.float64),
        hi_intercept=float(ridge.intercept_),
        spec=p.spec,
        ensemble=None,  # type: ignore[arg-type]  # set below once the trees exist
        n_point=len(p.seeds) + len(p.no_hi_seeds),
        quantiles=p.quantiles,
        cap=p.cap,
        interval_scale=p.interval_scale,
        early_shift=p.early_shift,
        phm08_shrink=p.phm08_shrink,
    )
    X = runtime.features(settings, sensors, unit, cycle)
    names = p.spec.names([f"c{i}" for i in range(z.shape[1])] + ["hi"])
    every = np.arange(X.shape[1])
    no_hi = np.flatnonzero([not n.startswith("hi.") for n in names])
    cst = p.monotonic_cst(z.shape[1] + 1)
    members = [(every, p.gbm(s, monotonic_cst=cst)) for s in p.seeds]
    members += [
        (no_hi, p.gbm(s, monotonic_cst=None if cst is None else cst[no_hi])) for s in p.no_hi_seeds
    ]
    members += [
        (
            every,
            p.gbm(0, loss="quantile", quantile=q, max_iter=p.quantile_max_iter, monotonic_cst=cst),
        )
        for q in p.quantiles
    ]
    # One OpenMP thread: on a busy machine (CI, a shared workstation) oversubscribed OpenMP
    # threads made each fit ~6x slower than one thread; threadpoolctl ships with scikit-learn.
    with threadpool_limits(limits=1, user_api="openmp"):
        for cols, est in members:
            est.fit(X[:, cols], target)
    exported = []
    for cols, est in members:
        e = export_hist_gbr(est)
        e["feature"] = cols[e["feature"]].astype(np.int32)  # back to full-matrix columns
        exported.append(e)
    runtime.ensemble = TreeEnsemble.pack(exported)
    return TrainedRul(runtime, [e for _, e in members], [c for c, _ in members])
