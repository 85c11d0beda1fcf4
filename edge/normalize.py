"""Normalize: source reference → (asset, signal), canonical units, quality, range flags.

Pure, vectorized functions over a SampleBatch; the only per-reference Python work happens once,
when a source first mentions a reference (MQTT topics appear as they come).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egiz.contracts import SiteConfig
from egiz.contracts.units import UNITS, conversion

from .samples import BAD, RefTable, SampleBatch


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every (asset, signal) of the site as a dense series id, with its valid range."""

    keys: tuple[tuple[str, str], ...]  # series id -> (asset, signal)
    index: dict[tuple[str, str], int]
    units: tuple[str, ...]  # canonical unit per series
    lo: np.ndarray  # valid range per series; -inf/inf when the type declares none
    hi: np.ndarray
    asset_of: np.ndarray  # asset number per series (series are numbered asset by asset)

    @classmethod
    def from_site(cls, config: SiteConfig) -> Catalog:
        """Build the catalogue from the site's assets and their types' signals."""
        types = {t.name: t for t in config.asset_types}
        keys, units, lo, hi, asset_of = [], [], [], [], []
        for number, asset in enumerate(config.assets):
            for spec in types[asset.type].signals:
                keys.append((asset.id, spec.name))
                asset_of.append(number)
                units.append(spec.unit)
                lo.append(spec.range[0] if spec.range else -np.inf)
                hi.append(spec.range[1] if spec.range else np.inf)
        return cls(
            tuple(keys),
            {k: i for i, k in enumerate(keys)},
            tuple(units),
            np.asarray(lo, dtype=np.float64),
            np.asarray(hi, dtype=np.float64),
            np.asarray(asset_of, dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.keys)


@dataclass(slots=True)
class Normalized:
    """A normalized batch: series ids and canonical values, ready for windowing."""

    series: np.ndarray  # int32
    ts: np.ndarray  # float64 epoch seconds, source time (receive time where the source had none)
    value: np.ndarray  # float64, canonical unit
    quality: np.ndarray  # uint8
    out_of_range: np.ndarray  # bool
    unmapped: int = 0  # samples whose reference names no known asset signal (dropped, counted)
    ts_fallback: int = 0  # samples stamped with receive time because the source gave none


class RefMap:
    """One source's reference table compiled to arrays; grows when the source adds refs."""

    def __init__(self, refs: RefTable, catalog: Catalog) -> None:
        self.refs = refs
        self.catalog = catalog
        self.series = np.zeros(0, dtype=np.int32)
        self.scale = np.zeros(0, dtype=np.float64)
        self.offset = np.zeros(0, dtype=np.float64)
        self.problems: dict[int, str] = {}  # ref -> why it maps to nothing

    def sync(self) -> list[str]:
        """Compile refs added since the last call; return the problems found in them."""
        start = len(self.series)
        if start == len(self.refs):
            return []
        series, scale, offset, problems = [], [], [], []
        for i in range(start, len(self.refs)):
            r = self.refs.refs[i]
            sid = self.catalog.index.get((r.asset, r.signal), -1)
            s, o = 1.0, 0.0
            if sid < 0:
                why = f"{r.asset}.{r.signal}: no such asset signal in the site config"
            elif r.unit is not None and r.unit != self.catalog.units[sid]:
                why = ""
                try:
                    s, o = conversion(r.unit, self.catalog.units[sid])
                except (KeyError, ValueError) as err:
                    why = f"{r.asset}.{r.signal}: {err}"
                    sid = -1
            else:
                why = ""
            if why:
                self.problems[i] = why
                problems.append(why)
            series.append(sid)
            scale.append(s)
            offset.append(o)
        self.series = np.concatenate([self.series, np.asarray(series, dtype=np.int32)])
        self.scale = np.concatenate([self.scale, np.asarray(scale, dtype=np.float64)])
        self.offset = np.concatenate([self.offset, np.asarray(offset, dtype=np.float64)])
        return problems


def normalize(batch: SampleBatch, refmap: RefMap) -> Normalized:
    """Map, convert, stamp and flag one batch (call ``refmap.sync()`` first for new refs)."""
    # np.take rather than fancy indexing: the same gather, a third of the time.
    series = np.take(refmap.series, batch.ref)
    known = series >= 0
    unmapped = int(series.shape[0] - np.count_nonzero(known))
    ref = batch.ref
    ts, value, quality = batch.ts, batch.value, batch.quality
    if unmapped:
        series, ref, ts, value, quality = (
            series[known],
            ref[known],
            ts[known],
            value[known],
            quality[known],
        )
    value = np.take(refmap.scale, ref) * value
    value += np.take(refmap.offset, ref)
    missing = np.isnan(ts)
    fallback = int(np.count_nonzero(missing))
    if fallback:
        ts = np.where(missing, batch.received, ts)
    oor = value < np.take(refmap.catalog.lo, series)
    oor |= value > np.take(refmap.catalog.hi, series)
    nan = np.isnan(value)
    if nan.any():
        # A source that delivered no number (a string, an empty variant) gave a bad sample.
        quality = np.where(nan, np.uint8(BAD), quality)
    return Normalized(series, ts, value, quality, oor, unmapped, fallback)


__all__ = ["UNITS", "Catalog", "Normalized", "RefMap", "normalize"]
