"""The runnable examples in the RUL, feature, artifact and C-MAPSS docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "egiz.models.features.window",
    "egiz.models.rul.regimes",
    "egiz.models.rul.runtime",
    "egiz.models.artifacts.trees",
    "egiz.models.eval.cmapss",
)


@pytest.mark.parametrize("name", MODULES)
def test_rul_docstring_examples_run(name: str) -> None:
    """Every example in the module's docstrings passes, and there is at least one."""
    module = importlib.import_module(name)
    result = doctest.testmod(module, raise_on_error=False, extraglobs={"np": __import__("numpy")})
    assert result.attempted > 0
    assert result.failed == 0
