"""InfluxDB sink: window summaries as line protocol, batched and retried by influxdb-client.

One point per (asset, signal, window): measurement ``egiz_window``, tags site/asset/signal,
fields count/bad/uncertain/out_of_range/min/max/mean/std/last, time = window start (s).
Grafana then charts the same series the dashboard shows. The write API batches in a background
thread and retries with backoff; ``close`` flushes what is pending.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import WriteOptions, WriteType

from ..store.base import WindowRow

log = logging.getLogger(__name__)

MEASUREMENT = "egiz_window"
_FIELDS = ("count", "bad", "uncertain", "out_of_range", "min", "max", "mean", "std", "last")


def _escape_tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def line(row: WindowRow) -> str:
    """Return the line-protocol line of one window row (fields that are None are left out)."""
    fields = []
    for name in _FIELDS:
        v = getattr(row, name)
        if v is None:
            continue
        fields.append(f"{name}={v}i" if isinstance(v, int) else f"{name}={float(v)!r}")
    tags = f"site={_escape_tag(row.site)},asset={_escape_tag(row.asset)},signal={_escape_tag(row.signal)}"
    return f"{MEASUREMENT},{tags} {','.join(fields)} {int(row.start)}"


class InfluxSink:
    """Batched, retried writer of window summaries to an InfluxDB 2 compatible endpoint."""

    def __init__(self, url: str, token: str, org: str, bucket: str, *,
                 batch_size: int = 5000, flush_interval_ms: int = 1000,
                 max_retries: int = 5) -> None:  # fmt: skip
        self.bucket, self.org = bucket, org
        self.written = 0
        self.failed = 0
        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=30_000)
        self._write = self._client.write_api(
            write_options=WriteOptions(
                write_type=WriteType.batching, batch_size=batch_size,
                flush_interval=flush_interval_ms, retry_interval=500, max_retries=max_retries,
                max_retry_delay=30_000, exponential_base=2,
            ),
            success_callback=self._ok, error_callback=self._error,
        )  # fmt: skip

    def _ok(self, _conf: object, data: str | bytes) -> None:
        self.written += (data.decode() if isinstance(data, bytes) else data).count("\n") + 1

    def _error(self, _conf: object, data: str | bytes, err: Exception) -> None:
        n = (data.decode() if isinstance(data, bytes) else data).count("\n") + 1
        self.failed += n
        log.error("influx sink dropped %d points after retries: %s", n, err)

    def write(self, rows: Iterable[WindowRow]) -> None:
        """Queue window rows; they are sent in batches in the background."""
        lines = [line(r) for r in rows]
        if lines:
            self._write.write(self.bucket, self.org, lines, write_precision=WritePrecision.S)

    def close(self) -> None:
        """Flush everything pending and close the client."""
        self._write.close()
        self._client.close()
