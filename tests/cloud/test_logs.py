"""JSON log lines keep the message, the level, extras and the exception."""

from __future__ import annotations

import json
import logging

from egiz.cloud.logs import JsonFormatter


def test_json_formatter_structured_fields() -> None:
    log = logging.getLogger("egiz.test")
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = log.makeRecord("egiz.test", logging.ERROR, __file__, 1, "batch %s failed",
                                ("b-1",), sys.exc_info(), extra={"edge": "edge-1"})  # fmt: skip
    out = json.loads(JsonFormatter().format(record))
    assert out["message"] == "batch b-1 failed" and out["level"] == "error"
    assert out["edge"] == "edge-1" and out["logger"] == "egiz.test"
    assert "ValueError: boom" in out["exception"] and out["ts"].endswith("+00:00")
