"""The runnable examples in the anomaly and evaluation docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "egiz.models.anomaly.artifact",
    "egiz.models.anomaly.batch",
    "egiz.models.anomaly.calibration",
    "egiz.models.anomaly.state",
    "egiz.models.anomaly.streaming",
    "egiz.models.eval.nab",
)


@pytest.mark.parametrize("name", MODULES)
def test_anomaly_docstring_examples_run(name: str) -> None:
    """Every example in the module's docstrings passes, and there is at least one."""
    result = doctest.testmod(importlib.import_module(name), raise_on_error=False)
    assert result.attempted > 0
    assert result.failed == 0
