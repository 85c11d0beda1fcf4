"""The served-value log and the truth log: JSON Lines in ``--truth-dir`` (docs/simulators.md).

``served.jsonl``: one line per value published or exposed::

    {"asset": "demo.pump-1", "signal": "flow", "ts": "2026-01-01T00:00:01.000Z",
     "value": 105.7, "status": "good", "protocol": "opcua"}

``truth.jsonl``: one line per asset per serving tick (see :meth:`Engine.truth`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path


class ServedLog:
    """Append-only writers for served values and ground truth, flushed every tick."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory
        self._served = (directory / "served.jsonl").open("w", encoding="utf-8")
        self._truth = (directory / "truth.jsonl").open("w", encoding="utf-8")

    def served(self, lines: Iterable[str]) -> None:
        """Write pre-rendered served-value lines (each ending in a newline)."""
        self._served.writelines(lines)

    def truth(self, records: Iterable[dict]) -> None:
        """Write ground-truth records."""
        self._truth.writelines(json.dumps(r, separators=(",", ":")) + "\n" for r in records)

    def flush(self) -> None:
        """Make everything written so far visible to readers."""
        self._served.flush()
        self._truth.flush()

    def close(self) -> None:
        """Flush and close both files."""
        self._served.close()
        self._truth.close()


def served_line(asset: str, signal: str, ts: str, value: float, status: str, protocol: str) -> str:
    """Render one served-value record as a JSON line."""
    v = None if value != value else value
    return (
        json.dumps(
            {
                "asset": asset,
                "signal": signal,
                "ts": ts,
                "value": v,
                "status": status,
                "protocol": protocol,
            },
            separators=(",", ":"),
        )
        + "\n"
    )
