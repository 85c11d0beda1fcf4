"""The wheel installs into a fresh virtualenv outside the source tree and every module imports."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

IMPORT_ALL = r"""
import importlib, pkgutil, sys, pathlib
import egiz
root = pathlib.Path(egiz.__file__).parent
assert "site-packages" in str(root), f"egiz imported from {root}, not from the installed wheel"
names = ["egiz"] + [m.name for m in pkgutil.walk_packages(egiz.__path__, "egiz.")]
components = {n.split(".")[1] for n in names if n.count(".") >= 1}
missing = {"contracts", "edge", "cloud", "models", "simulators", "cli"} - components
assert not missing, f"components missing from the wheel: {missing}"
for name in names:
    mod = importlib.import_module(name)
    assert "site-packages" in (mod.__file__ or ""), f"{name} from {mod.__file__}"
print(len(names), "modules imported")
"""


@pytest.mark.slow
def test_packaging_wheel_installs_and_imports_every_module(tmp_path: Path) -> None:
    """Build the wheel, install it with all extras in a new venv, import every egiz.* module."""
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-w",
            str(dist),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    wheels = list(dist.glob("egiz-*.whl"))
    assert len(wheels) == 1, wheels
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    extras = "edge,cloud,simulators,train"
    subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", f"{wheels[0]}[{extras}]"],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    out = subprocess.run(
        [str(py), "-c", IMPORT_ALL], check=True, capture_output=True, text=True, cwd=tmp_path
    )
    assert "modules imported" in out.stdout
    cli = subprocess.run(
        [str(env_dir / "bin" / "egiz"), "--help"], capture_output=True, text=True, cwd=tmp_path
    )
    assert cli.returncode == 0 and "demo" in cli.stdout, cli.stdout + cli.stderr
