"""`egiz cloud edge ...` and `egiz cloud user ...` against a real SQLite store."""

from __future__ import annotations

import pytest

from egiz.cli.main import main
from egiz.cloud.services.auth import login
from egiz.cloud.services.edges import authenticate_edge
from egiz.cloud.store import open_store


def _egiz(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_cloud_edge_lifecycle(tmp_path, capsys) -> None:
    db = f"sqlite:///{tmp_path}/c.db"
    code, out, _ = _egiz(capsys, "cloud", "edge", "add", "edge-7", "--site", "mine", "--db", db)
    assert code == 0
    token = out.strip().splitlines()[-1]
    store = open_store(db)
    try:
        assert authenticate_edge(store, f"Bearer {token}").site == "mine"
        code, out, _ = _egiz(capsys, "cloud", "edge", "list", "--db", db)
        assert code == 0 and "edge-7" in out and "active" in out
        code, _, err = _egiz(capsys, "cloud", "edge", "add", "edge-7", "--db", db)
        assert code == 1 and "exists" in err
        code, out, _ = _egiz(capsys, "cloud", "edge", "rotate", "edge-7", "--db", db)
        new = out.strip().splitlines()[-1]
        assert code == 0 and new != token
        assert _egiz(capsys, "cloud", "edge", "revoke", "edge-7", "--db", db)[0] == 0
        assert "revoked" in _egiz(capsys, "cloud", "edge", "list", "--db", db)[1]
        code, _, err = _egiz(capsys, "cloud", "edge", "revoke", "nope", "--db", db)
        assert code == 1 and err.startswith("egiz: error: no edge 'nope'")
    finally:
        store.close()


def test_cli_cloud_user_lifecycle(tmp_path, capsys) -> None:
    db = f"sqlite:///{tmp_path}/c.db"
    code, out, _ = _egiz(capsys, "cloud", "user", "add", "ops", "--role", "operator",
                         "--site", "mine", "--db", db)  # fmt: skip
    assert code == 0
    password = out.strip().splitlines()[-1].removeprefix("password: ")
    store = open_store(db)
    try:
        assert login(store, "ops", password)[0].startswith("egu_")
        assert "operator@mine" in _egiz(capsys, "cloud", "user", "list", "--db", db)[1]
        assert _egiz(capsys, "cloud", "user", "remove", "ops", "--db", db)[0] == 0
        assert "ops" not in _egiz(capsys, "cloud", "user", "list", "--db", db)[1]
        code, _, err = _egiz(capsys, "cloud", "user", "add", "x", "--role", "admin",
                             "--password", "short", "--db", db)  # fmt: skip
        assert code == 1 and "8 characters" in err
    finally:
        store.close()
