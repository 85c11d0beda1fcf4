"""Errors the simulator raises at its boundary; the CLI prints them as one line."""

from __future__ import annotations


class SimulatorError(Exception):
    """Base of every error the simulator raises on purpose."""


class ScenarioError(SimulatorError, ValueError):
    """A scenario document is wrong: names the file, line, field, what is wrong and the fix."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.fix = fix
        self.reason = message
        where = file or "<scenario>"
        if line is not None:
            where = f"{where}:{line}"
        text = f"{where}: {field + ': ' if field else ''}{message}"
        if fix:
            text += f" (fix: {fix})"
        super().__init__(text)
