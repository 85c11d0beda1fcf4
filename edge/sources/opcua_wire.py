"""Publish responses decoded straight into sample arrays (the OPC UA source's hot path).

asyncua decodes a PublishResponse into one MonitoredItemNotification, DataValue, Variant,
StatusCode and two datetimes per value (~10–20 µs each here), which alone caps one client
near 40,000 values/s. A data-change notification is a flat list of fixed-layout records when
the values are numeric scalars (OPC UA Part 6 §5.2.2.17 DataValue, §5.2.2.16 Variant), so it is
read here with one numpy view per notification, falling back to a per-record loop when the
records differ and to asyncua's own decoder for anything but data changes (status changes,
events). The result is an ordinary ``ua.PublishResponse`` whose data changes are
:class:`DataChanges` (arrays) instead of ``ua.DataChangeNotification`` objects.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass

import numpy as np
from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua.ua_binary import (
    extensionobject_from_binary,
    nodeid_from_binary,
    struct_from_binary,
    variant_from_binary,
)

_DATA_CHANGE = ua.FourByteNodeId(ua.ObjectIds.DataChangeNotification_Encoding_DefaultBinary)
_PUBLISH_RESPONSE = ua.FourByteNodeId(ua.ObjectIds.PublishResponse_Encoding_DefaultBinary)
_EPOCH_US = 11_644_473_600_000_000  # 1601-01-01 -> 1970-01-01 in microseconds
_BAD = 2

#: Numeric scalar variant types: wire size and numpy type (Part 6 §5.1.2).
_SCALARS: dict[int, tuple[int, str]] = {
    1: (1, "?"),  # Boolean
    2: (1, "i1"),  # SByte
    3: (1, "u1"),  # Byte
    4: (2, "<i2"),  # Int16
    5: (2, "<u2"),  # UInt16
    6: (4, "<i4"),  # Int32
    7: (4, "<u4"),  # UInt32
    8: (8, "<i8"),  # Int64
    9: (8, "<u8"),  # UInt64
    10: (4, "<f4"),  # Float
    11: (8, "<f8"),  # Double
}
# DataValue encoding mask bits
_HAS_VALUE, _HAS_STATUS, _HAS_SOURCE_TS, _HAS_SERVER_TS = 0x01, 0x02, 0x04, 0x08
_HAS_SOURCE_PICO, _HAS_SERVER_PICO = 0x10, 0x20

#: The same scalars for the record-by-record path, as struct formats.
_SCALAR_STRUCTS = {
    vtype: struct.Struct(code)
    for vtype, code in zip(range(1, 12), ("<?", "<b", "<B", "<h", "<H", "<i", "<I", "<q", "<Q",
                                          "<f", "<d"), strict=True)
}  # fmt: skip
_u32 = struct.Struct("<I")
_i32 = struct.Struct("<i")
_i64 = struct.Struct("<q")
_u8 = struct.Struct("<B")


@dataclass(slots=True)
class DataChanges:
    """One data-change notification as arrays: client handles, source times, values, status."""

    handle: np.ndarray  # uint32 ClientHandle
    ts: np.ndarray  # float64 epoch seconds of the source timestamp, NaN when absent
    value: np.ndarray  # float64; NaN when the value is not a numeric scalar
    status: np.ndarray  # uint32 status code (0 = Good when the server left it out)

    def __len__(self) -> int:
        return int(self.handle.shape[0])


def quality_of(status: np.ndarray) -> np.ndarray:
    """GOOD/UNCERTAIN/BAD from status codes: their two top bits (Part 4 §7.39), vectorized."""
    top = (status >> 30).astype(np.uint8)
    return np.where(top < 2, top, np.uint8(_BAD))


def ticks_to_epoch(ticks: np.ndarray) -> np.ndarray:
    """OPC UA DateTime (100 ns since 1601) to epoch seconds; 0 (no time) becomes NaN.

    Truncated to the microsecond first, as asyncua's datetime does: the same sample read
    through HistoryRead (asyncua-decoded) must carry the very same float timestamp, or the
    windows would not recognise it as one sample.
    """
    out = (ticks // 10 - _EPOCH_US) / 1e6
    out[ticks <= 0] = np.nan
    return out


def _layout(mask: int, vtype: int) -> tuple[list[tuple[str, str, int]], int] | None:
    """Field (name, numpy type, offset) list and record size of a fixed-layout record."""
    fields = [("handle", "<u4", 0), ("mask", "u1", 4)]
    off = 5
    if mask & _HAS_VALUE:
        if vtype not in _SCALARS:
            return None
        size, dt = _SCALARS[vtype]
        fields += [("vtype", "u1", off), ("value", dt, off + 1)]
        off += 1 + size
    if mask & _HAS_STATUS:
        fields.append(("status", "<u4", off))
        off += 4
    if mask & _HAS_SOURCE_TS:
        fields.append(("source_ts", "<i8", off))
        off += 8
    if mask & _HAS_SERVER_TS:
        off += 8
    if mask & _HAS_SOURCE_PICO:
        off += 2
    if mask & _HAS_SERVER_PICO:
        off += 2
    return fields, off


@functools.lru_cache(maxsize=256)
def _record_dtype(mask: int, vtype: int) -> tuple[np.dtype, int]:
    """The numpy record type of one fixed-layout record (see _layout), and its size."""
    spec = _layout(mask, vtype)
    assert spec is not None
    fields, size = spec
    dtype = np.dtype(
        {"names": [f[0] for f in fields], "formats": [f[1] for f in fields],
         "offsets": [f[2] for f in fields], "itemsize": size}
    )  # fmt: skip
    return dtype, size


def _run(data: bytes, pos: int, limit: int) -> tuple[DataChanges, int] | None:
    """Decode, with one numpy view, the records from ``pos`` that share the first one's layout.

    Returns the run (at most ``limit`` records) and the bytes it spans, or None when the first
    record is not a fixed-layout numeric scalar. Every position checked is a real record start,
    because every record before it had the same size.
    """
    mask = data[pos + 4]
    vtype = data[pos + 5] if mask & _HAS_VALUE else 0
    if mask & _HAS_VALUE and vtype not in _SCALARS:
        return None
    dtype, size = _record_dtype(mask, vtype)
    count = min(limit, (len(data) - pos) // size)
    rec = np.frombuffer(data, dtype=dtype, count=count, offset=pos)
    same = rec["mask"] == mask
    if mask & _HAS_VALUE:
        same &= rec["vtype"] == vtype
    n = count if same.all() else int(np.argmin(same))
    rec = rec[:n]
    value = rec["value"].astype(np.float64) if mask & _HAS_VALUE else np.full(n, np.nan)
    status = rec["status"].astype(np.uint32) if mask & _HAS_STATUS else np.zeros(n, np.uint32)
    ts = (
        ticks_to_epoch(rec["source_ts"].astype(np.int64))
        if mask & _HAS_SOURCE_TS
        else np.full(n, np.nan)
    )
    return DataChanges(rec["handle"].astype(np.uint32), ts, value, status), n * size


def _record_by_record(data: bytes, pos: int, n: int) -> tuple[DataChanges, int]:
    """Decode n records one by one (strings, arrays, short runs); return them and the end."""
    handles, tss, vals, stats = [], [], [], []
    for _ in range(n):
        handles.append(_u32.unpack_from(data, pos)[0])
        mask = data[pos + 4]
        pos += 5
        value = float("nan")
        if mask & _HAS_VALUE:
            vtype = data[pos]
            scalar = _SCALAR_STRUCTS.get(vtype)
            if scalar is not None:
                value = float(scalar.unpack_from(data, pos + 1)[0])
                pos += 1 + scalar.size
            else:  # a string, an array, a structure: asyncua reads it, the value stays NaN
                buf = Buffer(data, pos)
                var = variant_from_binary(buf)
                if isinstance(var.Value, bool | int | float) and not var.is_array:
                    value = float(var.Value)
                pos = buf.cur_pos
        status = 0
        if mask & _HAS_STATUS:
            status = _u32.unpack_from(data, pos)[0]
            pos += 4
        ts = float("nan")
        if mask & _HAS_SOURCE_TS:
            ticks = _i64.unpack_from(data, pos)[0]
            ts = (ticks // 10 - _EPOCH_US) / 1e6 if ticks > 0 else float("nan")
            pos += 8
        pos += 8 * bool(mask & _HAS_SERVER_TS) + 2 * bool(mask & _HAS_SOURCE_PICO)
        pos += 2 * bool(mask & _HAS_SERVER_PICO)
        tss.append(ts)
        vals.append(value)
        stats.append(status)
    changes = DataChanges(
        np.asarray(handles, np.uint32),
        np.asarray(tss, np.float64),
        np.asarray(vals, np.float64),
        np.asarray(stats, np.uint32),
    )
    return changes, pos


#: Records looked at before viewing the rest of the notification at once.
_MIN_RUN = 16


def data_changes(body: bytes) -> DataChanges:
    """Decode the body of a DataChangeNotification extension object.

    Usually every record has one layout and this is a single numpy view; a record that differs
    (a bad status among good values, a string) splits it into runs.
    """
    left = max(_i32.unpack_from(body, 0)[0], 0)
    pos = 4
    parts: list[DataChanges] = []
    while left:
        # A short look first, so that alternating layouts do not view the whole rest each time.
        got = _run(body, pos, min(left, _MIN_RUN))
        if got is not None and len(got[0]) == _MIN_RUN < left:
            got = _run(body, pos, left)
        if got is not None:
            part, span = got
            pos += span
        else:  # a string, an array, a structure
            part, pos = _record_by_record(body, pos, 1)
        parts.append(part)
        left -= len(part)
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return DataChanges(*(np.zeros(0, t) for t in ("u4", "f8", "f8", "u4")))
    return DataChanges(*(np.concatenate(a) for a in zip(*(
        (p.handle, p.ts, p.value, p.status) for p in parts), strict=True)))  # fmt: skip


def decode_publish_response(buf: Buffer) -> ua.PublishResponse:
    """Decode a PublishResponse; data changes come back as :class:`DataChanges`."""
    data = bytes(buf)
    head = Buffer(data)
    typeid = nodeid_from_binary(head)
    if typeid != _PUBLISH_RESPONSE:  # not what we asked for: let asyncua say what it is
        return struct_from_binary(ua.PublishResponse, Buffer(data))
    resp = ua.PublishResponse()
    resp.ResponseHeader = struct_from_binary(ua.ResponseHeader, head)
    res = resp.Parameters
    res.SubscriptionId = _u32.unpack(head.read(4))[0]
    count = _i32.unpack(head.read(4))[0]
    res.AvailableSequenceNumbers = [_u32.unpack(head.read(4))[0] for _ in range(max(count, 0))]
    res.MoreNotifications = bool(_u8.unpack(head.read(1))[0])
    msg = res.NotificationMessage
    msg.SequenceNumber = _u32.unpack(head.read(4))[0]
    ticks = _i64.unpack(head.read(8))[0]
    msg.PublishTime = ua.win_epoch_to_datetime(ticks) if ticks > 0 else None
    count = _i32.unpack(head.read(4))[0]
    notes: list = []
    for _ in range(max(count, 0)):
        start = head.cur_pos
        typeid = nodeid_from_binary(head)
        encoding = head.read(1)[0]
        if typeid == _DATA_CHANGE and encoding & 1:
            length = _i32.unpack(head.read(4))[0]
            notes.append(data_changes(head.read(length)))
        else:
            head.rewind(start)
            notes.append(extensionobject_from_binary(head))
    msg.NotificationData = notes
    # Results (acknowledgement statuses) and DiagnosticInfos are not used by the source.
    return resp
