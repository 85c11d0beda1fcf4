"""Gradient-boosted trees as plain arrays, and a vectorised numpy runtime that scores them.

scikit-learn's ``HistGradientBoostingRegressor`` is trained in the cloud or on a workstation;
:func:`export_hist_gbr` copies its trees into padded integer/float arrays, and
:class:`TreeEnsemble` walks all trees of several models at once, one depth level per numpy
step. Leaf values are summed in the order scikit-learn sums them (baseline first, then tree
by tree), so the runtime's output is bit-for-bit the training-time model's output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Array names of a packed ensemble, in the order an artifact stores them.
FIELDS = ("feature", "threshold", "left", "right", "value", "leaf", "missing_left")


def export_hist_gbr(model) -> dict[str, np.ndarray]:
    """Copy a fitted single-output ``HistGradientBoostingRegressor`` into plain arrays.

    Returns a dict of ``FIELDS`` arrays of shape ``(n_trees, max_nodes)`` plus ``baseline``
    (shape ``(1,)``); unused node slots are leaves of value 0 that are never reached.
    """
    if getattr(model, "n_trees_per_iteration_", 1) != 1:
        raise ValueError("only single-output regressors can be exported")
    trees = [p.nodes for it in model._predictors for p in it]
    if any(t["is_categorical"].any() for t in trees):
        raise ValueError("categorical splits are not supported by the numpy runtime")
    width = max(t.shape[0] for t in trees)
    out = {
        "feature": np.zeros((len(trees), width), np.int32),
        "threshold": np.zeros((len(trees), width), np.float64),
        "left": np.zeros((len(trees), width), np.int32),
        "right": np.zeros((len(trees), width), np.int32),
        "value": np.zeros((len(trees), width), np.float64),
        "leaf": np.ones((len(trees), width), bool),
        "missing_left": np.zeros((len(trees), width), bool),
    }
    for i, t in enumerate(trees):  # once per export, not on the scoring path
        n = t.shape[0]
        out["feature"][i, :n] = t["feature_idx"]
        out["threshold"][i, :n] = t["num_threshold"]
        out["left"][i, :n] = t["left"]
        out["right"][i, :n] = t["right"]
        out["value"][i, :n] = t["value"]
        out["leaf"][i, :n] = t["is_leaf"].astype(bool)
        out["missing_left"][i, :n] = t["missing_go_to_left"].astype(bool)
    out["baseline"] = np.asarray(model._baseline_prediction, np.float64).reshape(1)
    return out


@dataclass
class TreeEnsemble:
    """Several boosted-tree models packed together; ``predict`` returns one column each.

    Examples
    --------
    >>> from sklearn.ensemble import HistGradientBoostingRegressor
    >>> X = np.random.default_rng(0).normal(size=(200, 3)); y = X[:, 0] * 2
    >>> m = HistGradientBoostingRegressor(max_iter=20).fit(X, y)
    >>> ens = TreeEnsemble.pack([export_hist_gbr(m)])
    >>> bool(np.array_equal(ens.predict(X)[:, 0], m.predict(X)))
    True
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    leaf: np.ndarray
    missing_left: np.ndarray
    offsets: np.ndarray  # (n_models + 1,) tree index where each model starts
    baseline: np.ndarray  # (n_models,)
    depth: int  # number of steps that reach a leaf in every tree

    @classmethod
    def pack(cls, models: list[dict[str, np.ndarray]]) -> TreeEnsemble:
        """Stack exported models (``export_hist_gbr`` outputs) into one ensemble."""
        width = max(m["feature"].shape[1] for m in models)

        def cat(name: str, fill) -> np.ndarray:
            parts = []
            for m in models:
                a = m[name]
                pad = np.full((a.shape[0], width - a.shape[1]), fill, a.dtype)
                parts.append(np.concatenate([a, pad], axis=1))
            return np.concatenate(parts, axis=0)

        arrays = {f: cat(f, True if f == "leaf" else 0) for f in FIELDS}
        offsets = np.cumsum([0] + [m["feature"].shape[0] for m in models]).astype(np.int64)
        baseline = np.concatenate([m["baseline"] for m in models]).astype(np.float64)
        return cls(**arrays, offsets=offsets, baseline=baseline, depth=_depth(arrays))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for an artifact (``depth`` is recomputed on load)."""
        out = {f: getattr(self, f) for f in FIELDS}
        out["offsets"] = self.offsets
        out["baseline"] = self.baseline
        return out

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> TreeEnsemble:
        """Rebuild from :meth:`to_arrays` output, checking shapes and index ranges."""
        arrays = {f: np.asarray(a[f]) for f in FIELDS}
        shape = arrays["feature"].shape
        if any(v.shape != shape for v in arrays.values()):
            raise ValueError("tree arrays have inconsistent shapes")
        for f in ("left", "right"):
            if arrays[f].min(initial=0) < 0 or arrays[f].max(initial=0) >= shape[1]:
                raise ValueError(f"tree array {f!r} points outside its tree")
        offsets = np.asarray(a["offsets"], np.int64)
        if offsets[0] != 0 or offsets[-1] != shape[0] or np.any(np.diff(offsets) <= 0):
            raise ValueError("tree offsets do not partition the trees")
        baseline = np.asarray(a["baseline"], np.float64)
        return cls(**arrays, offsets=offsets, baseline=baseline, depth=_depth(arrays))

    @property
    def n_models(self) -> int:
        """Number of packed models (output columns)."""
        return int(self.baseline.shape[0])

    def __post_init__(self) -> None:
        t, m = self.feature.shape
        base = (np.arange(t, dtype=np.int64) * m)[:, None]
        own = base + np.arange(m)[None, :]
        # Flat tables where a leaf's children are itself: the walk needs no leaf test, and
        # every lookup is one 1-D take (far cheaper than 2-D fancy indexing per step).
        self._feat = self.feature.ravel().astype(np.intp)
        self._thr = self.threshold.ravel()
        self._left = np.where(self.leaf, own, base + self.left).ravel()
        self._right = np.where(self.leaf, own, base + self.right).ravel()
        self._mleft = self.missing_left.ravel()
        self._value = self.value.ravel()
        self._roots = base.ravel()
        # Leaf sums of all models in one sequential cumsum: each model's trees in a row of a
        # (n_models, most trees) table, padded with a pointer to an extra 0.0 column; adding
        # trailing zeros leaves a sequential float sum bit for bit unchanged.
        sizes = np.diff(self.offsets)
        slot = np.arange(int(sizes.max()))[None, :]
        self._sum_index = np.where(slot < sizes[:, None], self.offsets[:-1, None] + slot, t)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Scores of every packed model, shape ``(n_samples, n_models)``."""
        X = np.asarray(X, dtype=np.float64)
        n = X.shape[0]
        has_nan = bool(np.isnan(X).any())
        if n <= self.SMALL_BATCH:
            idx = self._walk_decided(X, has_nan)
        else:
            idx = self._walk_levels(X, has_nan)
        leaf_values = np.concatenate([self._value.take(idx), np.zeros((n, 1))], axis=1)
        # Sequential sums (baseline first, then each tree in order) match sklearn bit for bit.
        table = leaf_values[:, self._sum_index]  # (n, n_models, most trees)
        table = np.concatenate(
            [np.broadcast_to(self.baseline[None, :, None], (n, self.n_models, 1)), table], axis=2
        )
        return np.cumsum(table, axis=2)[:, :, -1]

    #: Up to this many rows, every node's decision is taken at once and the walk is one take
    #: per level (the edge's one-asset call: a few dozen numpy calls instead of ~100); larger
    #: batches walk level by level, touching only the nodes on each row's path.
    SMALL_BATCH = 4

    def _walk_decided(self, X: np.ndarray, has_nan: bool) -> np.ndarray:
        n, size = X.shape[0], self._feat.size
        x = X.take(self._feat, axis=1)  # (n, every node slot)
        go_left = x <= self._thr
        if has_nan:
            go_left = np.where(np.isnan(x), self._mleft, go_left)
        # Each row's next node from every node (a leaf's is itself), then one take per level.
        nxt = np.where(go_left, self._left, self._right).ravel()
        idx = np.broadcast_to(self._roots[None, :], (n, self._roots.size))
        if n == 1:
            for _ in range(self.depth):
                idx = nxt.take(idx)
            return idx
        row = (np.arange(n, dtype=np.intp) * size)[:, None]  # row r's table starts here
        for _ in range(self.depth):
            idx = nxt.take(idx + row)
        return idx

    def _walk_levels(self, X: np.ndarray, has_nan: bool) -> np.ndarray:
        n = X.shape[0]
        offset = (np.arange(n, dtype=np.intp) * X.shape[1])[:, None]
        flat_x = X.ravel()
        idx = np.broadcast_to(self._roots[None, :], (n, self._roots.size))
        for _ in range(self.depth):
            x = flat_x.take(offset + self._feat.take(idx))
            go_left = x <= self._thr.take(idx)
            if has_nan:
                go_left = np.where(np.isnan(x), self._mleft.take(idx), go_left)
            idx = np.where(go_left, self._left.take(idx), self._right.take(idx))
        return idx


def _depth(a: dict[str, np.ndarray]) -> int:
    """Longest root-to-leaf path over all trees (steps the runtime must take)."""
    t, m = a["feature"].shape
    depth = np.zeros((t, m), np.int64)
    # Children always have larger indices than parents in sklearn's node layout, so one
    # forward sweep over node slots (vectorised over trees) propagates depths.
    rows = np.arange(t)
    for j in range(m):
        inner = ~a["leaf"][:, j]
        d = depth[:, j] + 1
        depth[rows[inner], a["left"][inner, j]] = d[inner]
        depth[rows[inner], a["right"][inner, j]] = d[inner]
    return int(depth.max())
