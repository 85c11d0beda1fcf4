"""Physics residuals: how far a signal is from what its asset type's first-principles relation expects.

Each relation is textbook physics with a few coefficients fitted by least squares on a HEALTHY
baseline of window means (one row per window, oldest first), so a residual is ~0 while the asset
is as it was and moves when the physics changes (wear, fouling, lost efficiency):

- ``affinity`` — centrifugal machines (Gülich, *Centrifugal Pumps*, ch. 3; Karassik): at speed
  n and flow Q, similarity gives ``y / n**k = f(Q / n)`` with k = 3 for shaft power and k = 2
  for head (pressure rise); f is a quadratic fitted on healthy windows. Residual: the relative
  gap ``y / (n**k f(Q/n)) − 1``.
- ``thermal`` — a first-order thermal model (lumped capacitance; Fitzgerald & Kingsley for
  windings, IEEE C57.91 for top oil): ``C dT/dt = P_loss − (T − T_amb)/R``, losses ∝ u**p
  (p = 2 for copper losses I²R, 1 for friction heat ∝ power). Discretised per window with
  a = exp(−Δt/τ): the rise follows ``lowpass(u**p)``. τ is chosen from a small grid, gain and
  offset by least squares. Residual: measured minus modelled temperature, in the signal's unit.
- ``linear`` — a balance linear in known products of signals (belt conveyor drive power
  ``P = v (F_empty + F_load)`` per ISO 5048, mill power ∝ n J (1 − 0.937 J) after Austin):
  ``y = c0 + Σ c_j Π x``. Residual: relative gap.

Everything is vectorized numpy; the relations are data (:data:`RELATIONS`, keyed by asset type).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> n = rng.uniform(800, 900, 300); q = rng.uniform(1500, 2500, 300)
>>> p = n**3 * (1e-6 + 2e-10 * q / n * 1e3) * 1e-3
>>> names = ["flow", "speed", "shaft_power"]
>>> M = np.c_[q, n, p]
>>> res = PhysicsResiduals("centrifugal_pump", names).fit(M)
>>> res.names_
['affinity_power']
>>> bool(np.abs(res.transform(M)).max() < 1e-6)
True
>>> worn = M.copy(); worn[:, 2] *= 1.05
>>> round(float(res.transform(worn).mean()), 3)
0.05
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Relation:
    """One first-principles relation: kind, the signal it predicts and the signals it uses."""

    name: str
    kind: str  # "affinity" | "thermal" | "linear"
    target: str
    inputs: tuple[str, ...]
    #: affinity: speed exponent k; thermal: loss exponent p.
    exponent: float = 1.0
    #: affinity: a signal subtracted from target (suction from discharge pressure).
    minus: str | None = None
    #: thermal: ambient temperature signal, if the asset measures one.
    ambient: str | None = None
    #: linear: each term is a product of input signals.
    terms: tuple[tuple[str, ...], ...] = ()


#: Relations by asset type (catalogues are data). A relation applies when all its signals exist.
RELATIONS: dict[str, tuple[Relation, ...]] = {
    "centrifugal_pump": (
        Relation("affinity_power", "affinity", "shaft_power", ("flow", "speed"), 3.0),
        Relation(
            "affinity_head",
            "affinity",
            "discharge_pressure",
            ("flow", "speed"),
            2.0,
            minus="suction_pressure",
        ),
        Relation("bearing_thermal", "thermal", "bearing_temp", ("shaft_power",), 1.0),
    ),
    "induction_motor": (
        Relation("winding_thermal", "thermal", "winding_temp", ("current",), 2.0),
        Relation("bearing_thermal", "thermal", "bearing_temp", ("power",), 1.0),
    ),
    "belt_conveyor": (
        Relation(
            "drive_power",
            "linear",
            "power",
            ("belt_speed", "feed_rate"),
            terms=(("belt_speed",), ("feed_rate",)),
        ),
        Relation("drive_bearing_thermal", "thermal", "drive_bearing_temp", ("power",), 1.0),
    ),
    "grinding_mill": (
        Relation(
            "mill_power",
            "linear",
            "power",
            ("speed", "charge_level"),
            terms=(("speed", "charge_level"), ("speed", "charge_level", "charge_level")),
        ),
        Relation("trunnion_feed_thermal", "thermal", "trunnion_temp_feed", ("power",), 1.0),
        Relation(
            "trunnion_discharge_thermal", "thermal", "trunnion_temp_discharge", ("power",), 1.0
        ),
    ),
    "transformer": (
        Relation(
            "top_oil_thermal", "thermal", "top_oil_temp", ("load",), 2.0, ambient="ambient_temp"
        ),
        Relation("hot_spot_rise", "thermal", "hot_spot_temp", ("load",), 2.0, "top_oil_temp"),
    ),
}

#: Candidate thermal time constants, in windows (fitted per relation on healthy data).
TAUS = np.array([0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0])


def ffill(x: np.ndarray) -> np.ndarray:
    """Carry the last finite value forward along axis 0 (leading NaNs take the first value).

    Examples
    --------
    >>> ffill(np.array([np.nan, 1.0, np.nan, 3.0])).tolist()
    [1.0, 1.0, 1.0, 3.0]
    """
    x = np.asarray(x, dtype=float)
    ok = np.isfinite(x)
    if not ok.any():
        return np.zeros_like(x)
    idx = np.where(ok, np.arange(x.size), 0)
    np.maximum.accumulate(idx, out=idx)
    idx[: np.argmax(ok)] = np.argmax(ok)
    return x[idx]


def lowpass(u: np.ndarray, tau: float, y0: float | None = None) -> np.ndarray:
    """First-order lag ``y[k] = a y[k−1] + (1 − a) u[k]``, a = exp(−1/τ), y[−1] = y0 or u[0].

    Vectorized as a causal convolution with the truncated kernel ``(1 − a) a**j`` (terms below
    1e-12 dropped), so it matches the recursion the edge runs one window at a time.

    Examples
    --------
    >>> lowpass(np.array([0.0, 1.0, 1.0, 1.0]), 1.0).round(3).tolist()
    [0.0, 0.632, 0.865, 0.95]
    """
    u = ffill(u)
    a = float(np.exp(-1.0 / tau))
    m = int(min(u.size, max(1, np.ceil(np.log(1e-12) / np.log(a))))) if a > 0 else 1
    kernel = (1.0 - a) * a ** np.arange(m)
    y = np.convolve(u, kernel)[: u.size]
    # The start-up state y[-1] decays as a**(k+1).
    start = u[0] if y0 is None or not np.isfinite(y0) else y0
    return y + start * a ** (np.arange(u.size) + 1.0) * (np.arange(u.size) < m)


def _col(M: np.ndarray, names: list[str], s: str) -> np.ndarray:
    return M[:, names.index(s)]


def _design(
    rel: Relation, M: np.ndarray, names: list[str], tau: float, y0: float | None = None
) -> tuple:
    """(regressors A, target y, fit weight) of one relation: least squares on (y − A c) / weight."""
    y = _col(M, names, rel.target)
    if rel.minus:
        y = y - _col(M, names, rel.minus)
    if rel.kind == "affinity":
        q, n = _col(M, names, rel.inputs[0]), _col(M, names, rel.inputs[1])
        nk = np.maximum(np.abs(n), 1e-9) ** rel.exponent
        x = q / np.maximum(np.abs(n), 1e-9)
        return np.c_[np.ones_like(x), x, x * x] * nk[:, None], y, np.abs(y) + 1e-9
    if rel.kind == "thermal":
        if rel.ambient:
            y = y - _col(M, names, rel.ambient)
        drive = lowpass(np.abs(_col(M, names, rel.inputs[0])) ** rel.exponent, tau, y0)
        return np.c_[np.ones_like(drive), drive], y, np.ones_like(y)
    cols = [np.prod([_col(M, names, s) for s in t], axis=0) for t in rel.terms]
    return np.c_[np.ones(M.shape[0]), *cols], y, np.abs(y) + 1e-9


class PhysicsResiduals:
    """Fit an asset type's relations on healthy window means; transform windows to residuals.

    Parameters
    ----------
    asset_type : str
        Key of :data:`RELATIONS`; relations whose signals are missing are skipped.
    signals : list of str
        Column names of the window-mean matrices passed to ``fit`` and ``transform``.
    """

    def __init__(self, asset_type: str, signals: list[str]) -> None:
        self.asset_type = asset_type
        self.signals = list(signals)

    def fit(self, M: np.ndarray, healthy: np.ndarray | None = None) -> PhysicsResiduals:
        """Least-squares coefficients (and τ for thermal relations) on rows where ``healthy``.

        ``M`` is the full sequence of window means (thermal lags need the history); only the
        ``healthy`` rows enter the fit.
        """
        M = np.asarray(M, dtype=float)
        ok = np.ones(M.shape[0], bool) if healthy is None else np.asarray(healthy, bool)
        rels = [
            r
            for r in RELATIONS.get(self.asset_type, ())
            if {r.target, *r.inputs, *(x for x in (r.minus, r.ambient) if x)} <= set(self.signals)
        ]
        self.names_ = [r.name for r in rels]
        coefs, taus = [], []
        for r in rels:
            best = None
            for tau in TAUS if r.kind == "thermal" else TAUS[:1]:
                A, y, norm = _design(r, M, self.signals, float(tau))
                use = ok & np.isfinite(A).all(axis=1) & np.isfinite(y)
                c, *_ = np.linalg.lstsq(A[use] / norm[use, None], y[use] / norm[use], rcond=None)
                err = float(np.mean(((y[use] - A[use] @ c) / norm[use]) ** 2))
                if best is None or err < best[0]:
                    best = (err, c, tau)
            coefs.append(np.pad(best[1], (0, 3 - best[1].size)))
            taus.append(best[2])
        self.coef_ = np.asarray(coefs, dtype=float).reshape(len(rels), 3)
        self.tau_ = np.asarray(taus, dtype=float)
        return self

    def relations(self) -> list[Relation]:
        """The fitted relations, in column order of :meth:`transform`."""
        by_name = {r.name: r for r in RELATIONS.get(self.asset_type, ())}
        return [by_name[n] for n in self.names_]

    def transform(self, M: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        """Residuals ``(n_windows, n_relations)``: relative for affinity/linear, kelvin for thermal.

        ``state`` holds each thermal relation's lag output before the first row (from
        :meth:`lag_state` of the previous call), so scoring one window at a time equals scoring
        the whole sequence; NaN or None starts the lag at the first row's load.
        """
        M = np.asarray(M, dtype=float)
        out = np.empty((M.shape[0], len(self.names_)))
        for j, r in enumerate(self.relations()):
            y0 = None if state is None else float(state[j])
            A, y, _ = _design(r, M, self.signals, float(self.tau_[j]), y0)
            pred = A @ self.coef_[j, : A.shape[1]]
            rel = r.kind != "thermal"
            out[:, j] = (y - pred) / np.maximum(np.abs(pred), 1e-9) if rel else y - pred
        return out

    def lag_state(self, M: np.ndarray, state: np.ndarray | None = None) -> np.ndarray:
        """Each thermal relation's lag output after the last row of ``M`` (NaN for others)."""
        M = np.asarray(M, dtype=float)
        out = np.full(len(self.names_), np.nan)
        for j, r in enumerate(self.relations()):
            if r.kind == "thermal":
                y0 = None if state is None else float(state[j])
                u = np.abs(_col(M, self.signals, r.inputs[0])) ** r.exponent
                out[j] = lowpass(u, float(self.tau_[j]), y0)[-1]
        return out
