"""Versioned model artifacts on disk: ``arrays.npz`` + ``manifest.json``, pinned by sha256.

Layout of an artifact directory::

    manifest.json   name, version, asset type, inputs, window length, features, outputs,
                    training data sha256, metrics, files {name: sha256}, and "sha256"
    arrays.npz      every learned array (loaded with allow_pickle=False: nothing is unpickled)

The artifact's sha256 is the hash of the canonical JSON of the manifest *without* its own
"sha256" key; since the manifest lists the sha256 of every file, it covers the arrays too.
A self-consistent forgery (arrays altered, file hash and artifact hash rewritten) passes
:func:`verify_artifact` but not :func:`load_artifact`, whose expected hash is pinned outside
the artifact (the site config's ``ModelRef.sha256``).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from egiz.models.errors import ArtifactError

MANIFEST = "manifest.json"
ARRAYS = "arrays.npz"
FORMAT = 1


def _canonical(manifest: dict) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "sha256"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def artifact_sha256(manifest: dict) -> str:
    """The artifact hash: sha256 of the manifest's canonical JSON minus its "sha256" key."""
    return hashlib.sha256(_canonical(manifest)).hexdigest()


def save_artifact(path: Path, manifest: dict, arrays: dict[str, np.ndarray]) -> str:
    """Write an artifact directory (must not exist or be empty) and return its sha256."""
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise ArtifactError(f"{path}: directory is not empty (fix: choose a new --out)")
    path.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    # Deterministic bytes: a fixed member order; numpy writes no timestamps in .npy headers,
    # and the zip entries get a fixed date so retraining yields the same hash.
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.save(member, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, member.getvalue())
    data = buf.getvalue()
    (path / ARRAYS).write_bytes(data)
    full = dict(manifest)
    full["format"] = FORMAT
    full["files"] = {ARRAYS: hashlib.sha256(data).hexdigest()}
    full["sha256"] = artifact_sha256(full)
    (path / MANIFEST).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n", "utf-8")
    return full["sha256"]


def read_manifest(path: Path) -> dict:
    """Parse ``manifest.json`` of an artifact directory."""
    f = Path(path) / MANIFEST
    try:
        manifest = json.loads(f.read_text("utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{f}: no manifest (fix: point at an artifact directory)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtifactError(f"{f}: manifest is not valid JSON: {err}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"{f}: not an egiz artifact manifest of format {FORMAT}")
    return manifest


def verify_artifact(path: Path) -> dict:
    """Check the artifact is self-consistent (files match the manifest, manifest its hash)."""
    path = Path(path)
    manifest = read_manifest(path)
    if artifact_sha256(manifest) != manifest.get("sha256"):
        raise ArtifactError(f"{path}: manifest sha256 does not match its content (altered?)")
    for name, digest in manifest.get("files", {}).items():
        if "/" in name or "\\" in name or name.startswith("."):
            raise ArtifactError(f"{path}: manifest lists an unsafe file name {name!r}")
        f = path / name
        if not f.is_file() or hashlib.sha256(f.read_bytes()).hexdigest() != digest:
            raise ArtifactError(f"{f}: content does not match the manifest's sha256 (altered?)")
    return manifest


def load_artifact(path: Path, expected_sha256: str) -> tuple[dict, dict[str, np.ndarray]]:
    """Load an artifact only if its sha256 equals the pinned ``expected_sha256``.

    Returns ``(manifest, arrays)``. The pin must come from outside the artifact (the site
    config's ``ModelRef.sha256``); arrays are read with ``allow_pickle=False``.
    """
    manifest = verify_artifact(path)
    if manifest["sha256"] != expected_sha256.lower():
        raise ArtifactError(
            f"{path}: artifact sha256 {manifest['sha256']} is not the pinned "
            f"{expected_sha256} (fix: pin the hash `egiz model inspect` prints, or restore "
            "the artifact that was pinned)"
        )
    data = (Path(path) / ARRAYS).read_bytes()
    # Re-check the bytes actually parsed, so a swap between verify and read is caught too.
    if hashlib.sha256(data).hexdigest() != manifest["files"][ARRAYS]:
        raise ArtifactError(f"{path / ARRAYS}: changed while loading")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as err:
        raise ArtifactError(f"{path / ARRAYS}: unreadable arrays: {err}") from None
    return manifest, arrays
