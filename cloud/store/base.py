"""The store interface every backend implements, and the plain rows it reads and writes.

Times are float seconds since the Unix epoch (UTC) in every table: portable between SQLite
and PostgreSQL, cheap to index, and exact enough for window starts. Rows are NamedTuples so
they go to the driver as they are (no per-row conversion on the ingest hot path).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple


class EdgeRow(NamedTuple):
    """A provisioned edge device; only the hash of its token is kept."""

    edge_id: str
    site: str | None
    token_hash: str
    created_at: float
    revoked_at: float | None = None
    last_seen: float | None = None


class SiteRow(NamedTuple):
    """A site registered by its edge's manifest."""

    site: str
    name: str
    enterprise: str
    edge_id: str | None
    manifest_hash: str | None
    manifest_epoch: str | None
    manifest_seq: int | None
    updated_at: float


class AssetRow(NamedTuple):
    """One asset of the digital master."""

    site: str
    asset: str
    type: str
    name: str
    area: str
    line: str | None
    attributes: str  # JSON object
    active: bool = True


class AssetTypeRow(NamedTuple):
    """One asset type of a site's catalogue, as the JSON of the AssetType contract."""

    site: str
    name: str
    body: str


class WindowRow(NamedTuple):
    """Statistics of one signal over one window (one row per asset, signal and start)."""

    site: str
    asset: str
    signal: str
    start: float
    length_s: float
    count: int
    bad: int
    uncertain: int
    out_of_range: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    last: float | None
    last_ts: float | None


class WindowRecord(NamedTuple):
    """One asset window with every signal's statistics: one stored row (see store.packing)."""

    site: str
    asset: str
    start: float
    length_s: float
    n: int  # number of signals
    signals: str  # sorted names, comma-separated
    stats: bytes  # n packed statistics structs, in the order of ``signals``


class Chunk(NamedTuple):
    """Raw window records of one asset and signal set, ordered by start: one stored row.

    ``body`` is ``k`` float64 starts, ``k`` float64 lengths, then the ``k`` records' packed
    statistics (see store.chunks).
    """

    site: str
    asset: str
    lo: float  # first start
    hi: float  # last start
    k: int  # records
    n: int  # signal windows (k times the number of signals)
    signals: str  # sorted names, comma-separated, shared by the k records
    body: bytes


class ShadowRow(NamedTuple):
    """The latest state of one signal: the ``last`` of its newest window and that window's quality."""

    site: str
    asset: str
    signal: str
    start: float
    length_s: float
    value: float | None
    ts: float
    count: int
    bad: int
    uncertain: int
    out_of_range: int


class ScoresRow(NamedTuple):
    """The model scores of one asset window (JSON of ModelScores)."""

    site: str
    asset: str
    start: float
    body: str


class EventRow(NamedTuple):
    """An edge event, keyed like every record by (edge_id, epoch, seq)."""

    edge_id: str
    epoch: str
    seq: int
    site: str | None
    kind: str
    ts: float
    asset: str | None
    signal: str | None
    severity: str
    message: str
    alarm_id: str | None
    body: str


class HeartbeatRow(NamedTuple):
    """An edge heartbeat (JSON of the Heartbeat contract)."""

    edge_id: str
    epoch: str
    seq: int
    ts: float
    body: str


class AssetStateRow(NamedTuple):
    """The newest model output of an asset: health, anomaly and RUL with its interval."""

    site: str
    asset: str
    start: float
    model: str
    version: str
    health: float | None
    anomaly: float | None
    rul: float | None
    rul_low: float | None
    rul_high: float | None
    rul_unit: str | None


class AlarmRow(NamedTuple):
    """An alarm raised by an edge (edge-generated id) and its cloud-side ISA-18.2 state."""

    site: str
    alarm_id: str
    edge_id: str | None
    asset: str | None
    signal: str | None
    severity: str
    message: str
    raised_at: float | None = None
    cleared_at: float | None = None
    cleared_by: str | None = None
    acked_at: float | None = None
    acked_by: str | None = None
    shelved_until: float | None = None
    shelved_by: str | None = None


class UserRow(NamedTuple):
    """A user; the password is kept only as a KDF hash."""

    username: str
    password_hash: str
    created_at: float


@dataclass(slots=True)
class WriteSet:
    """Everything one ingest batch changes, written by the store in one transaction."""

    edge_id: str
    epoch: str
    received_at: float
    keys: list[tuple[int, str]] = field(default_factory=list)  # (seq, record type)
    site: SiteRow | None = None
    asset_types: list[AssetTypeRow] = field(default_factory=list)
    assets: list[AssetRow] = field(default_factory=list)
    records: list[WindowRecord] = field(default_factory=list)  # packed (the ingest's form)
    # Chunks of records (the fast ingest's form); after ``write``, every raw record stored.
    chunks: list[Chunk] = field(default_factory=list)
    windows: list[WindowRow] = field(default_factory=list)  # per signal, packed by the store
    shadow: list[ShadowRow] = field(default_factory=list)
    scores: list[ScoresRow] = field(default_factory=list)
    events: list[EventRow] = field(default_factory=list)
    heartbeats: list[HeartbeatRow] = field(default_factory=list)
    asset_state: list[AssetStateRow] = field(default_factory=list)
    alarm_raises: list[AlarmRow] = field(default_factory=list)
    alarm_clears: list[AlarmRow] = field(default_factory=list)


class Store(ABC):
    """Durable state of the cloud; every method is one transaction and thread-safe."""

    url: str

    @abstractmethod
    def migrate(self, upto: int | None = None) -> int:
        """Apply pending schema migrations (up to ``upto``); return the version now in force."""

    @abstractmethod
    def schema_version(self) -> int:
        """Return the schema version of the database (0 when empty)."""

    @abstractmethod
    def server_version(self) -> str:
        """Return the database server's version string (proves which backend really ran)."""

    @abstractmethod
    def close(self) -> None:
        """Close every connection."""

    @abstractmethod
    def ping(self) -> bool:
        """Return True when the database answers a trivial query."""

    # edges ------------------------------------------------------------------------------
    @abstractmethod
    def add_edge(self, edge: EdgeRow) -> None:
        """Insert a new edge; raise Conflict when the id exists."""

    @abstractmethod
    def edge(self, edge_id: str) -> EdgeRow | None:
        """Return the edge ``edge_id`` or None."""

    @abstractmethod
    def edge_by_token_hash(self, token_hash: str) -> EdgeRow | None:
        """Return the edge holding the token of this hash, revoked or not, or None."""

    @abstractmethod
    def edges(self) -> list[EdgeRow]:
        """Return every edge, by id."""

    @abstractmethod
    def update_edge(
        self,
        edge_id: str,
        *,
        token_hash: str | None = None,
        revoked_at: float | None = None,
        last_seen: float | None = None,
        site: str | None = None,
    ) -> bool:
        """Set the given fields of an edge; return False when there is no such edge."""

    # ingest -----------------------------------------------------------------------------
    @abstractmethod
    def held_seqs(self, edge_id: str, epoch: str, seqs: list[int]) -> set[int]:
        """Return which of ``seqs`` of this edge epoch are stored."""

    @abstractmethod
    def write(self, ws: WriteSet) -> None:
        """Store one batch's changes atomically; every write is idempotent by its key."""

    # reads ------------------------------------------------------------------------------
    @abstractmethod
    def site(self, site: str) -> SiteRow | None:
        """Return the site or None."""

    @abstractmethod
    def sites(self) -> list[SiteRow]:
        """Return every site, by id."""

    @abstractmethod
    def assets(self, site: str | None = None) -> list[AssetRow]:
        """Return the active assets (of one site), by site and id."""

    @abstractmethod
    def asset_types(self, site: str) -> list[AssetTypeRow]:
        """Return the asset type catalogue of a site."""

    @abstractmethod
    def shadow(self, site: str | None = None, asset: str | None = None) -> list[ShadowRow]:
        """Return the latest state of every signal (of one site, of one asset)."""

    @abstractmethod
    def latest_scores(self, site: str, asset: str) -> ScoresRow | None:
        """Return the scores of the newest scored window of an asset."""

    @abstractmethod
    def windows(
        self,
        site: str,
        asset: str,
        signal: str | None,
        start: float | None,
        end: float | None,
        limit: int,
        tier: int = 0,
    ) -> list[WindowRow]:
        """Return rows of a tier (0 = raw windows, else rollup seconds) in ``[start, end)``."""

    @abstractmethod
    def events(
        self,
        site: str | None = None,
        asset: str | None = None,
        limit: int = 100,
        kind: str | None = None,
        before: float | None = None,
    ) -> list[EventRow]:
        """Return events, newest first (``before``: only events older than that time)."""

    @abstractmethod
    def asset_states(self, site: str | None = None) -> list[AssetStateRow]:
        """Return the newest model output of every scored asset (of one site)."""

    @abstractmethod
    def heartbeat(self, edge_id: str) -> HeartbeatRow | None:
        """Return the newest heartbeat of an edge."""

    # alarms -----------------------------------------------------------------------------
    @abstractmethod
    def alarms(self, site: str | None = None, active: bool | None = None,
               limit: int = 500) -> list[AlarmRow]:  # fmt: skip
        """Return alarms, newest raise first; ``active`` filters on (not) cleared."""

    @abstractmethod
    def alarm(self, site: str, alarm_id: str) -> AlarmRow | None:
        """Return one alarm or None."""

    @abstractmethod
    def update_alarm(self, site: str, alarm_id: str, **fields: float | str | None) -> bool:
        """Set cloud-side alarm fields (acked_*, shelved_*, cleared_*); False if no alarm."""

    # users ------------------------------------------------------------------------------
    @abstractmethod
    def add_user(self, user: UserRow, grants: dict[str, str]) -> None:
        """Insert a user with its grants {site or '*': role}; Conflict when it exists."""

    @abstractmethod
    def user(self, username: str) -> tuple[UserRow, dict[str, str]] | None:
        """Return a user and its grants, or None."""

    @abstractmethod
    def users(self) -> list[tuple[UserRow, dict[str, str]]]:
        """Return every user with its grants."""

    @abstractmethod
    def remove_user(self, username: str) -> bool:
        """Delete a user, its grants and its tokens; False when there is no such user."""

    @abstractmethod
    def add_user_token(
        self, token_hash: str, username: str, created: float, expires: float
    ) -> None:
        """Store a user's bearer token hash with its expiry."""

    @abstractmethod
    def user_for_token(self, token_hash: str, now: float) -> str | None:
        """Return the user of an unexpired token, or None."""

    @abstractmethod
    def delete_user_token(self, token_hash: str) -> None:
        """Forget a token (logout)."""

    @abstractmethod
    def login_failures(self, username: str, since: float) -> int:
        """Return how many failed logins ``username`` had since ``since``."""

    @abstractmethod
    def record_login_failure(self, username: str, ts: float) -> None:
        """Remember one failed login (rate limiting)."""

    @abstractmethod
    def clear_login_failures(self, username: str) -> None:
        """Forget the failed logins of a user after a successful one."""

    # rollups and retention ---------------------------------------------------------------
    @abstractmethod
    def window_records(
        self, tier: int, site: str, asset: str, lo: float, hi: float
    ) -> list[tuple[float, float, str, bytes]]:
        """Return (start, length_s, signals, stats) of a tier's (0 = raw) records in [lo, hi)."""

    @abstractmethod
    def rollup_pending(self, limit: int = 10_000) -> list[tuple[str, str, float, float, float]]:
        """Return (site, asset, first, last 1-minute bucket, marked_at) ranges to roll up."""

    @abstractmethod
    def replace_rollups(
        self,
        tier: int,
        records: Sequence[WindowRecord],
        done: Sequence[tuple[str, str, float, float, float]] = (),
    ) -> None:
        """Upsert a tier's rollup records by bucket; forget the ``done`` pending ranges."""

    @abstractmethod
    def delete_before(self, tier: int, cutoff: float) -> int:
        """Delete rows of a tier (0 = raw) starting before ``cutoff``; return the count."""

    @abstractmethod
    def ingested_count(self, kind: str | None = None) -> int:
        """Return how many (edge_id, epoch, seq) keys are stored (of one record type)."""

    @abstractmethod
    def count(self, table: str) -> int:
        """Return the row count of one table (for tests and status pages)."""

    # webhook outbox (store.sql_notify) --------------------------------------------------
    @abstractmethod
    def add_webhook_deliveries(
        self, rows: Sequence[WebhookDeliveryRow], caps: dict[str, int], now: float
    ) -> list[WebhookDeliveryRow]:
        """Insert pending deliveries; drop the oldest unleased pending rows of a hook beyond
        ``caps[hook]`` (state ``dropped``) and return them."""

    @abstractmethod
    def claim_webhook_delivery(
        self, hook: str, owner: str, now: float, lease_s: float
    ) -> WebhookDeliveryRow | None:
        """Lease the oldest pending row of ``hook`` if it is due and unleased (one winner)."""

    @abstractmethod
    def webhook_head_due(self, hook: str) -> float | None:
        """Return when the oldest pending row of ``hook`` may be claimed, None if none."""

    @abstractmethod
    def settle_webhook_delivery(
        self, delivery_id: str, owner: str, now: float, *, error: str | None = None,
        retry_at: float | None = None,
    ) -> bool:  # fmt: skip
        """Mark a claimed row delivered, retried at ``retry_at``, or failed; False if not ours."""

    @abstractmethod
    def release_webhook_leases(self, owner: str) -> int:
        """Give back every lease ``owner`` holds."""

    @abstractmethod
    def webhook_deliveries(
        self, hook: str | None = None, state: str | None = None, limit: int = 100
    ) -> list[WebhookDeliveryRow]:
        """Return deliveries (of one hook, in one state), oldest first."""

    @abstractmethod
    def webhook_counts(self) -> dict[tuple[str, str], int]:
        """Return the number of deliveries per (hook, state)."""

    @abstractmethod
    def prune_webhook_deliveries(self, delivered_before: float, closed_before: float) -> int:
        """Delete delivered rows done before ``delivered_before``, failed and dropped rows done
        before ``closed_before``; return how many."""


class WebhookDeliveryRow(NamedTuple):
    """One notification for one webhook in the outbox (state: pending, delivered, failed,
    dropped); ``body`` is the exact JSON that is signed and posted."""

    delivery_id: str
    hook: str
    event: str
    body: str
    state: str
    created_at: float
    next_at: float
    attempts: int = 0
    lease_owner: str | None = None
    lease_until: float = 0.0
    last_error: str | None = None
    done_at: float | None = None
