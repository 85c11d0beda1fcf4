"""Reads of the digital master and shadow: assets, their latest values, and their history."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from egiz.contracts import ModelScores, Quality, split_global_id

from ..errors import NotFound
from ..schemas import AssetPublic, AssetsPublic, HistoryPoint, HistoryPublic, SignalLatest
from ..store import Store
from ..store.base import AssetRow, ShadowRow
from .rollup import resolution_for

MAX_HISTORY = 10_000
RESOLUTIONS = {"raw": 0, "1m": 60, "1h": 3600}
TIER_NAMES = {v: k for k, v in RESOLUTIONS.items()}


def _dt(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def quality(count: int, bad: int, uncertain: int) -> Quality:
    """Summarize a window's sample qualities: bad when no sample was usable."""
    if count == 0 or bad >= count:
        return Quality.bad
    if bad or uncertain:
        return Quality.uncertain
    return Quality.good


class _Catalogue:
    """Signal specs of every asset type of the sites read, loaded once per request."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._types: dict[str, dict[str, dict]] = {}
        self._enterprise: dict[str, str] = {s.site: s.enterprise for s in store.sites()}

    def signals(self, site: str, type_name: str) -> dict[str, dict]:
        if site not in self._types:
            self._types[site] = {
                t.name: {s["name"]: s for s in json.loads(t.body)["signals"]}
                for t in self._store.asset_types(site)
            }
        return self._types[site].get(type_name, {})

    def enterprise(self, site: str) -> str:
        return self._enterprise.get(site, "egiz")


def _signals(cat: _Catalogue, a: AssetRow, shadow: list[ShadowRow]) -> list[SignalLatest]:
    specs = cat.signals(a.site, a.type)
    by_name = {s.signal: s for s in shadow}
    out = []
    # Every signal of the type is listed (with no value until data comes), in catalogue order.
    for name in [*specs, *sorted(set(by_name) - set(specs))]:
        spec, s = specs.get(name, {}), by_name.get(name)
        base = {"name": name, "unit": spec.get("unit", ""), "kind": spec.get("kind", "other")}
        if s is None:
            out.append(SignalLatest(**base))
            continue
        out.append(
            SignalLatest(
                **base, value=s.value, ts=_dt(s.ts), quality=quality(s.count, s.bad, s.uncertain),
                window_start=_dt(s.start), window_length_s=s.length_s, count=s.count, bad=s.bad,
                uncertain=s.uncertain, out_of_range=s.out_of_range,
            )
        )  # fmt: skip
    return out


def _public(
    cat: _Catalogue, a: AssetRow, shadow: list[ShadowRow] | None, scores: ModelScores | None = None
) -> AssetPublic:
    enterprise = cat.enterprise(a.site)
    path = [enterprise, a.site, a.area, *([a.line] if a.line else []), a.asset]
    signals = None if shadow is None else _signals(cat, a, shadow)
    updated = max((s.start for s in shadow), default=None) if shadow else None
    return AssetPublic(
        id=f"{a.site}.{a.asset}", site=a.site, asset=a.asset, type=a.type, name=a.name,
        enterprise=enterprise, area=a.area, line=a.line, path=path,
        attributes=json.loads(a.attributes), signals=signals, scores=scores, updated=_dt(updated),
    )  # fmt: skip


def list_assets(
    store: Store,
    site: str | None = None,
    latest: bool = False,
    sites: set[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> AssetsPublic:
    """Return every active asset (of one site, of ``sites``), with the shadow when ``latest``."""
    cat = _Catalogue(store)
    rows = [a for a in store.assets(site) if sites is None or a.site in sites]
    rows = rows[offset : None if limit is None else offset + limit]
    grouped: dict[tuple[str, str], list[ShadowRow]] = {}
    if latest:
        for s in store.shadow(site):
            grouped.setdefault((s.site, s.asset), []).append(s)
    data = [_public(cat, a, grouped.get((a.site, a.asset), []) if latest else None) for a in rows]
    return AssetsPublic(data=data, count=len(data))


def _find(store: Store, gid: str) -> AssetRow:
    try:
        site, asset = split_global_id(gid)
    except ValueError as err:
        raise NotFound(str(err)) from None
    for a in store.assets(site):
        if a.asset == asset:
            return a
    raise NotFound(f"no asset {gid!r} (see GET /api/v1/assets)")


def get_asset(store: Store, gid: str) -> AssetPublic:
    """Return asset ``<site>.<asset>`` with the latest value and quality of every signal."""
    a = _find(store, gid)
    sc = store.latest_scores(a.site, a.asset)
    scores = ModelScores.model_validate_json(sc.body) if sc else None
    return _public(_Catalogue(store), a, store.shadow(a.site, a.asset), scores)


def history(
    store: Store,
    gid: str,
    signal: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = MAX_HISTORY,
    resolution: str = "raw",
) -> HistoryPublic:
    """Return the window summaries (or rollups) of an asset in ``[start, end)``, oldest first.

    ``resolution``: ``raw``, ``1m``, ``1h``, or ``auto`` (by the span of start..end).
    """
    a = _find(store, gid)
    t0 = None if start is None else _epoch(start)
    t1 = None if end is None else _epoch(end)
    if resolution == "auto":
        tier = resolution_for(None if t0 is None or t1 is None else t1 - t0)
    else:
        tier = RESOLUTIONS[resolution]
    rows = store.windows(a.site, a.asset, signal, t0, t1, limit + 1, tier)
    truncated = len(rows) > limit
    data = [
        HistoryPoint(
            signal=r.signal,
            start=_dt(r.start),
            length_s=r.length_s,
            count=r.count,
            bad=r.bad,
            uncertain=r.uncertain,
            out_of_range=r.out_of_range,
            min=r.min,
            max=r.max,
            mean=r.mean,
            std=r.std,
            last=r.last,
        )
        for r in rows[:limit]
    ]
    return HistoryPublic(
        asset=gid, signal=signal, start=start, end=end, data=data, count=len(data),
        truncated=truncated, resolution=TIER_NAMES[tier],
    )  # fmt: skip


def _epoch(dt: datetime) -> float:
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


CSV_COLUMNS = ("signal", "start", "length_s", "count", "bad", "uncertain", "out_of_range",
               "min", "max", "mean", "std", "last")  # fmt: skip


def history_csv(h: HistoryPublic) -> str:
    """Return a history as CSV (one window per line, ISO 8601 UTC starts)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for p in h.data:
        row = p.model_dump()
        row["start"] = p.start.isoformat()
        w.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
    return buf.getvalue()
