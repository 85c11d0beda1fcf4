"""Recompute window statistics from the simulator's served-value log: the oracle of e2e tests."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np


def parse_ts(text: str) -> float:
    """Return epoch seconds of an ISO-8601 timestamp ('Z' or offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def read_served(path: Path) -> dict[tuple[str, str], list[tuple[float, float | None, str]]]:
    """Return {(global asset id, signal): [(ts, value, status), ...]} in served order."""
    out: dict[tuple[str, str], list[tuple[float, float | None, str]]] = defaultdict(list)
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            out[(row["asset"], row["signal"])].append(
                (parse_ts(row["ts"]), row["value"], row["status"])
            )
    return out


def expected_window(
    samples: list[tuple[float, float | None, str]], start: float, length: float
) -> dict[str, float | int | None]:
    """Statistics the edge must report for [start, start+length): stats over non-bad samples."""
    inside = [(ts, v, st) for ts, v, st in samples if start <= ts < start + length]
    usable = [(ts, v) for ts, v, st in inside if st != "bad" and v is not None]
    stats: dict[str, float | int | None] = {
        "count": len(inside),
        "bad": sum(1 for _, _, st in inside if st == "bad"),
    }
    if usable:
        values = np.array([v for _, v in usable], dtype=float)
        stats |= {
            "min": float(values.min()),
            "max": float(values.max()),
            "mean": float(values.mean()),
            "std": float(values.std(ddof=0)),
            "last": float(max(usable)[1]),
        }
    return stats
