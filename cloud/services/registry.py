"""The twin registry through the API: engineers register or update a site's digital master."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime

from ..errors import InvalidInput
from ..schemas import SitePublic, SiteRegistration, SitesPublic
from ..store import Store, WriteSet
from ..store.base import AssetRow, AssetTypeRow, SiteRow
from .auth import Action, Principal, authorize

#: Epoch recorded for manifests given through the API (edges use their outbox epochs).
API_EPOCH = "api"


def register_site(store: Store, user: Principal, site: str, body: SiteRegistration) -> SitePublic:
    """Register or update ``site`` from ``body`` as an edge's manifest would (assets left out
    are retired); the site keeps the edge that owns it."""
    authorize(user, Action.configure, site)
    if body.site.id != site:
        raise InvalidInput(f"body site.id {body.site.id!r} differs from the path's {site!r}")
    types = {t.name for t in body.asset_types}
    missing = sorted({a.type for a in body.assets} - types)
    if missing:
        raise InvalidInput(f"assets use unknown asset types: {', '.join(missing)}")
    ids = [a.id for a in body.assets]
    if len(set(ids)) != len(ids):
        raise InvalidInput("asset ids must be unique within the site")
    digest = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    now = time.time()
    old = store.site(site)
    owner = old.edge_id if old else None
    # WriteSet of a manifest without records: edge_id "" touches no edge row.
    ws = WriteSet(edge_id="", epoch=API_EPOCH, received_at=now)
    ws.site = SiteRow(site, body.site.name, body.site.enterprise, owner, digest, API_EPOCH, 0, now)
    ws.asset_types = [AssetTypeRow(site, t.name, t.model_dump_json()) for t in body.asset_types]
    ws.assets = [AssetRow(site, a.id, a.type, a.name, a.area, a.line, json.dumps(a.attributes))
                 for a in body.assets]  # fmt: skip
    store.write(ws)
    return _public(store.site(site))  # type: ignore[arg-type]


def _public(s: SiteRow) -> SitePublic:
    return SitePublic(
        site=s.site, name=s.name, enterprise=s.enterprise, edge_id=s.edge_id,
        manifest_hash=s.manifest_hash, updated_at=datetime.fromtimestamp(s.updated_at, UTC),
    )  # fmt: skip


def list_sites(store: Store, user: Principal) -> SitesPublic:
    """Return the sites the user may read."""
    allowed = user.sites(Action.read)
    data = [_public(s) for s in store.sites() if allowed is None or s.site in allowed]
    return SitesPublic(data=data, count=len(data))
