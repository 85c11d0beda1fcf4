"""OPC UA server (asyncua): the scenario's ISA-95 tree with analog items, setpoints and methods.

Address space (namespace URI ``urn:egiz:simulator:<site>``, always namespace index 2)::

    Objects/<site>/<area>/[<line>/]<asset>/<signal>     AnalogItemType, Double, read-only
                                          /<setpoint>   AnalogItemType, Double, writable
                                          /Start /Stop /Reset   methods, no arguments

String NodeIds: folders ``<site>``, ``<site>.<area>``, ``<site>.<area>.<line>``; asset objects
``<site>.<asset>``; variables ``<site>.<asset>.<signal|setpoint>``; methods
``<site>.<asset>.Start``. Each variable carries DisplayName, Description and the properties
EngineeringUnits (UNECE code, OPC UA Part 8) and EURange. Values carry a status code and the
simulated data time as SourceTimestamp.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from asyncua import Server, ua

from .catalog import TYPES
from .history import SimHistory
from .scenario import Scenario

log = logging.getLogger(__name__)

NAMESPACE_INDEX = 2
_UNECE = {
    "degC": ("CEL", "°C"),
    "K": ("KEL", "K"),
    "bar": ("BAR", "bar"),
    "kPa": ("KPA", "kPa"),
    "m3/h": ("MQH", "m³/h"),
    "t/h": ("E18", "t/h"),
    "kW": ("KWT", "kW"),
    "MW": ("MAW", "MW"),
    "A": ("AMP", "A"),
    "V": ("VLT", "V"),
    "mm/s": ("C16", "mm/s"),
    "rpm": ("RPM", "r/min"),
    "Hz": ("HTZ", "Hz"),
    "m/s": ("MTS", "m/s"),
    "m": ("MTR", "m"),
    "%": ("P1", "%"),
    "1": ("C62", "1"),
    "h": ("HUR", "h"),
    "kVA": ("KVA", "kVA"),
    "state": ("C62", "state"),
}
_STATUS = (ua.StatusCodes.Good, ua.StatusCodes.Uncertain, ua.StatusCodes.Bad)
UNITS_NAMESPACE = "http://www.opcfoundation.org/UA/units/un/cefact"


def namespace_uri(site: str) -> str:
    """Return the namespace URI of a simulated site."""
    return f"urn:egiz:simulator:{site}"


def node_id(site: str, asset: str, name: str) -> str:
    """Return the NodeId string of a signal, setpoint or method: ``ns=2;s=<site>.<asset>.<name>``."""
    return f"ns={NAMESPACE_INDEX};s={site}.{asset}.{name}"


def eu_information(unit: str) -> ua.EUInformation:
    """Return the OPC UA EUInformation of a unit symbol (UNECE Rec. 20 code)."""
    code, shown = _UNECE.get(unit, ("C62", unit))
    unit_id = 0
    for ch in code:
        unit_id = (unit_id << 8) | ord(ch)
    return ua.EUInformation(
        NamespaceUri=UNITS_NAMESPACE,
        UnitId=unit_id,
        DisplayName=ua.LocalizedText(shown),
        Description=ua.LocalizedText(unit),
    )


Command = Callable[[str, str], Awaitable[None] | None]


class OpcUaServer:
    """Serve a scenario over OPC UA; the service pushes values and polls written setpoints."""

    def __init__(
        self,
        scenario: Scenario,
        host: str,
        port: int,
        on_command: Command,
        history_s: float = 3600.0,
        security: dict[str, str] | None = None,
    ) -> None:
        self.scenario = scenario
        #: None = policy None; else {certificate, private_key[, ca_dir, application_uri]}
        self.security = security
        self.endpoint = f"opc.tcp://{host}:{port}/egiz/"
        self.server: Server = Server()
        self.on_command = on_command
        self.nodes: dict[tuple[str, str], ua.NodeId] = {}
        self.setpoint_nodes: dict[tuple[str, str], ua.NodeId] = {}
        self._setpoint_seen: dict[tuple[str, str], float] = {}
        #: HistoryRead store, in simulated time; survives server restarts
        self.history = SimHistory(history_s)

    async def start(self, setpoints: dict[str, dict[str, float]]) -> None:
        """Build the address space and start listening."""
        await self.server.init()
        self.server.set_endpoint(self.endpoint)
        self.server.set_server_name(f"Egiz simulator: {self.scenario.site}")
        await self._secure()
        idx = await self.server.register_namespace(namespace_uri(self.scenario.site))
        if idx != NAMESPACE_INDEX:  # the NodeIds we document and generate assume index 2
            raise RuntimeError(f"simulator namespace got index {idx}, expected {NAMESPACE_INDEX}")
        self.server.iserver.history_manager.set_storage(self.history)
        await self._build(setpoints)
        await self.server.start()

    async def _secure(self) -> None:
        """Serve policy None, or only Basic256Sha256 SignAndEncrypt with our certificate."""
        sec = self.security
        if not sec:
            self.server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
            return
        await self.server.set_application_uri(sec.get("application_uri", "urn:egiz:simulator"))
        self.server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        await self.server.load_certificate(sec["certificate"])
        await self.server.load_private_key(sec["private_key"])
        if sec.get("ca_dir"):
            from asyncua.crypto.truststore import TrustStore
            from asyncua.crypto.validator import CertificateValidator
            from asyncua.crypto.validator import CertificateValidatorOptions as Opt

            store = TrustStore([Path(sec["ca_dir"])], [])
            await store.load()
            # Clients are trusted by CA; their application URI is not pinned.
            opts = Opt.TRUSTED | Opt.TIME_RANGE | Opt.PEER_CLIENT
            self.server.set_certificate_validator(CertificateValidator(opts, store))

    async def stop(self) -> None:
        """Stop the server (closes client sessions)."""
        await self.server.stop()

    async def resume(self) -> None:
        """Listen again after :meth:`stop`, same address space and history (a restart)."""
        await self.server.start()

    def _nid(self, text: str) -> ua.NodeId:
        return ua.NodeId(text, NAMESPACE_INDEX)

    async def _build(self, setpoints: dict[str, dict[str, float]]) -> None:
        sc = self.scenario
        folders: dict[tuple[str, ...], object] = {}
        objects = self.server.nodes.objects
        site = await objects.add_folder(self._nid(sc.site), f"{NAMESPACE_INDEX}:{sc.site}")
        await self._describe(site.nodeid, sc.site_name or sc.site)
        folders[()] = site
        for a in sc.assets:
            parent = site
            for depth in range(1, len(a.path())):
                key = a.path()[:depth]
                if key not in folders:
                    nid = self._nid(".".join((sc.site, *key)))
                    folders[key] = await parent.add_folder(nid, f"{NAMESPACE_INDEX}:{key[-1]}")
                parent = folders[key]
            obj = await parent.add_object(
                self._nid(f"{sc.site}.{a.id}"), f"{NAMESPACE_INDEX}:{a.id}"
            )
            await self._describe(obj.nodeid, a.name or a.id)
            if a.protocol != "opcua":
                continue
            spec = TYPES[a.type]
            for s in spec.signals:
                nid = await self._variable(obj, a.id, s.name, s.unit, s.range, s.description, None)
                self.nodes[(a.id, s.name)] = nid
            for sp in spec.setpoints:
                value = setpoints[a.id][sp.name]
                nid = await self._variable(
                    obj, a.id, sp.name, sp.unit, (sp.min, sp.max), sp.description, value
                )
                self.setpoint_nodes[(a.id, sp.name)] = nid
                self._setpoint_seen[(a.id, sp.name)] = value
            for action in spec.commands:
                await obj.add_method(
                    self._nid(f"{sc.site}.{a.id}.{action.title()}"),
                    f"{NAMESPACE_INDEX}:{action.title()}",
                    self._method(a.id, action),
                    [],
                    [],
                )

    def _method(self, asset_id: str, action: str) -> Callable:
        async def call(_parent: ua.NodeId) -> list:
            result = self.on_command(asset_id, action)
            if result is not None:
                await result
            return []

        return call

    async def _describe(self, nid: ua.NodeId, text: str) -> None:
        await self.server.write_attribute_value(
            nid, ua.DataValue(ua.Variant(ua.LocalizedText(text))), ua.AttributeIds.Description
        )

    async def _variable(
        self,
        obj,
        asset_id: str,
        name: str,
        unit: str,
        rng: tuple[float, float],
        desc: str,
        setpoint: float | None,
    ) -> ua.NodeId:
        nid = self._nid(f"{self.scenario.site}.{asset_id}.{name}")
        var = await obj.add_variable(
            nid, f"{NAMESPACE_INDEX}:{name}", ua.Variant(0.0, ua.VariantType.Double)
        )
        # Analog items are what SCADA clients look for to find units and ranges (Part 8).
        await var.delete_reference(
            ua.ObjectIds.BaseDataVariableType, ua.ObjectIds.HasTypeDefinition, True, False
        )
        await var.add_reference(
            ua.ObjectIds.AnalogItemType, ua.ObjectIds.HasTypeDefinition, True, False
        )
        await self._describe(nid, desc)
        await var.add_property(
            self._nid(f"{nid.Identifier}.EngineeringUnits"),
            "0:EngineeringUnits",
            eu_information(unit),
        )
        await var.add_property(
            self._nid(f"{nid.Identifier}.EURange"),
            "0:EURange",
            ua.Range(Low=float(rng[0]), High=float(rng[1])),
        )
        now = datetime.now(UTC)
        if setpoint is None:
            # Historized: clients that were away backfill with HistoryRead (Part 11).
            await var.set_attr_bit(ua.AttributeIds.AccessLevel, ua.AccessLevel.HistoryRead)
            await var.set_attr_bit(ua.AttributeIds.UserAccessLevel, ua.AccessLevel.HistoryRead)
            await self.server.write_attribute_value(
                nid, ua.DataValue(ua.Variant(True)), ua.AttributeIds.Historizing
            )
            await self.history.new_historized_node(nid, None)
            dv = ua.DataValue(
                ua.Variant(0.0, ua.VariantType.Double),
                StatusCode=ua.StatusCode(ua.StatusCodes.BadWaitingForInitialData),
                SourceTimestamp=now,
                ServerTimestamp=now,
            )
        else:
            await var.set_writable()
            dv = ua.DataValue(
                ua.Variant(float(setpoint), ua.VariantType.Double),
                SourceTimestamp=now,
                ServerTimestamp=now,
            )
        await self.server.write_attribute_value(nid, dv)
        return nid

    async def write(
        self, asset_id: str, signal: str, value: float, status: int, ts: datetime
    ) -> None:
        """Expose one value with its status code and source timestamp (= simulated data time)."""
        nid = self.nodes[(asset_id, signal)]
        variant = ua.Variant(float(value) if value == value else 0.0, ua.VariantType.Double)
        dv = ua.DataValue(
            variant,
            StatusCode=ua.StatusCode(_STATUS[status]),
            SourceTimestamp=ts,
            ServerTimestamp=datetime.now(UTC),
        )
        await self.server.write_attribute_value(nid, dv)
        self.history.save(nid, dv)

    def written_setpoints(self) -> list[tuple[str, str, float]]:
        """Return setpoints that clients changed since the last call."""
        changed = []
        for key, nid in self.setpoint_nodes.items():
            dv = self.server.iserver.aspace.read_attribute_value(nid, ua.AttributeIds.Value)
            value = dv.Value.Value if dv.Value is not None else None
            if isinstance(value, int | float) and float(value) != self._setpoint_seen[key]:
                self._setpoint_seen[key] = float(value)
                changed.append((key[0], key[1], float(value)))
        return changed

    async def confirm_setpoint(self, asset_id: str, name: str, applied: float) -> None:
        """Write back the value actually applied (clamped) so clients read what is in effect."""
        key = (asset_id, name)
        self._setpoint_seen[key] = applied
        now = datetime.now(UTC)
        await self.server.write_attribute_value(
            self.setpoint_nodes[key],
            ua.DataValue(
                ua.Variant(applied, ua.VariantType.Double), SourceTimestamp=now, ServerTimestamp=now
            ),
        )
