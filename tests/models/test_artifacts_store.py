"""Artifacts: manifest hashes, the pinned-hash loader, and refusal of consistent forgeries."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from egiz.models.artifacts.store import (
    ARRAYS,
    MANIFEST,
    artifact_sha256,
    load_artifact,
    save_artifact,
    verify_artifact,
)
from egiz.models.errors import ArtifactError


def _save(tmp_path: Path) -> tuple[Path, str]:
    arrays = {"w": np.arange(6.0).reshape(2, 3), "keep": np.array([True, False])}
    sha = save_artifact(tmp_path / "a", {"name": "m", "kind": "test"}, arrays)
    return tmp_path / "a", sha


def _forge(path: Path, arrays: dict[str, np.ndarray]) -> str:
    """Rewrite arrays.npz and every hash in the manifest, as an attacker with write access."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, a in arrays.items():
            member = io.BytesIO()
            np.save(member, a, allow_pickle=False)
            zf.writestr(f"{name}.npy", member.getvalue())
    (path / ARRAYS).write_bytes(buf.getvalue())
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["files"][ARRAYS] = hashlib.sha256(buf.getvalue()).hexdigest()
    manifest["sha256"] = artifact_sha256(manifest)
    (path / MANIFEST).write_text(json.dumps(manifest))
    return manifest["sha256"]


def test_store_round_trip_with_pinned_hash(tmp_path: Path) -> None:
    """Saved arrays come back equal when the pin matches; saving twice gives the same hash."""
    path, sha = _save(tmp_path)
    manifest, arrays = load_artifact(path, sha)
    assert manifest["name"] == "m" and manifest["sha256"] == sha
    assert np.array_equal(arrays["w"], np.arange(6.0).reshape(2, 3))
    again = save_artifact(tmp_path / "b", {"name": "m", "kind": "test"}, arrays)
    assert again == sha


def test_store_refuses_inconsistently_altered_arrays(tmp_path: Path) -> None:
    """Changing a byte of the arrays without fixing the manifest fails verification."""
    path, sha = _save(tmp_path)
    data = bytearray((path / ARRAYS).read_bytes())
    data[-30] ^= 0xFF
    (path / ARRAYS).write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="does not match"):
        verify_artifact(path)
    with pytest.raises(ArtifactError):
        load_artifact(path, sha)


def test_store_refuses_consistent_forgery_against_the_pin(tmp_path: Path) -> None:
    """Arrays and both hashes rewritten: self-consistent, yet refused by the pinned loader."""
    path, sha = _save(tmp_path)
    forged = _forge(path, {"w": np.zeros((2, 3)), "keep": np.array([True, True])})
    assert verify_artifact(path)["sha256"] == forged != sha
    with pytest.raises(ArtifactError, match="not the pinned"):
        load_artifact(path, sha)


def test_store_never_unpickles(tmp_path: Path) -> None:
    """An object array smuggled into a consistent artifact is refused, not unpickled."""
    path, _ = _save(tmp_path)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        member = io.BytesIO()
        np.save(member, np.array([{"x": 1}], dtype=object), allow_pickle=True)
        zf.writestr("evil.npy", member.getvalue())
    (path / ARRAYS).write_bytes(buf.getvalue())
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["files"][ARRAYS] = hashlib.sha256(buf.getvalue()).hexdigest()
    manifest["sha256"] = artifact_sha256(manifest)
    (path / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="unreadable"):
        load_artifact(path, manifest["sha256"])


def test_store_refuses_to_overwrite(tmp_path: Path) -> None:
    """Saving into a non-empty directory is an error (artifacts are immutable versions)."""
    path, _ = _save(tmp_path)
    with pytest.raises(ArtifactError, match="not empty"):
        save_artifact(path, {"name": "m"}, {"w": np.zeros(1)})
