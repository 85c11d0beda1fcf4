"""Build the site manifest an edge sends to register its site, and its content hash."""

from __future__ import annotations

import hashlib
import json

from .records import SiteManifest
from .site import SiteConfig


def manifest_hash(config: SiteConfig) -> str:
    """Return the sha256 of what the manifest says; it changes exactly when the site changes."""
    body = {
        "site": config.site.model_dump(mode="json"),
        "asset_types": [t.model_dump(mode="json") for t in config.asset_types],
        "assets": [a.model_dump(mode="json") for a in config.assets],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def build_manifest(config: SiteConfig, seq: int) -> SiteManifest:
    """Return the manifest record of ``config`` with outbox sequence ``seq``."""
    return SiteManifest(
        seq=seq,
        site=config.site,
        asset_types=config.asset_types,
        assets=config.assets,
        hash=manifest_hash(config),
    )
