"""Export a detector as plain data (hyperparameters + arrays) and rebuild it, nothing pickled.

A fitted or warmed-up detector is ``(kind, params, arrays)``: ``params`` are the ``__init__``
arguments (JSON-safe scalars), ``arrays`` every learned attribute (name ending in ``_``) as a
numpy array. An artifact writer can store params as JSON and arrays as ``.npy``; the edge
rebuilds the detector with numpy alone.

Examples
--------
>>> import numpy as np
>>> from egiz.models.anomaly import Mahalanobis
>>> det = Mahalanobis(smoothing=1).fit(np.random.default_rng(0).normal(size=(100, 2)))
>>> kind, params, arrays = export_state(det)
>>> again = import_state(kind, params, arrays)
>>> bool(np.array_equal(det.score_samples(np.ones((3, 2))), again.score_samples(np.ones((3, 2)))))
True
"""

from __future__ import annotations

import inspect
from collections import deque

import numpy as np

from egiz.models.anomaly.registry import DETECTORS as KINDS

#: Learned attributes held as deques at run time (restored with their maxlen).
_DEQUES = {"history_": "window", "recent_": "smoothing"}


def export_state(detector: object) -> tuple[str, dict, dict[str, np.ndarray]]:
    """Return ``(kind, params, arrays)`` describing the detector completely."""
    kind = next((k for k, c in KINDS.items() if type(detector) is c), None)
    if kind is None:
        raise TypeError(f"{type(detector).__name__} is not a registered detector")
    names = list(inspect.signature(type(detector).__init__).parameters)[1:]
    params = {n: getattr(detector, n) for n in names}
    arrays = {
        k: np.asarray(list(v) if isinstance(v, deque) else v)
        for k, v in vars(detector).items()
        if k.endswith("_")
    }
    return kind, params, arrays


def import_state(kind: str, params: dict, arrays: dict[str, np.ndarray]) -> object:
    """Rebuild a detector from :func:`export_state`'s output (numpy only)."""
    if kind not in KINDS:
        raise ValueError(f"unknown detector kind {kind!r} (fix: one of {', '.join(KINDS)})")
    det = KINDS[kind](**params)
    for name, value in arrays.items():
        if not name.endswith("_"):
            raise ValueError(f"{name!r} is not a learned attribute (names end in '_')")
        arr = np.asarray(value)
        if name in _DEQUES:
            maxlen = max(1, int(params[_DEQUES[name]]))
            setattr(
                det, name, deque(list(arr) if name == "history_" else arr.tolist(), maxlen=maxlen)
            )
        elif arr.ndim == 0:
            setattr(det, name, arr.item())
        else:
            setattr(det, name, arr)
    return det
