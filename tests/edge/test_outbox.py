"""Outbox contract: one suite over the file and in-memory queues (STYLE: transactional buffers)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from egiz.contracts import RECORD_ADAPTER
from egiz.edge.outbox import LANE_EVENT, LANE_MANIFEST, LANE_SUMMARY, Item, Outbox
from egiz.edge.window import iso


@pytest.fixture(params=["file", "memory"])
def make(request, tmp_path):
    def build(**kw):
        path = ":memory:" if request.param == "memory" else tmp_path / "ob.db"
        return Outbox(
            path,
            kw.get("max_bytes", 10**8),
            kw.get("max_age_s", 10**8),
            clock=kw.get("clock", lambda: 1000.0),
        )

    return build


def win(asset: str, start: float, length: float = 10.0) -> Item:
    body = {
        "type": "window",
        "asset": asset,
        "start": iso(start),
        "length_s": length,
        "signals": {"flow": {"count": 1, "mean": 1.0}},
    }
    return Item(LANE_SUMMARY, body, asset=asset, data_ts=start, span=length)


def ev(msg: str, ts: float = 1000.0) -> Item:
    body = {"type": "event", "kind": "state_change", "ts": iso(ts), "message": msg}
    return Item(LANE_EVENT, body, data_ts=ts)


def test_outbox_seqs_increase_and_records_carry_them(make):
    ob = make()
    seqs = ob.add([win("p1", 0.0), win("p1", 10.0), ev("x")])
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    batch = ob.begin(10)
    for seq, body in zip(batch.seqs, batch.bodies, strict=True):
        rec = RECORD_ADAPTER.validate_json(body)
        assert rec.seq == seq


def test_outbox_end_deletes_exactly_the_stored(make):
    ob = make()
    ob.add([win("p1", i * 10.0) for i in range(5)])
    batch = ob.begin(5)
    stored = set(batch.seqs[:2]) | {999}
    ob.end(batch, stored)
    assert ob.depth() == 3
    again = ob.begin(10)
    assert set(again.seqs) == set(batch.seqs) - stored
    assert int(ob.meta("last_acked_seq")) == max(batch.seqs[:2])


def test_outbox_lanes_events_first_then_newest_and_oldest_summaries(make):
    ob = make()
    ob.add([win("p1", i * 10.0) for i in range(10)])
    ob.add([ev("late event")])
    ob.add([Item(LANE_MANIFEST, {"type": "manifest"})])
    batch = ob.begin(5)
    kinds = [json.loads(b)["type"] for b in batch.bodies]
    assert kinds[:2] == ["manifest", "event"]
    starts = [json.loads(b)["start"] for b in batch.bodies[2:]]
    # live first: the newest summaries, then the oldest of the backlog
    assert starts[0] == iso(90.0) and iso(0.0) in starts


def test_outbox_inflight_not_picked_twice(make):
    ob = make()
    ob.add([win("p1", i * 10.0) for i in range(4)])
    a = ob.begin(2)
    b = ob.begin(10)
    assert not set(a.seqs) & set(b.seqs)
    ob.end(a, set())
    assert len(ob.begin(10)) == 2


def test_outbox_rejected_go_to_quarantine_with_an_event(make):
    ob = make()
    (seq,) = ob.add([win("p1", 0.0)])
    batch = ob.begin(10)
    ob.end(batch, set(), {seq: "unknown asset p1"})
    assert [r[0] for r in ob.quarantine_rows()] == [seq]
    (rec,) = ob.bodies()
    assert rec["kind"] == "quarantined" and rec["data"]["seq"] == seq


def test_outbox_eviction_summaries_first_with_exact_gap_events(make):
    ob = make(max_bytes=64 * 1024)
    ob.add([ev(f"event {i}") for i in range(5)])
    starts = [i * 10.0 for i in range(400)]
    for s in starts:
        ob.add([win("p1", s)])
    assert ob.bytes <= ob.max_bytes
    left = ob.bodies()
    assert sum(r["type"] == "event" and r["kind"] == "state_change" for r in left) == 5
    kept = {r["start"] for r in left if r["type"] == "window"}
    gaps = [r for r in left if r["type"] == "event" and r["kind"] == "data_gap"]
    assert ob.evicted > 0 and gaps
    evicted = set()
    for g in gaps:
        RECORD_ADAPTER.validate_python(g)
        t = g["start"]
        while t < g["end"]:
            evicted.add(t)
            from datetime import datetime

            t = iso(datetime.fromisoformat(t).timestamp() + 10.0)
    # exactly what the gap events report is missing, nothing more, nothing reported twice
    assert evicted | kept == {iso(s) for s in starts}
    assert not evicted & kept
    assert sum(g["data"]["windows"] for g in gaps) == ob.evicted == len(evicted)


def test_outbox_age_bound_evicts_and_reports(make):
    now = [1000.0]
    ob = make(max_age_s=60.0, clock=lambda: now[0])
    ob.add([win("p1", 0.0), win("p1", 10.0)])
    now[0] = 1100.0
    assert ob.enforce() == 2
    (gap,) = ob.bodies()
    assert (gap["kind"], gap["start"], gap["end"]) == ("data_gap", iso(0.0), iso(20.0))


def test_outbox_epoch_survives_reopen_and_changes_when_fresh(tmp_path):
    a = Outbox(tmp_path / "ob.db", 10**8, 10**8)
    a.add([win("p1", 0.0)])
    epoch, last = a.epoch, a.bodies()[-1]["seq"]
    a.close()
    b = Outbox(tmp_path / "ob.db", 10**8, 10**8)
    assert b.epoch == epoch and not b.fresh and b.depth() == 1
    (seq,) = b.add([win("p1", 10.0)])
    assert seq > last
    c = Outbox(tmp_path / "other.db", 10**8, 10**8)
    assert c.fresh and c.epoch != epoch


def test_outbox_heartbeat_replaces_unsent(make):
    ob = make()
    from egiz.edge.outbox import LANE_HEARTBEAT

    for i in range(3):
        ob.replace_heartbeat(Item(LANE_HEARTBEAT, {"type": "heartbeat", "n": i}))
    assert [r["n"] for r in ob.bodies()] == [2]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 6), st.sets(st.integers(0, 9))), min_size=1, max_size=12))
def test_outbox_property_every_record_acked_exactly_once(steps):
    ob = Outbox(":memory:", 10**8, 10**8)
    added, acked = set(), []
    for n_add, pick in steps:
        added.update(ob.add([win("p1", float(len(added) + i) * 10) for i in range(n_add)]))
        batch = ob.begin(7)
        stored = {s for i, s in enumerate(batch.seqs) if i in pick}
        ob.end(batch, stored)
        acked.extend(stored)
    while ob.depth():
        batch = ob.begin(100)
        ob.end(batch, set(batch.seqs))
        acked.extend(batch.seqs)
    assert sorted(acked) == sorted(added)


KILLER = r"""
import sys, os
from egiz.edge.outbox import Outbox, Item, LANE_SUMMARY
ob = Outbox(sys.argv[1], 10**9, 10**9)
i = 0
while True:
    ob.add([Item(LANE_SUMMARY, {"type": "window", "n": i * 50 + j, "pad": "x" * 300})
            for j in range(50)], meta={"n": str(i)})
    i += 1
    if i == 3:
        print("go", flush=True)
"""


def test_outbox_kill9_mid_commit_leaves_no_torn_batch(tmp_path):
    path = tmp_path / "ob.db"
    for _round in range(5):
        p = subprocess.Popen([sys.executable, "-c", KILLER, str(path)], stdout=subprocess.PIPE)
        assert p.stdout.readline().strip() == b"go"
        p.kill()
        p.wait()
        ob = Outbox(path, 10**9, 10**9)
        n = len(ob.bodies())
        assert n % 50 == 0  # whole transactions only
        ob.close()
