"""The dependency rules of ARCHITECTURE.md §2, checked on the source of every component."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = ("contracts", "edge", "cloud", "models", "simulators", "cli")

#: component -> egiz components it must not import
FORBIDDEN_COMPONENTS = {
    "contracts": {"edge", "cloud", "models", "simulators", "cli"},
    "models": {"contracts", "edge", "cloud", "simulators", "cli"},
    "simulators": {"contracts", "edge", "cloud", "models", "cli"},
    "edge": {"cloud", "simulators", "cli"},
    "cloud": {"edge", "simulators", "cli"},
    "cli": set(),
}
#: component -> third-party or stdlib top-level modules it must not import
FORBIDDEN_LIBRARIES = {
    "contracts": {"asyncua", "paho", "httpx", "fastapi", "sklearn", "scipy", "sqlite3", "psycopg"},
    # models: numpy and scikit-learn only; no I/O, no asyncio, no wire schemas.
    "models": {
        "asyncio",
        "asyncua",
        "paho",
        "httpx",
        "fastapi",
        "pydantic",
        "sqlite3",
        "psycopg",
        "socket",
    },
    # The edge box evaluates models with numpy alone (scikit-learn/scipy cost ~90 MB).
    "edge": {"sklearn", "scipy", "fastapi", "psycopg", "uvicorn"},
    "cloud": set(),
    "simulators": set(),
    "cli": set(),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def _sources(component: str) -> list[Path]:
    return [
        p
        for p in sorted((ROOT / component).rglob("*.py"))
        if "node_modules" not in p.parts and ".venv" not in p.parts
    ]


@pytest.mark.parametrize("component", COMPONENTS)
def test_architecture_dependency_direction(component: str) -> None:
    """No component imports a component or library ARCHITECTURE.md §2 forbids it."""
    violations = []
    for path in _sources(component):
        for line, module in _imports(path):
            parts = module.split(".")
            if (
                parts[0] == "egiz"
                and len(parts) > 1
                and parts[1] in FORBIDDEN_COMPONENTS[component]
            ):
                violations.append(f"{path.relative_to(ROOT)}:{line}: imports {module}")
            if parts[0] in FORBIDDEN_LIBRARIES[component]:
                violations.append(f"{path.relative_to(ROOT)}:{line}: imports {module}")
    assert not violations, "\n".join(violations)


def test_architecture_no_bare_component_imports() -> None:
    """Every import of our code goes through `egiz.<component>`, never a bare folder name."""
    bare = set(COMPONENTS)
    violations = []
    for path in sorted(ROOT.rglob("*.py")):
        if any(part in {".venv", "node_modules", "build", ".git"} for part in path.parts):
            continue
        for line, module in _imports(path):
            if module.split(".")[0] in bare:
                violations.append(f"{path.relative_to(ROOT)}:{line}: import {module}")
    assert not violations, "\n".join(violations)


def test_architecture_checker_sees_a_violation(tmp_path: Path) -> None:
    """The checker itself catches a forbidden import (so the rules above can fail)."""
    bad = tmp_path / "bad.py"
    bad.write_text("import models.rul\nfrom egiz.cloud import app\n")
    assert [m for _, m in _imports(bad)] == ["models.rul", "egiz.cloud"]
