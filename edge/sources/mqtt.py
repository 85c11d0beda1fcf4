"""MQTT source (paho-mqtt 2.x): persistent session, QoS 1, topic templates, JSON extraction."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import ssl
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlparse

import msgspec
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from egiz.contracts import EventKind, MqttSourceConfig, MqttSubscriptionConfig

from ..backoff import Retry
from ..samples import BAD, GOOD, UNCERTAIN, Ref, RefTable, SampleBatch
from .base import NoteSink, SourceNote, ignore_note
from .mqtt_journal import Journal, Record, encode

log = logging.getLogger(__name__)

_QUALITY = {"good": GOOD, "uncertain": UNCERTAIN, "bad": BAD, True: GOOD, False: BAD}
_NOTE_EVERY_S = 5.0
_COALESCE_S = 0.005


class Malformed(ValueError):
    """A payload or topic that cannot be read as samples."""


def compile_template(topic: str) -> tuple[str, list[str]]:
    """Return (subscription filter, segments) for a template like ``a/{asset}/{signal}``."""
    segments = topic.split("/")
    filt = ["+" if s in ("{asset}", "{signal}") else s for s in segments]
    return "/".join(filt), segments


def parse_ts(raw: Any) -> float:
    """Epoch seconds from a number (s or ms) or an ISO-8601 string; NaN when absent."""
    if raw is None:
        return math.nan
    if isinstance(raw, bool):
        raise Malformed(f"timestamp {raw!r} is not a time")
    if isinstance(raw, int | float):
        # Milliseconds are common on MQTT; nothing real is dated after the year 5138 in seconds.
        return float(raw) / 1000.0 if raw > 1e11 else float(raw)
    if isinstance(raw, str):
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as err:
            raise Malformed(f"timestamp {raw!r} is not ISO-8601") from err
        if dt.tzinfo is None:
            raise Malformed(f"timestamp {raw!r} has no time zone")
        return dt.timestamp()
    raise Malformed(f"timestamp {raw!r} is not a time")


_Number = float | bool | None  # bool: a switch is 0/1; None: a dropout (a bad sample)


def _decoder(fmt: Any) -> Callable[[bytes], Any]:
    """A msgspec decoder that validates one payload format while it parses (no dict walk).

    Field names come from the config, so the struct is built per format; a payload that does
    not fit raises ``msgspec.ValidationError`` (a ValueError): counted as malformed.
    """
    if fmt.format == "raw":
        return msgspec.json.Decoder(_Number).decode
    fields: list[Any] = [("v", _Number if fmt.format == "json" else dict[str, _Number])]
    rename = {"v": fmt.value_field if fmt.format == "json" else fmt.values_field}
    if fmt.ts_field:
        fields.append(("t", float | str | None, None))
        rename["t"] = fmt.ts_field
    if fmt.quality_field:
        fields.append(("q", str | bool | None, "good"))
        rename["q"] = fmt.quality_field
    struct = msgspec.defstruct("Payload", fields, rename=rename)
    return msgspec.json.Decoder(struct).decode


_READ_SIZE = 1 << 16
_PUBACK = 0x40


class _BufferedClient(paho.Client):
    """paho's client with buffered reads and coalesced PUBACKs (MQTT 3.1.1 only).

    Why: paho reads each packet with three ``recv`` calls (command byte, length, body) after a
    ``select``, and sends each PUBACK with its own ``send`` (plus a wake-up byte to its socket
    pair): 4-6 system calls per message, most of its cost per message. Here one ``recv`` of
    64 KiB feeds every packet it holds, and the PUBACKs of all of them leave in one ``send``
    after they were handled — later than paho would send them, never earlier, so each message
    is journaled before its PUBACK exists.

    Overrides paho 2.x internals (``_sock_recv``, ``_send_puback``, ``loop_read``); if a paho
    release renames them, ``_client_class`` falls back to the stock client
    (tests/edge/test_mqtt_source_fast.py notices).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = b""
        self._rpos = 0
        self._acks = bytearray()

    def reconnect(self) -> Any:
        # Bytes and acks of the old connection must never reach the new one.
        self._rbuf, self._rpos, self._acks = b"", 0, bytearray()
        return super().reconnect()

    def _sock_recv(self, bufsize: int) -> bytes:
        pos = self._rpos
        if pos >= len(self._rbuf):
            data = super()._sock_recv(_READ_SIZE)  # raises BlockingIOError when nothing came
            if not data:
                return data  # the broker closed the connection
            self._rbuf, pos = data, 0
        out = self._rbuf[pos : pos + bufsize]
        self._rpos = pos + len(out)
        return out

    def _send_puback(self, mid: int) -> Any:
        self._acks += struct.pack("!BBH", _PUBACK, 2, mid)
        return paho.MQTTErrorCode.MQTT_ERR_SUCCESS

    def loop_read(self, max_packets: int = 1) -> Any:
        ok = paho.MQTTErrorCode.MQTT_ERR_SUCCESS
        rc = super().loop_read(max_packets)  # one packet per call (paho's choice)
        while rc == ok and self._rpos < len(self._rbuf) and self._sock is not None:
            rc = super().loop_read(max_packets)
        if self._acks and self._sock is not None:
            acks, self._acks = bytes(self._acks), bytearray()
            self._packet_queue(_PUBACK, acks, 0, 0)  # one packet of many PUBACKs: one send
        return rc


def _client_class(protocol: int) -> type[paho.Client]:
    """The buffered client where it applies (see above), else paho's own."""
    internals = ("_sock_recv", "_send_puback", "_packet_queue", "loop_read", "reconnect")
    if protocol == paho.MQTTv311 and all(hasattr(paho.Client, n) for n in internals):
        return _BufferedClient
    return paho.Client


class _Matcher:
    """Maps a topic to (asset, signal) names for one subscription template."""

    def __init__(self, sub: MqttSubscriptionConfig) -> None:
        self.sub = sub
        self.filter, self.segments = compile_template(sub.topic)
        self.asset_at = self._pos("{asset}")
        self.signal_at = self._pos("{signal}")

    def _pos(self, name: str) -> int | None:
        return self.segments.index(name) if name in self.segments else None

    def match(self, parts: list[str]) -> tuple[str, str | None] | None:
        if len(parts) != len(self.segments):
            return None
        for seg, part in zip(self.segments, parts, strict=True):
            if seg not in ("+", "{asset}", "{signal}") and seg != part:
                return None
        asset = parts[self.asset_at] if self.asset_at is not None else self.sub.asset
        signal = parts[self.signal_at] if self.signal_at is not None else self.sub.signal
        return asset or "", signal


class MqttSource:
    """Subscribe to one broker; the network loop runs in its own thread and hands batches over."""

    def __init__(self, config: MqttSourceConfig, *, on_note: NoteSink = ignore_note) -> None:
        self.config = config
        self.name = config.name
        self.refs = RefTable()
        self._on_note = on_note
        self._matchers = [_Matcher(s) for s in config.subscriptions]
        self._topic_cache: dict[str, tuple[int, Any]] = {}
        self._parsers: dict[str, Callable[[bytes], tuple[Any, float, Any, int]]] = {}
        self._ref_cache: dict[tuple[int, str, str], int] = {}
        self._lock = threading.Lock()
        self._b_ref: list[int] = []
        self._b_ts: list[float] = []
        self._b_val: list[float] = []
        self._b_qual: list[int] = []
        self._notes: list[SourceNote] = []
        self._waiting = False
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._retry = Retry(config.reconnect)
        self._thread: threading.Thread | None = None
        self._client: paho.Client | None = None
        self.state = "starting"
        self.samples = 0
        self.messages = 0
        self.malformed = 0
        self.reconnects = 0
        self._malformed_noted = 0
        self._last_note = 0.0
        self._last_error = ""
        self._journal: Journal | None = None
        self._journal_lapsed = False
        self._replay: list[Record] = []
        self._replay_from = -math.inf
        self._replayed_batch: SampleBatch | None = None
        self.replayed = 0
        self.redelivered = 0
        self.tls: dict[str, Any] | None = None
        self._refused_for = ""

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        # Parse the journal's replay before the network thread exists: both would otherwise
        # compile parsers and add refs at the same time.
        self._replayed_batch = self._replay_batch() if self._replay else None
        self._client = self._make_client()
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{self.name}", daemon=True)
        self._thread.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._client is not None:
            self._client.disconnect()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
        if self._journal is not None:
            self._journal.close()
        self.state = "stopped"

    def _make_client(self) -> paho.Client:
        cfg = self.config
        client_id = cfg.client_id or f"egiz-{socket.gethostname()}-{cfg.name}"[:64]
        client = _client_class(paho.MQTTv311)(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            # MQTT 3.1.1: paho parses v5 properties on every message at half the speed
            # (measured: ~20,000 vs ~9,300 msg/s here); a persistent session works the same.
            protocol=paho.MQTTv311,
            clean_session=cfg.clean_start,
            reconnect_on_failure=False,  # we reconnect ourselves, with jitter
        )
        if cfg.username:
            pw = cfg.password.get_secret_value() if cfg.password else None
            client.username_pw_set(cfg.username, pw)
        if cfg.url.startswith("mqtts://"):
            client.tls_set(ca_certs=cfg.ca_file)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _run(self) -> None:
        """Thread body: connect, run the network loop until it drops, back off, repeat."""
        url = urlparse(self.config.url)
        port = url.port or (8883 if url.scheme == "mqtts" else 1883)
        retry = self._retry
        assert self._client is not None
        while not self._stop.is_set():
            try:
                self._client.connect(
                    url.hostname or "127.0.0.1",
                    port,
                    keepalive=self.config.keepalive_s,
                )
                self._client.loop_forever(retry_first_connection=False)
            except ssl.SSLError as err:  # a configuration problem, not a passing outage
                self._refused(
                    f"TLS handshake with {url.hostname}:{port} failed: {err.reason or err} "
                    "(fix: ca_file must hold the CA that signed the broker's certificate, "
                    "and the URL's host must be named in it)"
                )
            except (OSError, ValueError) as err:
                self._last_error = repr(err)
                log.info("mqtt %s: connect failed: %r", self.name, err)
            if self._stop.is_set():
                break
            if self.state not in ("reconnecting", "refused"):
                self._set_state("reconnecting")
            self.reconnects += 1
            self._stop.wait(retry.next_delay())

    def _set_state(self, state: str) -> None:
        old, self.state = self.state, state
        if old != state:
            self._note(
                SourceNote(
                    EventKind.source_status,
                    f"source {self.name}: {old} -> {state}",
                    {"source": self.name, "state": state, "previous": old},
                )
            )

    def _refused(self, error: str) -> None:
        """The broker refused us for a reason retrying will not fix: say so once, clearly.

        The source keeps retrying with backoff (the broker's password file or certificate may
        be fixed meanwhile); state ``refused`` and one event per distinct reason, not a
        reconnect event per attempt.
        """
        self._last_error = error
        log.warning("mqtt %s: %s", self.name, error)
        if self.state == "refused" and error == self._refused_for:
            return
        self._refused_for = error
        old, self.state = self.state, "refused"
        self._note(
            SourceNote(
                EventKind.source_status,
                f"source {self.name}: {error}",
                {"source": self.name, "state": "refused", "previous": old, "error": error},
            )
        )

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            fix = ""
            if reason.value in (4, 5, 134, 135):  # bad user name or password / not authorized
                fix = " (fix: username and password of this source, and the broker's password file"
                fix += " and ACL)"
            elif reason.value in (2, 133):  # client identifier rejected
                fix = " (fix: client_id; the broker rejects it)"
            self._refused(f"the broker at {self.config.url} refused the login: {reason}{fix}")
            return
        sock = client.socket()
        if isinstance(sock, ssl.SSLSocket):  # what was really negotiated, for the status page
            cipher = sock.cipher()
            self.tls = {"version": sock.version(), "cipher": cipher[0] if cipher else None}
        subs = [(m.filter, self.config.qos) for m in self._matchers]
        client.subscribe(subs)
        self._retry.reset()
        self._set_state("connected")

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not self._stop.is_set() and self.state != "refused":
            self._last_error = str(reason)
            self._set_state("reconnecting")

    # -- the hot path (network thread) ----------------------------------------------------

    def _resolve(self, topic: str) -> tuple[int, Any]:
        """Return (matcher index or -1, asset/signal) for a topic; cached per topic."""
        hit = self._topic_cache.get(topic)
        if hit is None:
            parts = topic.split("/")
            hit = (-1, None)
            for i, m in enumerate(self._matchers):
                got = m.match(parts)
                if got is not None:
                    hit = (i, got)
                    break
            if len(self._topic_cache) < 100_000:
                self._topic_cache[topic] = hit
        return hit

    def _refidx(self, sub: MqttSubscriptionConfig, asset: str, signal: str) -> int:
        key = (id(sub), asset, signal)
        ref = self._ref_cache.get(key)
        if ref is None:
            ref = self._ref_cache[key] = self.refs.add(Ref(asset, signal, sub.units.get(signal)))
        return ref

    def _on_message(self, _c: Any, _u: Any, msg: paho.MQTTMessage) -> None:
        # paho sends the PUBACK of a QoS 1 message when this returns: the journal append below
        # is what makes the message survive a kill of the agent from then on.
        self.messages += 1
        topic, payload = msg.topic, msg.payload
        journal = self._journal
        if journal is not None and msg.dup and journal.seen(topic.encode(), payload):
            self.redelivered += 1  # the broker resent one we have (its PUBACK never arrived)
            return
        received = time.time()
        try:
            got = self._parse(topic, payload)
        except (Malformed, ValueError, TypeError, KeyError) as err:
            self.malformed += 1
            self._last_error = f"{topic}: {err}"
            return
        ref, ts, val, q = got
        if journal is not None and not journal.append(
            encode(topic.encode(), payload, received), received if ts != ts else ts
        ):
            self._journal_lapse()
        with self._lock:
            if isinstance(ref, int):
                self._b_ref.append(ref)
                self._b_ts.append(ts)
                self._b_val.append(val)  # type: ignore[arg-type]
                self._b_qual.append(q)
            else:
                n = len(ref)
                self._b_ref += ref
                self._b_val += val  # type: ignore[arg-type]
                self._b_ts += [ts] * n
                self._b_qual += [q] * n
            wake = self._waiting
            self._waiting = False
        if wake and self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _parse(self, topic: str, payload: bytes) -> tuple[Any, float, Any, int]:
        """(ref or refs, ts, value or values, quality) of one message; raises when malformed.

        Values may be None (JSON null: a dropout); the batch turns them into NaN.
        """
        parse = self._parsers.get(topic)
        if parse is None:
            parse = self._parser_for(topic)
        return parse(payload)

    def _parser_for(self, topic: str) -> Callable[[bytes], tuple[Any, float, Any, int]]:
        """Compile the parser of one topic: its refs resolved once, a typed msgspec decoder."""
        idx, names = self._resolve(topic)
        if idx < 0:
            raise Malformed("topic matches no template")
        m = self._matchers[idx]
        fmt = m.sub.payload
        asset, signal = names
        decode = _decoder(fmt)
        has_ts, has_q = bool(fmt.ts_field), bool(fmt.quality_field)
        parse: Callable[[bytes], tuple[Any, float, Any, int]]
        if fmt.format == "raw":
            ref = self._refidx(m.sub, asset, signal)

            def parse(payload: bytes) -> tuple[Any, float, Any, int]:
                return ref, math.nan, decode(payload), GOOD

        elif fmt.format == "json":
            ref = self._refidx(m.sub, asset, signal)

            def parse(payload: bytes) -> tuple[Any, float, Any, int]:
                d = decode(payload)
                t = d.t if has_ts else None
                # the common case (epoch seconds as a float) without a call
                ts = t if t.__class__ is float and t < 1e11 else parse_ts(t)
                return ref, ts, d.v, _QUALITY[d.q] if has_q else GOOD

        else:
            sub = m.sub
            known: list[Any] = [None, None]  # the last key list seen here, and its refs

            def parse(payload: bytes) -> tuple[Any, float, Any, int]:
                d = decode(payload)
                values = d.v
                keys = list(values)
                if keys != known[0]:
                    known[1] = [self._refidx(sub, asset, k) for k in keys]
                    known[0] = keys
                t = d.t if has_ts else None
                ts = t if t.__class__ is float and t < 1e11 else parse_ts(t)
                return known[1], ts, list(values.values()), _QUALITY[d.q] if has_q else GOOD

        if len(self._parsers) < 100_000:
            self._parsers[topic] = parse
        return parse

    def _journal_lapse(self) -> None:
        """Note once that the journal stopped (full or failing): a kill would now lose samples."""
        if not self._journal_lapsed:
            self._journal_lapsed = True
            j = self._journal
            assert j is not None
            self._note(
                SourceNote(
                    EventKind.source_status,
                    f"source {self.name}: receive journal "
                    + (
                        f"write failed ({j.write_error})"
                        if j.write_error
                        else f"full ({j.max_bytes} bytes)"
                    )
                    + "; until the open windows commit, a kill of the agent loses them"
                    " (reported as a data_gap after the restart)",
                    {"source": self.name, "state": self.state, "journal": "lapsed"},
                )
            )

    # -- the receive journal (see mqtt_journal.py) ----------------------------------------------

    def open_journal(self, directory: Path, *, discard: bool, replay_from: float) -> bool:
        """Start journaling received samples; return True when the previous run lost nothing.

        Called by the agent before the source starts. ``discard``: the outbox is new, so is the
        journal. ``replay_from``: data time from which windows are not yet committed.
        Only a persistent session with QoS >= 1 can lose nothing across a kill (otherwise the
        broker drops what arrives while the agent is down), so only then is there a journal.
        """
        if self.config.qos == 0 or self.config.clean_start:
            return False
        if directory.name.startswith(":memory:"):  # an in-memory outbox: nothing is durable
            return False
        self._journal = Journal(directory, self.config.journal_max_bytes)
        records, trusted = self._journal.open(discard=discard)
        self._replay = records
        self._replay_from = replay_from
        return trusted

    def committed(self, boundary: float) -> None:
        """The agent committed every window before data time ``boundary`` to the outbox."""
        if self._journal is not None:
            self._journal.committed(boundary)
            if self._journal_lapsed and not self._journal.overflowed:
                self._journal_lapsed = False

    def _replay_batch(self) -> SampleBatch | None:
        """The journaled samples of windows not yet committed, as one batch."""
        records, self._replay = self._replay, []
        refs: list[int] = []
        tss: list[float] = []
        vals: list[float] = []
        quals: list[int] = []
        for topic, payload, received in records:
            try:
                ref, ts, val, q = self._parse(topic.decode(), payload)
            except (Malformed, ValueError, TypeError, KeyError):
                continue  # never journaled: a malformed message is dropped before the journal
            if ts != ts:
                ts = received  # what the agent stamped it with when it first arrived
            if isinstance(ref, int):
                refs.append(ref)
                vals.append(val)
                n = 1
            else:
                refs += ref
                vals += val
                n = len(ref)
            tss += [ts] * n
            quals += [q] * n
        assert self._journal is not None
        self._journal.replayed_upto(max(tss, default=-math.inf))
        batch = SampleBatch.from_lists(refs, tss, vals, quals, time.time())
        keep = batch.ts >= self._replay_from  # windows before it are in the outbox already
        if not keep.all():
            batch = SampleBatch(
                batch.ref[keep], batch.ts[keep], batch.value[keep], batch.quality[keep],
                batch.received,
            )  # fmt: skip
        self.replayed = len(batch)
        log.info("mqtt %s: replayed %d journaled samples", self.name, self.replayed)
        return batch if len(batch) else None

    def _note(self, note: SourceNote) -> None:
        with self._lock:
            self._notes.append(note)
            wake = self._waiting
            self._waiting = False
        if wake and self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    # -- the asyncio side -------------------------------------------------------------------

    async def stream(self) -> AsyncIterator[SampleBatch]:
        """Yield the journal's replay first, then what the network thread collected."""
        batch, self._replayed_batch = self._replayed_batch, None
        if batch is not None:
            self.samples += len(batch)
            yield batch
        while True:
            with self._lock:
                ref, ts, val, qual = self._b_ref, self._b_ts, self._b_val, self._b_qual
                self._b_ref, self._b_ts, self._b_val, self._b_qual = [], [], [], []
                notes, self._notes = self._notes, []
                if not ref and not notes:
                    self._waiting = True
                    self._wake.clear()
            for n in notes:
                self._on_note(n)
            self._report_malformed()
            if ref:
                self.samples += len(ref)
                yield SampleBatch.from_lists(ref, ts, val, qual, time.time())
            elif not notes:
                # The timeout bounds how late a malformed-input report can be.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), _NOTE_EVERY_S)
                # Let a few milliseconds of messages gather: one batch per message would
                # spend more on handing over than on the messages.
                await asyncio.sleep(_COALESCE_S)

    def _report_malformed(self) -> None:
        new = self.malformed - self._malformed_noted
        now = time.monotonic()
        if new > 0 and now - self._last_note >= _NOTE_EVERY_S:
            self._malformed_noted += new
            self._last_note = now
            self._on_note(
                SourceNote(
                    EventKind.malformed_input,
                    f"source {self.name}: {new} malformed message(s); last: {self._last_error}",
                    {
                        "source": self.name,
                        "count": new,
                        "total": self.malformed,
                        "last_error": self._last_error,
                    },
                )
            )

    def stats(self) -> dict[str, Any]:
        """Return state and counters for the status page."""
        return {
            "kind": "mqtt",
            "state": self.state,
            "url": self.config.url,
            "messages": self.messages,
            "samples": self.samples,
            "malformed": self.malformed,
            "reconnects": self.reconnects,
            "last_error": self._last_error,
            "tls": self.tls,
            "replayed": self.replayed,
            "redelivered": self.redelivered,
            "journal": self._journal.stats() if self._journal is not None else None,
        }
