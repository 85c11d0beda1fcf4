"""opcua_wire decodes Publish responses exactly as asyncua does, value for value.

The bytes are made by asyncua's own encoder (the same binary a server sends), then decoded both
by asyncua and by opcua_wire; every handle, value, status and source timestamp must agree.
"""

from __future__ import annotations

import math
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua.ua_binary import struct_from_binary, struct_to_binary

from egiz.edge.sources.opcua import status_quality, to_epoch
from egiz.edge.sources.opcua_wire import DataChanges, decode_publish_response, quality_of

T = datetime(2027, 1, 15, 8, 0, 0, 123456, tzinfo=UTC)
V = ua.VariantType


def _response(notes: list, sub: int = 7, seq: int = 42) -> bytes:
    resp = ua.PublishResponse()
    resp.Parameters.SubscriptionId = sub
    resp.Parameters.AvailableSequenceNumbers = [seq - 1, seq]
    resp.Parameters.NotificationMessage = ua.NotificationMessage(
        SequenceNumber=seq, PublishTime=T, NotificationData=notes
    )
    resp.Parameters.Results = [ua.StatusCode(ua.StatusCodes.Good)]
    return struct_to_binary(resp)


def _item(handle: int, variant: ua.Variant | None, status: int | None = None, **ts) -> Any:
    dv = ua.DataValue(variant, ua.StatusCode(status) if status is not None else None, **ts)
    return ua.MonitoredItemNotification(ClientHandle=handle, Value=dv)


def _as_asyncua(item: ua.MonitoredItemNotification) -> tuple[int, float, float, int]:
    dv = item.Value
    v = dv.Value.Value if dv.Value is not None else None
    value = float(v) if isinstance(v, bool | int | float) else math.nan
    return item.ClientHandle, to_epoch(dv.SourceTimestamp), value, dv.StatusCode.value


def _compare(data: bytes) -> tuple[ua.PublishResponse, ua.PublishResponse]:
    ours = decode_publish_response(Buffer(data))
    theirs = struct_from_binary(ua.PublishResponse, Buffer(data))
    a, b = ours.Parameters, theirs.Parameters
    assert (a.SubscriptionId, a.AvailableSequenceNumbers, a.MoreNotifications) == (
        b.SubscriptionId, b.AvailableSequenceNumbers, b.MoreNotifications
    )  # fmt: skip
    am, bm = a.NotificationMessage, b.NotificationMessage
    assert (am.SequenceNumber, am.PublishTime) == (bm.SequenceNumber, bm.PublishTime)
    assert len(am.NotificationData) == len(bm.NotificationData)
    for mine, ref in zip(am.NotificationData, bm.NotificationData, strict=True):
        if isinstance(ref, ua.DataChangeNotification):
            assert isinstance(mine, DataChanges)
            want = [_as_asyncua(i) for i in ref.MonitoredItems]
            got = list(zip(mine.handle.tolist(), mine.ts.tolist(), mine.value.tolist(),
                           mine.status.tolist(), strict=True))  # fmt: skip
            assert len(got) == len(want)
            for g, w in zip(got, want, strict=True):
                assert g[0] == w[0] and g[3] == w[3]
                for x, y in ((g[1], w[1]), (g[2], w[2])):
                    assert (math.isnan(x) and math.isnan(y)) or x == y, (g, w)
            qualities = [status_quality(s) for *_x, s in want]
            assert quality_of(mine.status).tolist() == qualities
        else:
            assert mine == ref
    return ours, theirs


@pytest.mark.parametrize(
    "vtype,value",
    [(V.Double, 1.25), (V.Float, 0.5), (V.Int32, -7), (V.UInt16, 65535), (V.Int64, 2**40),
     (V.Boolean, True), (V.Byte, 200), (V.UInt64, 2**63 + 5)],
)  # fmt: skip
def test_uniform_records_of_each_numeric_type(vtype, value):
    items = [
        _item(
            h,
            ua.Variant(value, vtype),
            None,
            SourceTimestamp=T + timedelta(milliseconds=h),
            ServerTimestamp=T,
        )
        for h in range(1, 300)
    ]
    _compare(_response([ua.DataChangeNotification(MonitoredItems=items)]))


def test_mixed_records_strings_arrays_bad_status_and_missing_timestamps():
    bad, unc = ua.StatusCodes.BadSensorFailure, ua.StatusCodes.UncertainLastUsableValue
    items = [
        _item(1, ua.Variant(3.5, V.Double), None, SourceTimestamp=T),
        _item(2, ua.Variant("text", V.String), bad, SourceTimestamp=T),
        _item(3, ua.Variant([1.0, 2.0], V.Double)),  # an array: not a sample value
        _item(
            4,
            ua.Variant(True, V.Boolean),
            unc,
            SourceTimestamp=T,
            ServerTimestamp=T,
            SourcePicoseconds=7,
            ServerPicoseconds=9,
        ),
        _item(5, None, bad),  # no value at all
        _item(6, ua.Variant(9, V.Int16), None, ServerTimestamp=T),  # server time only
        _item(7, ua.Variant(1.5, V.Double), None, SourceTimestamp=T),
    ]
    ours, _ = _compare(_response([ua.DataChangeNotification(MonitoredItems=items)]))
    dc = ours.Parameters.NotificationMessage.NotificationData[0]
    assert quality_of(dc.status).tolist() == [0, 2, 0, 1, 2, 0, 0]


def test_status_change_and_several_notifications_in_one_response():
    items = [_item(h, ua.Variant(float(h), V.Double), None, SourceTimestamp=T) for h in (1, 2)]
    notes = [
        ua.DataChangeNotification(MonitoredItems=items),
        ua.StatusChangeNotification(Status=ua.StatusCode(ua.StatusCodes.BadTimeout)),
        ua.DataChangeNotification(MonitoredItems=items[::-1]),
    ]
    ours, _ = _compare(_response(notes))
    kinds = [type(n).__name__ for n in ours.Parameters.NotificationMessage.NotificationData]
    assert kinds == ["DataChanges", "StatusChangeNotification", "DataChanges"]


def test_keep_alive_and_empty_notification():
    _compare(_response([]))
    _compare(_response([ua.DataChangeNotification(MonitoredItems=[])]))


def test_epoch_times_round_trip_to_the_microsecond():
    ts = np.array([to_epoch(T + timedelta(microseconds=i)) for i in range(5)])
    items = [_item(1, ua.Variant(1.0, V.Double), None, SourceTimestamp=T + timedelta(microseconds=i))
             for i in range(5)]  # fmt: skip
    ours = decode_publish_response(
        Buffer(_response([ua.DataChangeNotification(MonitoredItems=items)]))
    )
    assert ours.Parameters.NotificationMessage.NotificationData[0].ts.tolist() == ts.tolist()


def test_sub_microsecond_ticks_truncate_like_asyncua():
    """A server may stamp in 100 ns ticks; asyncua (HistoryRead) keeps microseconds."""
    item = _item(1, ua.Variant(1.0, V.Double), None, SourceTimestamp=T)
    data = bytearray(_response([ua.DataChangeNotification(MonitoredItems=[item])]))
    ticks = struct.pack("<q", ua.datetime_to_win_epoch(T))
    at = bytes(data).rindex(ticks)  # the source timestamp is the last DateTime encoded
    data[at : at + 8] = struct.pack("<q", ua.datetime_to_win_epoch(T) + 7)  # + 700 ns
    _compare(bytes(data))


@pytest.mark.parametrize(
    "vtype,value",
    [(V.Double, -1.25), (V.Float, 0.5), (V.Int32, -7), (V.UInt16, 65535), (V.Int64, -(2**40)),
     (V.Boolean, False), (V.SByte, -3), (V.UInt32, 2**32 - 1), (V.UInt64, 2**63 + 5)],
)  # fmt: skip
def test_each_numeric_type_on_the_record_by_record_path(vtype, value):
    """One record without a status code among records with one: the layouts differ."""
    items = [
        _item(1, ua.Variant(value, vtype), ua.StatusCodes.BadCommunicationError, SourceTimestamp=T),
        _item(2, ua.Variant(value, vtype), None, SourceTimestamp=T),
        _item(3, ua.Variant(value, vtype), ua.StatusCodes.UncertainInitialValue),
    ]
    _compare(_response([ua.DataChangeNotification(MonitoredItems=items)]))


def test_long_notification_split_into_runs_at_every_odd_record():
    """Runs of one layout (numpy views) broken by bad statuses, strings and a missing value."""
    items = []
    for h in range(1, 700):
        if h % 97 == 0:
            items.append(_item(h, ua.Variant("x", V.String), ua.StatusCodes.BadTypeMismatch))
        elif h % 41 == 0 or h in (17, 18):
            items.append(_item(h, ua.Variant(h / 3, V.Double), ua.StatusCodes.BadSensorFailure,
                               SourceTimestamp=T + timedelta(milliseconds=h)))  # fmt: skip
        elif h == 300:
            items.append(_item(h, None, ua.StatusCodes.BadWaitingForInitialData))
        else:
            items.append(_item(h, ua.Variant(h / 3, V.Double), None,
                               SourceTimestamp=T + timedelta(milliseconds=h)))  # fmt: skip
    _compare(_response([ua.DataChangeNotification(MonitoredItems=items)]))
