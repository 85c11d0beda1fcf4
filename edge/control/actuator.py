"""The OPC UA side of control: its own session to write setpoints, call methods, read back."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from asyncua import Client, ua

from egiz.contracts import ControlPolicy, OpcUaSourceConfig

from ..errors import EdgeError

log = logging.getLogger(__name__)


class ActuatorError(EdgeError):
    """A write, call or read over OPC UA failed."""


class OpcUaActuator:
    """One OPC UA session for control, separate from acquisition (a stuck subscription must
    not block a trip), reconnecting on the next use after a failure."""

    def __init__(self, source: OpcUaSourceConfig, policy: ControlPolicy, site: str) -> None:
        self.source = source
        self.policy = policy
        self.site = site
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    def node(self, asset: str, name: str) -> str:
        """NodeId text of a setpoint or signal."""
        return self.policy.node_template.format(site=self.site, asset=asset, name=name)

    async def _session(self) -> Client:
        if self._client is not None:
            return self._client
        client = Client(self.source.endpoint, timeout=5)
        if self.source.username:
            client.set_user(self.source.username)
        if self.source.password is not None:
            client.set_password(self.source.password.get_secret_value())
        sec = self.source.security
        try:
            if sec.policy != "None":
                parts = [sec.policy, sec.mode, sec.certificate, sec.private_key]
                if sec.server_certificate:
                    parts.append(sec.server_certificate)
                await client.set_security_string(",".join(str(p) for p in parts))
            await asyncio.wait_for(client.connect(auto_reconnect=False), 10)
        except (OSError, TimeoutError, ua.UaError) as err:
            raise ActuatorError(f"{self.source.endpoint}: {err!r}") from err
        self._client = client
        return client

    async def close(self) -> None:
        """Close the session."""
        if self._client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.disconnect(), 2.0)
            self._client = None

    async def _do(self, fn: Any) -> Any:
        async with self._lock:
            try:
                return await fn(await self._session())
            except ActuatorError:
                raise
            except Exception as err:  # any failure drops the session; the next use reconnects
                await self.close()
                raise ActuatorError(f"{self.source.endpoint}: {err!r}") from err

    async def read(self, asset: str, name: str) -> float:
        """Read the current value of a setpoint or signal."""
        nid = self.node(asset, name)
        return float(await self._do(lambda c: c.get_node(nid).read_value()))

    async def write(self, asset: str, name: str, value: float) -> None:
        """Write a setpoint (Double)."""
        nid = self.node(asset, name)
        dv = ua.DataValue(ua.Variant(float(value), ua.VariantType.Double))
        await self._do(lambda c: c.get_node(nid).write_value(dv))

    async def call(self, asset: str, action: str) -> None:
        """Call an asset's method (start, stop, reset, ...)."""
        obj = self.policy.object_template.format(site=self.site, asset=asset)
        meth = self.policy.method_template.format(site=self.site, asset=asset,
                                                  Name=action.title(), name=action)  # fmt: skip
        # A str method id would be parsed as a browse name; pass a NodeId.
        mid = ua.NodeId.from_string(meth)
        await self._do(lambda c: c.get_node(obj).call_method(mid))
