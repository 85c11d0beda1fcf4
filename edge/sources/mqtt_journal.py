"""The MQTT receive journal: samples of still-open windows survive a ``kill -9`` of the agent.

Why: MQTT cannot be asked again. paho sends the PUBACK of a QoS 1 message as soon as
``on_message`` returns, and from then on the broker forgets the message; the agent only makes
it durable when the window holding it closes and is committed to the outbox, seconds later.
A process kill in between used to lose the open windows. So ``on_message`` appends the raw
message (topic, payload, receive time) to this journal *before* it returns: one ``os.write``
per message into the page cache, which survives the death of the process. On restart the agent
replays the journal into the pipeline ahead of live messages.

Delaying the PUBACK instead (paho's ``manual_ack``) is not an option: Mosquitto allows only
``max_inflight_messages`` (20) unacknowledged messages per client, so acks held until a window
commits would throttle the whole subscription.

Layout: a directory of segment files ``<n>.seg``. A record is
``crc32 u32 | topic_len u16 | payload_len u32 | received f64 | topic | payload`` (little endian;
the CRC covers everything after itself), so a record torn by a kill in the middle of a large
write is recognised and the journal is cut there. Each segment remembers the newest data time
it holds; when the agent commits windows up to a boundary, every sealed segment whose newest
sample lies before the boundary is deleted, and the active segment is sealed and a new one
started (at most once a second), so the journal holds roughly the open windows.

Bounded by ``max_bytes``. When full, journaling stops and an ``OVERFLOW`` marker file is
created: a kill in that state loses the open windows exactly as without a journal, and the
restarted agent reports that loss as a ``data_gap`` event with exact bounds (the journal is then
discarded, not replayed). Journaling resumes by itself once every sample seen since the overflow
is committed.

Power loss: there is no fsync (one per message would cap a small box's SD card at a few hundred
messages/s). Page-cache contents die with the power, so a journal found after a reboot
(``/proc/sys/kernel/random/boot_id`` changed) is not trusted: it is discarded and the loss
reported as a ``data_gap``, as for an overflow.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import struct
import threading
import time
import zlib
from pathlib import Path

_HEAD = struct.Struct("<IHId")  # crc32, topic length, payload length, received
_BODY_AT = 4  # the CRC covers the header from here on, then topic and payload
OVERFLOW = "OVERFLOW"
BOOT = "BOOT"
#: Seal the active segment at most this often (one file per commit would be wasteful).
ROTATE_EVERY_S = 1.0

Record = tuple[bytes, bytes, float]  # topic, payload, received (epoch s)


def boot_id() -> str:
    """This boot's id (Linux); empty where the kernel does not tell."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def encode(topic: bytes, payload: bytes, received: float) -> bytes:
    """One journal record."""
    head = _HEAD.pack(0, len(topic), len(payload), received)
    crc = zlib.crc32(payload, zlib.crc32(topic, zlib.crc32(head[_BODY_AT:])))
    return struct.pack("<I", crc) + head[_BODY_AT:] + topic + payload


def decode(data: bytes) -> tuple[list[Record], int]:
    """Records of one segment, and the length of its valid prefix (a torn tail is cut there)."""
    out: list[Record] = []
    pos, size = 0, len(data)
    hs = _HEAD.size
    while pos + hs <= size:
        crc, tlen, plen, received = _HEAD.unpack_from(data, pos)
        end = pos + hs + tlen + plen
        if end > size:
            break
        body = memoryview(data)[pos + _BODY_AT : end]
        if zlib.crc32(body) != crc:
            break
        topic = bytes(data[pos + hs : pos + hs + tlen])
        out.append((topic, bytes(data[pos + hs + tlen : end]), received))
        pos = end
    return out, pos


class _Segment:
    __slots__ = ("fd", "max_ts", "n", "path", "size")

    def __init__(self, path: Path, n: int, fd: int | None, size: int, max_ts: float) -> None:
        self.path, self.n, self.fd, self.size, self.max_ts = path, n, fd, size, max_ts


class Journal:
    """Append-only, segmented, bounded. Thread-safe: the network thread appends, asyncio commits."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.dir = directory
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._sealed: list[_Segment] = []
        self._active: _Segment | None = None
        self._bytes = 0
        self._rotated = 0.0
        self.overflowed = False
        self._overflow_upto = -math.inf  # newest data time not journaled (or journaled before)
        self.overflows = 0
        self.write_error = ""
        # Redelivery check: hashes of (topic, payload) of journaled records, built lazily
        # (only a redelivered message needs it) and extended from where it stopped per segment.
        self._index: set[int] = set()
        self._indexed: dict[int, int] = {}

    # -- start ----------------------------------------------------------------------------------

    def open(self, *, discard: bool) -> tuple[list[Record], bool]:
        """Read what a previous run left; return (records to replay, trustworthy).

        ``trustworthy`` is False when samples may be missing from the journal (it overflowed, or
        the machine rebooted since it was written): then nothing is replayed and the caller
        reports the loss of the open windows the way it would without a journal.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        records: list[Record] = []
        trusted = True
        boot = self.dir / BOOT
        rebooted = boot.exists() and boot.read_text() != boot_id()
        if discard:
            pass
        elif (self.dir / OVERFLOW).exists() or rebooted:
            trusted = False
        else:
            for path in sorted(self.dir.glob("*.seg")):
                data = path.read_bytes()
                recs, valid = decode(data)
                records += recs
                if valid < len(data):  # a torn last record: it was never acknowledged
                    break
        for path in self.dir.glob("*.seg"):
            path.unlink()
        with contextlib.suppress(FileNotFoundError):
            (self.dir / OVERFLOW).unlink()
        boot.write_text(boot_id())
        # Replayed records are journaled again (one segment), so a second kill during the
        # replay loses nothing either; the replay's samples then age out like live ones.
        self._active = self._new_segment(0)
        if records:
            blob = b"".join(encode(*r) for r in records)
            os.write(self._active.fd, blob)  # type: ignore[arg-type]
            self._active.size = self._bytes = len(blob)
            self._active.max_ts = math.inf  # until the caller tells the data time they span
        return (records if trusted else []), trusted

    def replayed_upto(self, max_ts: float) -> None:
        """The newest data time among the replayed records (known once they were parsed)."""
        with self._lock:
            if self._active is not None and self._active.n == 0:
                self._active.max_ts = max_ts

    def _new_segment(self, n: int) -> _Segment:
        path = self.dir / f"{n:012d}.seg"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
        return _Segment(path, n, fd, 0, -math.inf)

    # -- the hot path (network thread) ------------------------------------------------------------

    def append(self, record: bytes, max_ts: float) -> bool:
        """Journal one encoded record whose newest sample has data time ``max_ts``.

        Returns False when it is not journaled (full or write error): a kill from now until the
        next commit covering ``max_ts`` loses samples.
        """
        with self._lock:
            seg = self._active
            if seg is None:
                return False
            if self.overflowed or self._bytes + len(record) > self.max_bytes:
                self._overflow(max_ts)
                return False
            try:
                os.write(seg.fd, record)  # type: ignore[arg-type]
            except OSError as err:  # disk full, I/O error: never stop receiving because of it
                self.write_error = repr(err)
                self._overflow(max_ts)
                return False
            seg.size += len(record)
            self._bytes += len(record)
            if max_ts > seg.max_ts:
                seg.max_ts = max_ts
            return True

    def _overflow(self, max_ts: float) -> None:
        if not self.overflowed:
            self.overflowed = True
            self.overflows += 1
            # The marker first: a kill from here on must not trust the journal.
            with contextlib.suppress(OSError):
                os.close(os.open(self.dir / OVERFLOW, os.O_WRONLY | os.O_CREAT, 0o600))
            newest = [s.max_ts for s in self._segments()]
            self._overflow_upto = max([self._overflow_upto, *newest])
        if max_ts > self._overflow_upto:
            self._overflow_upto = max_ts

    def _segments(self) -> list[_Segment]:
        return self._sealed + ([self._active] if self._active is not None else [])

    # -- commits (asyncio thread) -------------------------------------------------------------------

    def committed(self, boundary: float) -> None:
        """Every sample with data time before ``boundary`` is in the outbox (or was late)."""
        with self._lock:
            if self._active is None:
                return
            if self.overflowed:
                if self._overflow_upto >= boundary:
                    return
                # Everything seen since the overflow is committed: start afresh.
                for seg in self._sealed:
                    seg.path.unlink(missing_ok=True)
                self._sealed = []
                os.ftruncate(self._active.fd, 0)  # type: ignore[arg-type]
                self._active.size, self._active.max_ts = 0, -math.inf
                self._bytes = 0
                self._overflow_upto = -math.inf
                self.overflowed = False
                self._forget_index()
                with contextlib.suppress(FileNotFoundError):
                    (self.dir / OVERFLOW).unlink()
                return
            keep = []
            for seg in self._sealed:
                if seg.max_ts < boundary:
                    seg.path.unlink(missing_ok=True)
                    self._bytes -= seg.size
                else:
                    keep.append(seg)
            if len(keep) < len(self._sealed):
                self._forget_index()
            self._sealed = keep
            act = self._active
            if act.size == 0:
                return
            now = time.monotonic()
            if act.max_ts < boundary and not self._sealed:
                # Nothing open is journaled: empty the file rather than make a new one.
                os.ftruncate(act.fd, 0)  # type: ignore[arg-type]
                self._bytes -= act.size
                act.size, act.max_ts = 0, -math.inf
                self._forget_index()
            elif now - self._rotated >= ROTATE_EVERY_S:
                self._rotated = now
                os.close(act.fd)  # type: ignore[arg-type]
                act.fd = None
                self._sealed.append(act)
                self._active = self._new_segment(act.n + 1)

    def seen(self, topic: bytes, payload: bytes) -> bool:
        """True when this exact message is journaled (a broker redelivery of one we have)."""
        with self._lock:
            for seg in self._segments():
                done = self._indexed.get(seg.n, 0)
                if done < seg.size:
                    with seg.path.open("rb") as fh:
                        fh.seek(done)
                        recs, valid = decode(fh.read(seg.size - done))
                    self._index.update(hash((t, p)) for t, p, _r in recs)
                    self._indexed[seg.n] = done + valid
            return hash((topic, payload)) in self._index

    def _forget_index(self) -> None:
        self._index = set()
        self._indexed = {}

    def stats(self) -> dict[str, object]:
        """Size and state for the status page."""
        with self._lock:
            return {
                "bytes": self._bytes,
                "max_bytes": self.max_bytes,
                "segments": len(self._segments()),
                "overflowed": self.overflowed,
                "overflows": self.overflows,
                "write_error": self.write_error,
            }

    def close(self) -> None:
        """Close the active segment's file (the journal stays on disk for the next run)."""
        with self._lock:
            if self._active is not None and self._active.fd is not None:
                os.close(self._active.fd)
                self._active.fd = None
            self._active = None

    def remove(self) -> None:
        """Delete the journal directory (tests, a source removed from the config)."""
        self.close()
        shutil.rmtree(self.dir, ignore_errors=True)
