"""Site config: the one YAML document an edge agent runs from (ARCHITECTURE.md §4)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, model_validator

from .assets import Asset, AssetType, Severity
from .base import Contract
from .ids import Name, Slug
from .units import UNITS, conversion


class SiteInfo(Contract):
    """The site this edge serves, and the enterprise it belongs to (ISA-95 top levels)."""

    id: Slug = Field(description="site id, [a-z0-9-]; first half of every global asset id")
    name: str = Field("", description="human-readable site name")
    enterprise: Slug = Field("egiz", description="ISA-95 enterprise the site belongs to")


class Backoff(Contract):
    """Exponential backoff with full jitter, for reconnects and retries."""

    initial_s: float = Field(0.5, gt=0, description="first delay")
    max_s: float = Field(30.0, gt=0, description="longest delay")
    factor: float = Field(2.0, ge=1, description="growth per failed attempt")


class NodeMapping(Contract):
    """One OPC UA node mapped to an asset signal; by node id or by browse path."""

    node: str | None = Field(None, description="NodeId, e.g. 'ns=2;s=pump-1.flow'")
    browse_path: str | None = Field(
        None, description="slash-separated browse names from Objects, e.g. '2:Site/2:Area/...'"
    )
    asset: Slug = Field(description="asset id the node belongs to")
    signal: Name = Field(description="signal of the asset type")
    unit: str | None = Field(None, description="unit the server uses; default: canonical")

    @model_validator(mode="after")
    def _one_address(self) -> Self:
        if (self.node is None) == (self.browse_path is None):
            raise ValueError("give exactly one of 'node' or 'browse_path'")
        return self


class OpcUaSubscriptionConfig(Contract):
    """Subscription tuning; large tag lists are split to respect server limits."""

    publishing_interval_ms: float = Field(500.0, gt=0)
    sampling_interval_ms: float = Field(0.0, ge=0, description="0 = fastest the server offers")
    queue_size: int = Field(100, ge=1)
    deadband_abs: float | None = Field(None, ge=0)
    max_items_per_subscription: int = Field(1000, ge=1)
    max_subscriptions_per_session: int = Field(10, ge=1)


class OpcUaSecurityConfig(Contract):
    """OPC UA security: policy None, or Basic256Sha256 with certificates."""

    policy: Literal["None", "Basic256Sha256"] = "None"
    mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: str | None = None
    private_key: str | None = None
    server_certificate: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.policy == "None") != (self.mode == "None"):
            raise ValueError(
                "policy None goes with mode None; Basic256Sha256 needs Sign or SignAndEncrypt"
            )
        if self.policy != "None" and not (self.certificate and self.private_key):
            raise ValueError(
                "Basic256Sha256 needs 'certificate' and 'private_key' (egiz certs create)"
            )
        return self


class OpcUaSourceConfig(Contract):
    """An OPC UA server the edge subscribes to (or polls)."""

    kind: Literal["opcua"] = "opcua"
    name: Slug = Field(description="unique source name (logs, status, events)")
    endpoint: str = Field(pattern=r"^opc\.tcp://", description="server endpoint URL")
    mode: Literal["subscribe", "poll"] = Field(
        "subscribe", description="subscriptions, or polling for servers without them"
    )
    poll_interval_s: float = Field(1.0, gt=0, description="mode poll: read period")
    username: str | None = Field(None, description="user name, when the server wants one")
    password: SecretStr | None = Field(None, description="password (never logged)")
    security: OpcUaSecurityConfig = OpcUaSecurityConfig()
    subscription: OpcUaSubscriptionConfig = OpcUaSubscriptionConfig()
    watchdog_s: float = Field(15.0, gt=0, description="no data and no keep-alive this long = dead")
    reconnect: Backoff = Backoff()
    backfill: bool = Field(True, description="HistoryRead the span the agent was down")
    nodes: tuple[NodeMapping, ...]


class MqttPayloadConfig(Contract):
    """How to read a payload: one JSON value, a JSON document of many signals, or a bare number."""

    format: Literal["json", "document", "raw"] = "json"
    value_field: str = "value"
    ts_field: str | None = "ts"
    quality_field: str | None = "quality"
    values_field: str = Field("values", description="format=document: object of signal -> value")


class MqttSubscriptionConfig(Contract):
    """A topic template such as 'egiz/demo/pumping/{asset}/{signal}' and how to read it."""

    topic: str
    asset: Slug | None = Field(None, description="fixed asset when the topic has no {asset}")
    signal: Name | None = Field(None, description="fixed signal when the topic has no {signal}")
    units: dict[str, str] = Field(default_factory=dict, description="signal -> source unit")
    payload: MqttPayloadConfig = MqttPayloadConfig()

    @model_validator(mode="after")
    def _placeholders(self) -> Self:
        if "{asset}" not in self.topic and self.asset is None:
            raise ValueError("topic has no {asset} placeholder: set 'asset'")
        if (
            "{signal}" not in self.topic
            and self.signal is None
            and self.payload.format != "document"
        ):
            raise ValueError(
                "topic has no {signal} placeholder: set 'signal' or use format document"
            )
        return self


class MqttSourceConfig(Contract):
    """An MQTT broker the edge subscribes to with a persistent session."""

    kind: Literal["mqtt"] = "mqtt"
    name: Slug = Field(description="unique source name (logs, status, events)")
    url: str = Field(
        pattern=r"^mqtts?://[^/:]+(:\d+)?/?$", description="mqtt://host:port or mqtts://"
    )
    client_id: str | None = Field(None, description="default: egiz-<edge_id>-<source name>")
    qos: Literal[0, 1, 2] = Field(1, description="subscription QoS")
    clean_start: bool = Field(False, description="False keeps a persistent session")
    username: str | None = None
    password: SecretStr | None = None
    ca_file: str | None = None
    keepalive_s: int = Field(30, ge=5)
    reconnect: Backoff = Backoff()
    journal_max_bytes: int = Field(
        64 << 20,
        ge=1 << 20,
        description="bound of the receive journal (persistent session, QoS >= 1): it holds the "
        "open windows; when full a kill of the agent can lose them (reported)",
    )
    subscriptions: tuple[MqttSubscriptionConfig, ...]


SourceConfig = Annotated[OpcUaSourceConfig | MqttSourceConfig, Field(discriminator="kind")]


class WindowConfig(Contract):
    """Window length in data time; windows align to multiples of it."""

    length_s: float = Field(10.0, gt=0)
    lateness_s: float = Field(
        5.0, ge=0, description="wait this long past a window's end for late samples"
    )


class UplinkConfig(Contract):
    """Where and how the edge ships its outbox to the cloud."""

    url: str | None = Field(None, description="cloud base URL; None runs the edge offline")
    edge_id: Slug = Field(description="this edge's id, as issued by `egiz cloud edge add`")
    token: SecretStr | None = Field(None, description="bearer token (prefer token_file)")
    token_file: str | None = Field(None, description="file holding the bearer token")
    ca_file: str | None = Field(None, description="CA bundle to verify the cloud's certificate")
    ledger_key: SecretStr | None = Field(
        None, description="ledger signing key 'egk_...' from `egiz cloud edge add`"
    )
    ledger_key_file: str | None = Field(None, description="file holding the ledger signing key")
    interval_s: float = Field(1.0, gt=0, description="pause between batches when idle")
    max_batch_records: int = Field(500, ge=1, description="records per batch at most")
    timeout_s: float = Field(10.0, gt=0, description="HTTP timeout per request")
    gzip: bool = Field(True, description="compress batches")
    bandwidth_cap_bytes_s: float | None = Field(
        None, gt=0, description="average request-body bytes/s at most (metered or satellite link)"
    )
    heartbeat_interval_s: float = Field(30.0, gt=0)
    backoff: Backoff = Backoff()


class OutboxConfig(Contract):
    """The durable queue: bounded by bytes and age, events evicted last."""

    path: str = Field("var/outbox.db", description="SQLite file, relative to the config file")
    max_bytes: int = Field(
        512 * 1024 * 1024, ge=64 * 1024, description="size cap; oldest summaries go first"
    )
    max_age_s: float = Field(30 * 86400.0, gt=0, description="records older than this are evicted")


class ModelRef(Contract):
    """A model artifact pinned by sha256 for the assets of one type."""

    asset_type: Name
    artifact: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class TripRule(Contract):
    """A local-autonomy rule: when a signal crosses a limit, act without asking the cloud."""

    asset: Slug
    signal: Name
    above: float | None = None
    below: float | None = None
    action: Name = "stop"
    severity: Severity = Severity.critical


class ControlPolicy(Contract):
    """What the edge may execute and the checks it makes first."""

    enabled: bool = False
    max_clock_offset_s: float = Field(5.0, gt=0)
    trips: tuple[TripRule, ...] = ()
    source: Slug | None = Field(
        None, description="OPC UA source whose session writes and calls; default: the first"
    )
    node_template: str = Field(
        "ns=2;s={site}.{asset}.{name}", description="NodeId of a setpoint or signal"
    )
    method_template: str = Field(
        "ns=2;s={site}.{asset}.{Name}", description="NodeId of a method ({Name} capitalized)"
    )
    object_template: str = Field("ns=2;s={site}.{asset}", description="NodeId of an asset object")
    journal_path: str = Field("var/control.db", description="at-most-once execution journal")
    ledger_path: str = Field("var/ledger.db", description="the edge's hash-chained ledger")
    trip_poll_s: float = Field(0.5, gt=0, description="how often trip rules read their signals")


class StatusConfig(Contract):
    """The local, read-only status endpoint for a technician on site."""

    host: str = Field("127.0.0.1", description="bind address (keep it on loopback or the site LAN)")
    port: int = Field(8710, ge=0, le=65535, description="0 picks a free port")


class SiteConfig(Contract):
    """Everything one edge agent needs: the site, its assets, sources, models, uplink."""

    version: Literal[1] = Field(1, description="site config format version")
    site: SiteInfo = Field(description="the site this edge serves")
    asset_types: tuple[AssetType, ...] = Field(description="the asset type catalogue used here")
    assets: tuple[Asset, ...] = Field(description="the assets of the site")
    sources: tuple[SourceConfig, ...] = Field(description="OPC UA servers and MQTT brokers to read")
    window: WindowConfig = WindowConfig()
    models: tuple[ModelRef, ...] = ()
    uplink: UplinkConfig
    outbox: OutboxConfig = OutboxConfig()
    control: ControlPolicy = ControlPolicy()
    status: StatusConfig = StatusConfig()

    @model_validator(mode="after")
    def _references(self) -> Self:
        types = {t.name: t for t in self.asset_types}
        if len(types) != len(self.asset_types):
            raise ValueError("asset_types: names must be unique")
        assets = {a.id: a for a in self.assets}
        if len(assets) != len(self.assets):
            raise ValueError("assets: ids must be unique within the site")
        for a in self.assets:
            if a.type not in types:
                raise ValueError(
                    f"asset {a.id!r} has type {a.type!r}, which is not in asset_types "
                    f"(known: {', '.join(sorted(types)) or 'none'})"
                )
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError("sources: names must be unique")
        for src in self.sources:
            if isinstance(src, OpcUaSourceConfig):
                for n in src.nodes:
                    _check_signal(types, assets, src.name, n.asset, n.signal, n.unit)
            else:
                for sub in src.subscriptions:
                    if sub.asset is not None:
                        if sub.asset not in assets:
                            raise ValueError(f"source {src.name!r}: unknown asset {sub.asset!r}")
                        if sub.signal is not None:
                            _check_signal(types, assets, src.name, sub.asset, sub.signal, None)
                    for sig, unit in sub.units.items():
                        if unit not in UNITS:
                            raise ValueError(
                                f"source {src.name!r}: signal {sig!r}: unknown unit {unit!r}"
                            )
        for m in self.models:
            if m.asset_type not in types:
                raise ValueError(f"models: unknown asset_type {m.asset_type!r}")
        return self

    def asset_type_of(self, asset_id: str) -> AssetType:
        """Return the asset type of ``asset_id``."""
        asset = next(a for a in self.assets if a.id == asset_id)
        return next(t for t in self.asset_types if t.name == asset.type)


def _check_signal(
    types: dict[str, AssetType],
    assets: dict[str, Asset],
    source: str,
    asset_id: str,
    signal: str,
    unit: str | None,
) -> None:
    if asset_id not in assets:
        raise ValueError(f"source {source!r}: unknown asset {asset_id!r}")
    atype = types[assets[asset_id].type]
    try:
        spec = atype.signal(signal)
    except KeyError:
        known = ", ".join(s.name for s in atype.signals)
        raise ValueError(
            f"source {source!r}: asset {asset_id!r} (type {atype.name!r}) has no signal "
            f"{signal!r} (known: {known})"
        ) from None
    if unit is not None:
        if unit not in UNITS:
            raise ValueError(f"source {source!r}: {asset_id}.{signal}: unknown unit {unit!r}")
        conversion(unit, spec.unit)  # raises ValueError naming both units
