"""Structured logs: one JSON object per line, for log shippers (Loki, Elasticsearch, journald).

Shared by `egiz cloud run` and `egiz edge run` (``--log-format json``); it lives in cli/ because
only the command line decides how a process logs.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

# uvicorn adds an ANSI-coloured copy of each message; a shipper wants the plain one only.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """Format a record as JSON: time, level, logger, message, extras, and the exception."""

    def format(self, record: logging.LogRecord) -> str:
        """Return one line of JSON."""
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        # Fields passed with ``extra={...}`` are kept as structured keys.
        out.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def use_json_logs(level: int = logging.INFO) -> None:
    """Send every log record (ours and the libraries') to stderr as JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
