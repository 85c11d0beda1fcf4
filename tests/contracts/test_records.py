"""Wire records: per-record validation, range compression, schema export."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from egiz.contracts import (
    RECORD_ADAPTER,
    Event,
    UplinkAnswer,
    UplinkBatch,
    WindowSummary,
    from_ranges,
    to_ranges,
)
from egiz.contracts.schemas import json_schema, schema_names

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@given(st.sets(st.integers(min_value=1, max_value=10_000), max_size=300))
def test_records_ranges_round_trip(seqs: set[int]) -> None:
    ranges = to_ranges(seqs)
    assert from_ranges(ranges) == seqs
    # ranges are sorted, disjoint and not adjacent (maximally compressed)
    for (_, hi), (lo2, _) in itertools.pairwise(ranges):
        assert lo2 > hi + 1


def test_records_adapter_dispatches_on_type() -> None:
    window = RECORD_ADAPTER.validate_python(
        {
            "type": "window",
            "seq": 3,
            "asset": "pump-1",
            "start": "2026-11-26T12:00:00Z",
            "length_s": 10,
            "signals": {"flow": {"count": 10, "mean": 1.5}},
        }
    )
    assert isinstance(window, WindowSummary) and window.signals["flow"].mean == 1.5
    event = RECORD_ADAPTER.validate_python(
        {"type": "event", "seq": 4, "kind": "data_gap", "ts": NOW, "start": NOW, "end": NOW}
    )
    assert isinstance(event, Event)


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "window", "seq": 0, "asset": "p", "start": NOW, "length_s": 1, "signals": {}},
        {"type": "teleport", "seq": 1},
        {"type": "event", "seq": 1, "kind": "alarm_raise"},
        {"type": "window", "seq": 1, "asset": "P 1", "start": NOW, "length_s": 1, "signals": {}},
    ],
)
def test_records_adapter_rejects_invalid(bad: dict) -> None:
    with pytest.raises(ValidationError):
        RECORD_ADAPTER.validate_python(bad)


def test_records_batch_keeps_records_raw_so_one_bad_record_cannot_fail_it() -> None:
    batch = UplinkBatch.model_validate(
        {
            "schema": 1,
            "edge_id": "demo-edge",
            "epoch": "e1",
            "batch_id": "b1",
            "sent_at": NOW,
            "records": [{"type": "nonsense"}, {"seq": 2}],
        }
    )
    assert batch.schema_version == 1 and len(batch.records) == 2
    assert '"schema":1' in batch.model_dump_json(by_alias=True)


def test_records_answer_round_trips_through_json() -> None:
    answer = UplinkAnswer(epoch="e1", stored=[(1, 5), (7, 7)], server_time=NOW)
    again = UplinkAnswer.model_validate_json(answer.model_dump_json())
    assert again == answer


def test_records_every_schema_exports() -> None:
    for name in schema_names():
        schema = json_schema(name)
        assert schema.get("properties") or schema.get("oneOf") or schema.get("discriminator")
