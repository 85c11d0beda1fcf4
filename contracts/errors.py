"""The error tree every component raises at its boundary (library errors never leak upward)."""

from __future__ import annotations


class EgizError(Exception):
    """Base of every error Egiz raises on purpose; the CLI prints it as one line."""


class ConfigError(EgizError):
    """A configuration or scenario document is wrong: names the file, line, path and the fix."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        path: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.path = path
        self.fix = fix
        self.reason = message
        where = file or "<config>"
        if line is not None:
            where = f"{where}:{line}"
        text = f"{where}: {path + ': ' if path else ''}{message}"
        if fix:
            text += f" (fix: {fix})"
        super().__init__(text)
