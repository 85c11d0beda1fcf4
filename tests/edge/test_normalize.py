"""Normalize: mapping, unit conversion, quality, range flags, timestamp fallback."""

from __future__ import annotations

import math

import numpy as np

from egiz.contracts import SiteConfig
from egiz.edge.normalize import Catalog, RefMap, normalize
from egiz.edge.samples import BAD, GOOD, Ref, RefTable, SampleBatch

SITE = SiteConfig.model_validate(
    {
        "site": {"id": "t"},
        "asset_types": [
            {
                "name": "pump",
                "signals": [
                    {"name": "temp", "unit": "degC", "range": [-40, 200]},
                    {"name": "flow", "unit": "m3/h"},
                ],
            }
        ],
        "assets": [{"id": "p1", "type": "pump", "area": "a"}],
        "sources": [],
        "uplink": {"edge_id": "e"},
    }
)


def test_normalize_converts_flags_and_maps():
    refs = RefTable()
    refs.add(Ref("p1", "temp", "degF"))
    refs.add(Ref("p1", "flow", "L/s"))
    refs.add(Ref("p9", "temp"))  # unknown asset
    rm = RefMap(refs, Catalog.from_site(SITE))
    problems = rm.sync()
    assert len(problems) == 1 and "p9.temp" in problems[0]
    b = SampleBatch(
        np.array([0, 1, 2, 0, 0], np.int32),
        np.array([10.0, 11.0, 12.0, math.nan, 14.0]),
        np.array([212.0, 1.0, 5.0, 1000.0, math.nan]),
        np.array([GOOD] * 5, np.uint8),
        received=99.0,
    )
    n = normalize(b, rm)
    assert n.unmapped == 1 and n.ts_fallback == 1
    assert np.allclose(n.value[:3], [100.0, 3.6, (1000 - 32) * 5 / 9])
    assert n.ts[2] == 99.0  # receive time only where the source had none
    assert n.out_of_range.tolist() == [False, False, True, False]
    assert n.quality.tolist() == [GOOD, GOOD, GOOD, BAD]  # no number = bad sample


def test_normalize_refmap_grows_with_new_refs():
    refs = RefTable()
    rm = RefMap(refs, Catalog.from_site(SITE))
    refs.add(Ref("p1", "temp"))
    rm.sync()
    refs.add(Ref("p1", "flow"))
    rm.sync()
    assert rm.series.tolist() == [0, 1]
