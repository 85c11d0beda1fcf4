"""Local HTTP control endpoint of a running simulator (127.0.0.1 only; stdlib asyncio, no deps).

Routes (JSON in, JSON out):
- ``GET  /status``    scenario, data time, steps, served counts, active faults, truth
- ``POST /inject``    ``{"asset", "fault", "severity"?, "signal"?, "duration_s"?}``
- ``POST /clear``     ``{"asset", "fault"?}``
- ``POST /command``   ``{"asset", "action": "start"|"stop"|"reset"}``
- ``POST /setpoint``  ``{"asset", "name", "value"}``
Errors answer 400 with ``{"error": "..."}`` naming what is wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[str, str, dict[str, Any]], Awaitable[tuple[int, Any]]]
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}


class ControlServer:
    """A tiny HTTP/1.1 server (one request per connection) handing requests to ``handler``."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handler, self.host, self.port = handler, host, port
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:8720."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Listen; with port 0 the OS picks one (see :attr:`url`)."""
        self._server = await asyncio.start_server(self._client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening."""
        if self._server:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (x.partition(":") for x in lines[1:] if x)
            }
            size = int(headers.get("content-length", "0"))
            raw = await reader.readexactly(size) if size else b""
            try:
                body = json.loads(raw) if raw else {}
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
                code, answer = await self.handler(method, path.split("?")[0], body)
            except (ValueError, KeyError, TypeError) as err:
                code, answer = 400, {"error": str(err).strip("'\"")}
            except Exception as err:  # never take the simulator down for a bad request
                log.exception("control request failed")
                code, answer = 500, {"error": f"{type(err).__name__}: {err}"}
            data = json.dumps(answer).encode()
            writer.write(
                f"HTTP/1.1 {code} {_REASONS.get(code, 'Error')}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                + data
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
