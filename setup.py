"""Build glue: expose each top-level component folder as ``egiz.<folder>``.

ARCHITECTURE.md §2 keeps the components as top-level folders; the distribution imports them
under one ``egiz`` namespace so nothing ever imports a bare ``models`` or ``edge``.
"""

from pathlib import Path

from setuptools import setup

COMPONENTS = ("contracts", "edge", "cloud", "models", "simulators", "cli")
ROOT = Path(__file__).parent

packages = ["egiz"]
package_dir = {"egiz": "egiz"}
for component in COMPONENTS:
    package_dir[f"egiz.{component}"] = component
    for init in sorted((ROOT / component).rglob("__init__.py")):
        rel = init.parent.relative_to(ROOT)
        if any(part.startswith((".", "__")) or part == "node_modules" for part in rel.parts):
            continue
        packages.append("egiz." + ".".join(rel.parts))

setup(packages=packages, package_dir=package_dir)
