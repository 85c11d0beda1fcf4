"""Registry of model kinds: artifact ``kind`` -> numpy-only loader (catalogues are data).

The edge calls :func:`load` with the artifact path and the sha256 pinned in its site config
(``ModelRef.sha256``); nothing else decides which loader runs or whether the bytes are trusted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from egiz.models.artifacts.store import read_manifest
from egiz.models.errors import ArtifactError
from egiz.models.health.artifact import KIND as HEALTH_KIND
from egiz.models.health.artifact import load_health
from egiz.models.rul.artifact import KIND as RUL_KIND
from egiz.models.rul.artifact import load_rul
from egiz.models.rul.trend import KIND as TREND_KIND
from egiz.models.rul.trend import load_trend

#: kind -> loader(path, expected_sha256) -> (manifest, runtime object)
LOADERS: dict[str, Callable[[Path, str], tuple[dict, Any]]] = {
    RUL_KIND: load_rul,
    HEALTH_KIND: load_health,
    TREND_KIND: load_trend,
}


def load(path: Path, expected_sha256: str) -> tuple[dict, Any]:
    """Load any registered artifact, refusing it unless its sha256 equals the pinned one."""
    kind = read_manifest(Path(path)).get("kind")
    loader = LOADERS.get(kind)  # type: ignore[arg-type]
    if loader is None:
        raise ArtifactError(
            f"{path}: unknown artifact kind {kind!r} (fix: one of {', '.join(sorted(LOADERS))})"
        )
    return loader(Path(path), expected_sha256)
