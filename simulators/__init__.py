"""egiz.simulators: a virtual industrial site with physics, degradation and ground truth.

Imports nothing else of Egiz: the plant must not share code with the twin observing it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ScenarioError, SimulatorError
from .scenario import Scenario, builtin_names, load_scenario

if TYPE_CHECKING:
    from .service import SimulatorService

__all__ = [
    "Scenario",
    "ScenarioError",
    "SimulatorError",
    "SimulatorService",
    "builtin_names",
    "load_scenario",
]


def __getattr__(name: str) -> Any:
    # The service pulls in asyncua and paho; generation and site-config do not need them.
    if name == "SimulatorService":
        from .service import SimulatorService

        return SimulatorService
    raise AttributeError(name)
