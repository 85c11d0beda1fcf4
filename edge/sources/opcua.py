"""OPC UA source (asyncua ≥ 2.0): array-decoded subscriptions, own reconnect and watchdog."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Self

import numpy as np
from asyncua import Client, ua
from asyncua.common.subscription import Subscription
from asyncua.ua.uaerrors import (
    BadIdentityTokenInvalid,
    BadIdentityTokenRejected,
    BadUserAccessDenied,
)

from egiz.contracts import EventKind, NodeMapping, OpcUaSourceConfig

from ..backoff import Retry
from ..errors import SourceUnavailable
from ..samples import BAD, Ref, RefTable, SampleBatch
from .base import NoteSink, SourceNote, ignore_note
from .opcua_wire import DataChanges, decode_publish_response, quality_of

log = logging.getLogger(__name__)

#: One Publish request in flight per session (asyncua's loop). More would let the server send
#: the next response while we handle one, but asyncua's server can then answer them out of
#: order (newer data first: the watermark would pass values still on their way), and with
#: responses decoded into arrays one request already takes all node-opcua produces.
_FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)  # data time may run ahead of the wall clock


#: Status codes that say "no value yet" rather than describing a measurement: a node that has
#: never been written answers a new subscription with one, stamped with the server's wall clock
#: (Part 4 §7.34). Taken as a bad sample, that stamp could push data time past real samples.
NOT_A_SAMPLE = frozenset({ua.StatusCodes.BadWaitingForInitialData})
_NOT_A_SAMPLE = np.array(sorted(NOT_A_SAMPLE), np.uint32)


def status_quality(code: int) -> int:
    """Map an OPC UA status code to GOOD/UNCERTAIN/BAD: its two top bits (Part 4 §7.39)."""
    top = (code >> 30) & 0b11
    return top if top < 2 else BAD


def to_epoch(dt: datetime | None) -> float:
    """Return epoch seconds of an OPC UA DateTime; NaN when absent (asyncua gives naive UTC)."""
    if dt is None:
        return float("nan")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _application_uri(path: str | None) -> str | None:
    """Return the URI SAN of a PEM or DER certificate (the OPC UA application URI)."""
    if not path:
        return None
    from cryptography import x509

    try:
        raw = open(path, "rb").read()  # noqa: SIM115 (a tiny file, read once at connect)
        cert = (
            x509.load_pem_x509_certificate(raw)
            if raw.startswith(b"-----")
            else x509.load_der_x509_certificate(raw)
        )
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (OSError, ValueError, x509.ExtensionNotFound):
        return None
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


#: Session activation refused because of who we are: retrying will not help until the config
#: (or the server's user list) changes, so it is reported once, loudly, not only logged.
_IDENTITY_REFUSED = (BadUserAccessDenied, BadIdentityTokenInvalid, BadIdentityTokenRejected)


def _identity_refusal(err: BaseException) -> ua.UaStatusCodeError | None:
    """Return the server's identity refusal behind ``err`` (or None)."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, _IDENTITY_REFUSED):
            return seen
        seen = seen.__cause__
    return None


def _as_float(value: Any) -> float:
    if isinstance(value, bool | int | float):
        return float(value)
    return float("nan")


class _SessionLink:
    """What a session's subscriptions report to the task that watches them."""

    __slots__ = ("backfilling", "dead", "lanes", "why")

    def __init__(self, lanes: list[int], backfilling: bool = False) -> None:
        self.dead = asyncio.Event()
        self.why = ""
        self.lanes = lanes  # the source-wide lane (subscription) numbers of this session
        # While the session backfills nothing of the source is released (see _release): live
        # values must neither reach the windower before the older backfilled ones (the
        # watermark would pass them) nor move the per-node "newest received" mark the backfill
        # starts from.
        self.backfilling = backfilling

    def fail(self, why: str) -> None:
        if not self.dead.is_set():
            self.why = why
            self.dead.set()


class _BatchSubscription(Subscription):
    """A subscription whose publish results become sample batches, never one object per value.

    asyncua's iterator/callback modes turn every value into an event object and a queue
    round trip; here a whole notification (already arrays, see opcua_wire) is one batch.
    """

    def __init__(
        self, session: Any, params: Any, link: _SessionLink, lane: int, source: OpcUaSource
    ) -> None:
        super().__init__(session, params, handler=None, queue_maxsize=1)  # its queue stays unused
        self._link = link
        self._lane = lane
        self._source = source

    async def publish_callback(self, publish_result: ua.PublishResult) -> None:
        self.last_publish_at = time.monotonic()
        msg = publish_result.NotificationMessage
        if msg.NotificationData is None:
            return
        if self._link.dead.is_set() and self._source.config.backfill:
            # Already received when the session died: its lanes are the next session's now,
            # and the backfill brings these values again (nothing of them was emitted).
            return
        if not msg.NotificationData:  # a keep-alive: the server holds nothing for us
            await self._source._quiet_lane(self._lane)
            return
        self.last_sequence_number = int(msg.SequenceNumber)
        for notif in msg.NotificationData:
            if isinstance(notif, DataChanges):
                await self._source._on_changes(notif, self._lane)
            elif isinstance(notif, ua.DataChangeNotification):  # decoded by asyncua (republish)
                await self._source._on_changes(_changes_of(notif), self._lane)
            elif isinstance(notif, ua.StatusChangeNotification) and not notif.Status.is_good():
                self._link.fail(f"subscription status {notif.Status.name}")


_FIELDS = ("ref", "ts", "value", "quality")


def _part(batch: SampleBatch, mask: np.ndarray) -> SampleBatch:
    """The samples of ``batch`` where ``mask`` is true."""
    return SampleBatch(
        batch.ref[mask], batch.ts[mask], batch.value[mask], batch.quality[mask], batch.received
    )


def _changes_of(notif: ua.DataChangeNotification) -> DataChanges:
    items = notif.MonitoredItems
    return DataChanges(
        np.array([i.ClientHandle for i in items], np.uint32),
        np.array([to_epoch(i.Value.SourceTimestamp) for i in items], np.float64),
        np.array([_as_float(i.Value.Value.Value if i.Value.Value else None) for i in items]),
        np.array([i.Value.StatusCode.value if i.Value.StatusCode else 0 for i in items], np.uint32),
    )


async def _publish(client: Client, acks: list[ua.SubscriptionAcknowledgement]) -> Any:
    """A Publish request whose response is decoded by opcua_wire (replaces asyncua's decode)."""
    protocol = client.uaclient.protocol
    if protocol is None:
        raise ConnectionError("connection is not open")
    request = ua.PublishRequest()
    request.Parameters.SubscriptionAcknowledgements = acks
    return decode_publish_response(await protocol.send_request(request, timeout=0))


class OpcUaSource:
    """Subscribe to (or poll) one OPC UA server; survives server restarts and dead sessions."""

    def __init__(self, config: OpcUaSourceConfig, *, on_note: NoteSink = ignore_note) -> None:
        self.config = config
        self.name = config.name
        self.refs = RefTable()
        self._mappings: list[NodeMapping] = list(config.nodes)
        for m in self._mappings:
            # One ref per node, in config order: the ref index is the node's index (two nodes
            # may feed one signal, e.g. a redundant PLC), and travels as the client handle.
            self.refs.append(Ref(m.asset, m.signal, m.unit))
        self._on_note = on_note
        self._out: asyncio.Queue[SampleBatch] = asyncio.Queue(maxsize=1000)
        self._tasks: list[asyncio.Task[None]] = []
        self._session_states: dict[int, str] = {}
        self.state = "starting"
        self.samples = 0
        self.reconnects = 0
        self.last_data_wall: float | None = None
        self.connected_at: float | None = None
        self.bad_nodes: dict[str, str] = {}
        self.last_error: str | None = None  # why the last connection attempt or session ended
        #: HistoryRead from here (epoch s) on the first connection: where the agent stopped.
        self.backfill_from: float | None = None
        self.backfilled = 0
        self.waiting_for_initial_data = 0  # notifications that carried no value yet
        self._last_ts = np.full(len(self.refs), np.nan)  # newest source ts received per node
        # Subscriptions ("lanes") are published one after another (one Publish request in
        # flight per session; sessions side by side), so after a stalled loop the first to be
        # answered may carry values seconds newer than those another one still holds; the
        # windower closes on the newest timestamp and would drop the rest as late. Live values
        # therefore wait in _pending until every lane that may still deliver older ones has
        # reached their timestamp (a k-way merge; see _release).
        self._lane_of = np.full(len(self.refs), -1, np.int32)  # node -> lane
        self._lane_mark: dict[int, float] = {}  # lane -> newest source ts it delivered
        self._quiet: set[int] = set()  # lanes whose last publish response was a keep-alive
        # lanes that had their first data change (the initial values of their items): a
        # keep-alive before it (a new subscription's first message) says nothing about them
        self._started: set[int] = set()
        self._pending: list[SampleBatch] = []
        self._backfilling = 0  # sessions backfilling: nothing is released meanwhile

    async def __aenter__(self) -> Self:
        groups = self._session_groups()
        lane = 0
        for i, group in enumerate(groups):
            self._session_states[i] = "starting"
            lanes = list(range(lane, lane + len(group)))
            lane += len(group)
            self._tasks.append(
                asyncio.create_task(self._session(i, group, lanes), name=f"opcua-{i}")
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        self.state = "stopped"

    async def stream(self) -> AsyncIterator[SampleBatch]:
        """Yield batches from every session of this source."""
        while True:
            yield await self._out.get()

    def stats(self) -> dict[str, Any]:
        """Return state, counters and per-session states for the status page."""
        return {
            "kind": "opcua",
            "state": self.state,
            "endpoint": self.config.endpoint,
            "samples": self.samples,
            "reconnects": self.reconnects,
            "sessions": dict(self._session_states),
            "bad_nodes": dict(self.bad_nodes),
            "backfilled": self.backfilled,
            "waiting_for_initial_data": self.waiting_for_initial_data,
            "last_error": self.last_error,
        }

    # -- sessions -------------------------------------------------------------------------

    def _session_groups(self) -> list[list[list[int]]]:
        """Split node indices into subscriptions of max_items, sessions of max_subscriptions."""
        sub = self.config.subscription
        idx = list(range(len(self._mappings)))
        subs = [
            idx[i : i + sub.max_items_per_subscription]
            for i in range(0, len(idx), sub.max_items_per_subscription)
        ] or [[]]
        per = sub.max_subscriptions_per_session
        return [subs[i : i + per] for i in range(0, len(subs), per)]

    def _set_state(self, session: int, state: str) -> None:
        old = self.state
        self._session_states[session] = state
        states = set(self._session_states.values())
        if states == {"connected"}:
            self.state = "connected"
        elif "reconnecting" in states:
            self.state = "reconnecting"
        else:
            self.state = "starting"
        if self.state != old:
            self._on_note(
                SourceNote(
                    EventKind.source_status,
                    f"source {self.name}: {old} -> {self.state}",
                    {"source": self.name, "state": self.state, "previous": old},
                )
            )

    async def _session(self, index: int, groups: list[list[int]], lanes: list[int]) -> None:
        retry = Retry(self.config.reconnect)
        while True:
            client = self._client()
            link: _SessionLink | None = None
            try:
                await self._connect(client)
                if self.config.mode == "poll":
                    self._set_state(index, "connected")
                    self.last_error = None
                    retry.reset()
                    await self._poll(client, [i for g in groups for i in g])
                else:
                    link = _SessionLink(lanes, backfilling=self.config.backfill)
                    self._backfilling += link.backfilling
                    # asyncua's publish loop (started with the first subscription) decodes
                    # responses with opcua_wire.
                    client.uaclient.session.publish = lambda acks, c=client: _publish(c, acks)
                    made = [
                        await self._subscribe(client, g, link, lane)
                        for g, lane in zip(groups, lanes, strict=True)
                        if g
                    ]
                    subs = [sub for sub, _nodes in made]
                    self._set_state(index, "connected")
                    self.last_error = None
                    retry.reset()
                    if link.backfilling:
                        await self._backfill([n for _sub, nodes in made for n in nodes])
                        link.backfilling = False
                        self._backfilling -= 1
                        await self._release()
                    await self._consume(client, subs, link)
            except asyncio.CancelledError:
                self._end_lanes(link)
                await self._close(client)
                raise
            except Exception as err:  # every failure ends in a reconnect, never in a dead source
                log.warning("opcua %s session %d: %s", self.name, index, err)
                self._failed(err)
            self._end_lanes(link)
            await self._release()
            await self._close(client)
            self.reconnects += 1
            self._set_state(index, "reconnecting")
            await asyncio.sleep(retry.next_delay())

    def _end_lanes(self, link: _SessionLink | None) -> None:
        """The session is gone: its lanes hold nothing back any more. What they delivered but
        the merge still holds is dropped when the next session backfills it (the per-node
        mark it starts from never moved past it), else released now."""
        if link is None:
            return
        link.fail("session ended")  # what its publish loop still hands over is ignored
        if link.backfilling:
            link.backfilling = False
            self._backfilling -= 1
        for lane in link.lanes:
            self._lane_mark.pop(lane, None)
            self._quiet.discard(lane)
            self._started.discard(lane)
        if self.config.backfill:
            mine = np.isin(self._lane_of, link.lanes)
            kept = []
            for batch in self._pending:
                keep = ~mine[batch.ref]
                if keep.all():
                    kept.append(batch)
                elif keep.any():
                    kept.append(_part(batch, keep))
            self._pending = kept

    def _failed(self, err: Exception) -> None:
        """Remember why; an identity refusal also becomes an event (once per distinct reason)."""
        refused = _identity_refusal(err)
        if refused is None:
            self.last_error = str(err)
            return
        who = f"user {self.config.username!r}" if self.config.username else "anonymous"
        why = (
            f"source {self.name}: {self.config.endpoint} refused the session for {who}: "
            f"{type(refused).__name__} (fix: the source's username/password, or the server's "
            "user list; retrying with backoff)"
        )
        if why != self.last_error:
            self._on_note(
                SourceNote(
                    EventKind.source_status,
                    why,
                    {"source": self.name, "state": "auth_failed", "code": type(refused).__name__},
                )
            )
        self.last_error = why

    def _client(self) -> Client:
        client = Client(self.config.endpoint, timeout=5)
        # Let the server drop our session soon after we vanish, so a restarted agent does not
        # leave orphan sessions counting against the server's session limit.
        client.session_timeout = max(30_000, int(self.config.watchdog_s * 4000))
        if self.config.username:
            client.set_user(self.config.username)
        if self.config.password is not None:
            client.set_password(self.config.password.get_secret_value())
        return client

    async def _connect(self, client: Client) -> None:
        sec = self.config.security
        try:
            if sec.policy != "None":
                uri = _application_uri(sec.certificate)
                if uri:  # servers check that our ApplicationUri is the certificate's URI SAN
                    client.application_uri = uri
                parts = [sec.policy, sec.mode, sec.certificate, sec.private_key]
                if sec.server_certificate:
                    parts.append(sec.server_certificate)
                await client.set_security_string(",".join(str(p) for p in parts))
            await asyncio.wait_for(client.connect(auto_reconnect=False), self.config.watchdog_s)
        except (OSError, TimeoutError, ua.UaError) as err:
            raise SourceUnavailable(f"{self.config.endpoint}: {err!r}") from err

    async def _close(self, client: Client) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), 2.0)

    async def _resolve(self, client: Client, indices: list[int]) -> list[tuple[int, Any]]:
        """Return (ref, Node) for the nodes that exist; a bad node is reported, never fatal."""
        out = []
        for i in indices:
            m = self._mappings[i]
            try:
                if m.node is not None:
                    node = client.get_node(m.node)
                else:
                    node = await client.nodes.objects.get_child(m.browse_path.strip("/").split("/"))
                out.append((i, node))
            except Exception as err:
                self._bad_node(m, f"cannot resolve: {err}")
        return out

    def _bad_node(self, m: NodeMapping, why: str) -> None:
        key = m.node or m.browse_path or "?"
        if self.bad_nodes.get(key) != why:
            self.bad_nodes[key] = why
            self._on_note(
                SourceNote(
                    EventKind.source_status,
                    f"source {self.name}: node {key} ({m.asset}.{m.signal}) skipped: {why}",
                    {"source": self.name, "node": key, "asset": m.asset, "signal": m.signal},
                )
            )

    async def _subscribe(
        self, client: Client, indices: list[int], link: _SessionLink, lane: int
    ) -> Any:
        cfg = self.config.subscription
        params = ua.CreateSubscriptionParameters()
        params.RequestedPublishingInterval = cfg.publishing_interval_ms
        # Keep-alives at a third of the watchdog, so a quiet but healthy subscription is never
        # mistaken for a dead one (asyncua's default is 75 % of the session timeout).
        keepalive = max(1, int(self.config.watchdog_s * 1000 / 3 / cfg.publishing_interval_ms))
        params.RequestedMaxKeepAliveCount = keepalive
        params.RequestedLifetimeCount = keepalive * 10
        params.MaxNotificationsPerPublish = 10_000
        params.PublishingEnabled = True
        params.Priority = 0
        self._lane_of[indices] = lane
        # Until it has delivered (live or backfilled) or said it has nothing, a new lane holds
        # back everything newer than what the rest of the source has released.
        self._lane_mark[lane] = -np.inf
        self._quiet.discard(lane)
        self._started.discard(lane)
        sub = _BatchSubscription(client.uaclient.session, params, link, lane, self)
        revised = client.get_subscription_revised_params(params, await sub.init())
        if revised:
            await sub.update(revised)
        nodes = await self._resolve(client, indices)
        # StatusValueTimestamp: a repeated value with a new source timestamp is still a sample.
        mfilter = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)
        if cfg.deadband_abs is not None:
            mfilter.DeadbandType = ua.DeadbandType.Absolute
            mfilter.DeadbandValue = cfg.deadband_abs
        requests = []
        for ref, node in nodes:
            params = ua.MonitoringParameters()
            params.ClientHandle = ref + 1  # our ref index travels as the client handle
            params.SamplingInterval = cfg.sampling_interval_ms
            params.QueueSize = cfg.queue_size
            params.DiscardOldest = True
            params.Filter = mfilter
            req = ua.MonitoredItemCreateRequest()
            req.ItemToMonitor = ua.ReadValueId(
                NodeId=node.nodeid, AttributeId=ua.AttributeIds.Value
            )
            req.MonitoringMode = ua.MonitoringMode.Reporting
            req.RequestedParameters = params
            requests.append(req)
        results = await sub.create_monitored_items(requests) if requests else []
        for (ref, _node), res in zip(nodes, results, strict=True):
            if isinstance(res, ua.StatusCode):
                self._bad_node(self._mappings[ref], f"monitored item refused: {res.name}")
        if all(isinstance(res, ua.StatusCode) for res in results):  # nothing will come
            self._quiet.add(lane)
        return sub, nodes

    async def _consume(self, client: Client, subs: list[Any], link: _SessionLink) -> None:
        """Watch the session while asyncua's publish loop feeds the subscriptions; raise when
        it is dead."""
        self.connected_at = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(link.dead.wait(), 1.0)
            if link.dead.is_set():
                raise SourceUnavailable(link.why)
            self._watchdog(client, subs)

    def _watchdog(self, client: Client, subs: list[Any]) -> None:
        """Raise when the transport is down or a subscription stopped publishing (keep-alives too)."""
        if client.uaclient.state.name != "CONNECTED":
            raise SourceUnavailable(f"transport {client.uaclient.state.name.lower()}")
        now = time.monotonic()
        for sub in subs:
            last = sub.last_publish_at or self.connected_at or now
            if now - last > self.config.watchdog_s:
                raise SourceUnavailable(
                    f"subscription {sub.subscription_id} silent for {now - last:.1f} s"
                )

    async def _on_changes(self, changes: DataChanges, lane: int) -> None:
        """One data-change notification (arrays) into one batch; handles are ref index + 1."""
        self._started.add(lane)
        ref = changes.handle.astype(np.int64) - 1
        ours = (ref >= 0) & (ref < len(self.refs))
        no_value = np.isin(changes.status, _NOT_A_SAMPLE)
        if no_value.any():
            self.waiting_for_initial_data += int(no_value.sum())
            ours &= ~no_value
        if not ours.all():  # a handle we never gave out, or no value yet: not a sample
            changes = DataChanges(*(a[ours] for a in (changes.handle, changes.ts,
                                                      changes.value, changes.status)))  # fmt: skip
            ref = ref[ours]
        if ref.shape[0]:
            batch = SampleBatch(
                ref.astype(np.int32),
                changes.ts,
                changes.value,
                quality_of(changes.status),
                time.time(),
            )
            newest = float(np.nanmax(batch.ts, initial=-np.inf))
            self._lane_mark[lane] = max(self._lane_mark.get(lane, -np.inf), newest)
            self._quiet.discard(lane)
            self._pending.append(batch)
            await self._release()

    async def _quiet_lane(self, lane: int) -> None:
        """A keep-alive: the lane has nothing older on its way, so it holds nothing back."""
        if lane in self._started and lane not in self._quiet:
            self._quiet.add(lane)
            await self._release()

    async def _release(self) -> None:
        """Emit the held values no lane can still undercut: source timestamps up to the oldest
        newest-delivered timestamp of the lanes that may deliver more (not quiet, session up).
        """
        if self._backfilling or not self._pending:
            return
        marks = [m for lane, m in self._lane_mark.items() if lane not in self._quiet]
        upto = min(marks) if marks else np.inf
        # Split first, emit after: another session's callback may run while _emit waits.
        pending, self._pending = self._pending, []
        ready, kept = [], []
        for batch in pending:
            later = batch.ts > upto  # NaN (no source timestamp) is never held
            if not later.any():
                ready.append(batch)
            elif later.all():
                kept.append(batch)
            else:
                ready.append(_part(batch, ~later))
                kept.append(_part(batch, later))
        self._pending = kept + self._pending
        if len(ready) > 1:  # one batch: the windower closes windows after every batch it takes
            ready = [
                SampleBatch(
                    *(np.concatenate([getattr(b, f) for b in ready]) for f in _FIELDS),
                    ready[-1].received,
                )
            ]
        for batch in ready:
            await self._emit(batch)

    async def _emit(self, batch: SampleBatch) -> None:
        np.fmax.at(self._last_ts, batch.ref, batch.ts)
        self.samples += len(batch)
        self.last_data_wall = time.time()
        await self._out.put(batch)

    async def _backfill(self, nodes: list[tuple[int, Any]]) -> None:
        """HistoryRead what each node served since we last heard from it (or the agent stopped).

        Overlap with the new subscription is harmless: windows count a timestamp once. The
        history goes into the merge (released with the live values, see _release) and moves
        each lane's mark to the newest value it read.
        """
        todo = []
        for ref, node in nodes:
            start = self._last_ts[ref]
            if np.isnan(start):
                start = self.backfill_from
            if start is not None:
                todo.append((ref, node, float(start)))
        rows: list[tuple[int, list[Any]]] = []
        for i in range(0, len(todo), 50):  # bounded concurrency: a server has request limits
            got = await asyncio.gather(
                *(self._history(ref, node, start) for ref, node, start in todo[i : i + 50])
            )
            rows += [(ref, dvs) for (ref, _n, _s), dvs in zip(todo[i : i + 50], got, strict=True)]
        refs = [ref for ref, dvs in rows for _ in dvs]
        if not refs:
            return
        # One batch for every node: the watermark must not pass one node's backfill because
        # another node's arrived first.
        dvs = [dv for _ref, dvl in rows for dv in dvl]
        batch = SampleBatch.from_lists(
            refs,
            [to_epoch(dv.SourceTimestamp) for dv in dvs],
            [_as_float(dv.Value.Value if dv.Value else None) for dv in dvs],
            [status_quality(dv.StatusCode.value if dv.StatusCode else 0) for dv in dvs],
            time.time(),
        )
        self.backfilled += len(batch)
        lanes = self._lane_of[batch.ref]
        for lane in np.unique(lanes).tolist():
            # The history was read after the lane's monitored items were made: anything newer
            # than what it returned comes live.
            newest = float(np.nanmax(batch.ts[lanes == lane], initial=-np.inf))
            self._lane_mark[lane] = max(self._lane_mark.get(lane, -np.inf), newest)
        self._pending.append(batch)

    async def _history(self, ref: int, node: Any, start: float) -> list[Any]:
        m = self._mappings[ref]
        try:
            dvs = await node.read_raw_history(
                datetime.fromtimestamp(start, UTC), _FAR_FUTURE, return_bounds=False
            )
        except Exception as err:  # no history on this server/node: report the gap, go on
            self._on_note(
                SourceNote(
                    EventKind.data_gap,
                    f"source {self.name}: {m.asset}.{m.signal}: cannot backfill since "
                    f"{datetime.fromtimestamp(start, UTC).isoformat()}: {err}",
                    {
                        "source": self.name,
                        "asset": m.asset,
                        "signal": m.signal,
                        "start": start,
                        "reason": "history_unavailable",
                    },
                )
            )
            return []
        return [dv for dv in dvs if to_epoch(dv.SourceTimestamp) >= start]

    async def _poll(self, client: Client, indices: list[int]) -> None:
        """Read every node each poll interval (servers without subscriptions)."""
        nodes = await self._resolve(client, indices)
        refs = [r for r, _ in nodes]
        ids = [n for _, n in nodes]
        while True:
            started = time.monotonic()
            try:
                dvs = await client.read_attributes(ids)
            except (OSError, TimeoutError, ua.UaError) as err:
                raise SourceUnavailable(f"poll failed: {err!r}") from err
            now = time.time()
            codes = [dv.StatusCode.value if dv.StatusCode else 0 for dv in dvs]
            keep = [i for i, code in enumerate(codes) if code not in NOT_A_SAMPLE]
            self.waiting_for_initial_data += len(dvs) - len(keep)
            batch = SampleBatch.from_lists(
                [refs[i] for i in keep],
                [to_epoch(dvs[i].SourceTimestamp) for i in keep],
                [_as_float(dvs[i].Value.Value if dvs[i].Value else None) for i in keep],
                [status_quality(codes[i]) for i in keep],
                now,
            )
            if len(batch):
                await self._emit(batch)
            elapsed = time.monotonic() - started
            await asyncio.sleep(max(0.0, self.config.poll_interval_s - elapsed))
