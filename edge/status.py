"""The local read-only status endpoint: a tiny asyncio HTTP/1.1 server (no web framework)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 400: "Bad Request"}


class StatusServer:
    """Serves ``GET /status`` (JSON) and ``GET /`` (plain text) from a stats callable."""

    def __init__(self, stats: Callable[[], dict[str, Any]], host: str, port: int) -> None:
        self.stats = stats
        self.host = host
        self.port = port  # the bound port once started (0 = pick a free one)
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        """Bind and start serving; return the bound port."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            method, path, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            path = path.split("?", 1)[0]
            if method not in ("GET", "HEAD"):
                code, ctype, body = 405, "text/plain", b"read-only endpoint\n"
            elif path in ("/status", "/api/status"):
                code, ctype = 200, "application/json"
                body = json.dumps(self.stats(), default=str, indent=1).encode()
            elif path == "/":
                code, ctype, body = 200, "text/plain; charset=utf-8", render(self.stats()).encode()
            elif path == "/healthz":
                code, ctype, body = 200, "text/plain", b"ok\n"
            else:
                code, ctype, body = 404, "text/plain", b"not found\n"
            writer.write(
                f"HTTP/1.1 {code} {_REASONS[code]}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + (b"" if method == "HEAD" else body)
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ValueError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def render(s: dict[str, Any]) -> str:
    """Return the status as the few lines a technician on site reads."""
    ob = s.get("outbox", {})
    rates = ", ".join(f"{k} {v:.0f}/s" for k, v in s.get("samples_per_s", {}).items()) or "-"
    lines = [
        f"egiz edge {s.get('edge_id')} (site {s.get('site')}), up {s.get('uptime_s', 0):.0f} s",
        f"samples/s: {rates}; windows made: {s.get('windows_made')}; "
        f"records synced: {s.get('records_synced')}",
        f"outbox: depth {ob.get('depth')}, oldest unsent {_age(ob.get('oldest_unsent_s'))}, "
        f"last acked seq {ob.get('last_acked_seq')}, evicted {ob.get('evicted')}",
        f"uplink: {s.get('uplink', {}).get('state')} {s.get('uplink', {}).get('last_error') or ''}",
    ]
    for name, src in s.get("sources", {}).items():
        why = f" ({src['last_error']})" if src.get("last_error") else ""  # e.g. password refused
        lines.append(f"source {name} ({src.get('kind')}): {src.get('state')}{why}")
    alarms = s.get("alarms", [])
    lines.append(f"active alarms: {len(alarms)}")
    lines += [
        f"  {a.get('severity')} {a.get('asset')}.{a.get('signal')}: {a.get('message')}"
        for a in alarms
    ]
    return "\n".join(lines) + "\n"


def _age(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f} s"
