"""The MQTT receive journal on its own: torn tails, commits, the bound, reboots, redeliveries."""

from __future__ import annotations

from pathlib import Path

from egiz.edge.sources import mqtt_journal
from egiz.edge.sources.mqtt_journal import OVERFLOW, Journal, encode


def _fill(j: Journal, n: int, t0: float = 100.0) -> list[tuple[bytes, bytes, float]]:
    recs = []
    for i in range(n):
        rec = (b"a/motor-1/current", b'{"value": %d, "ts": %f}' % (i, t0 + i), 1.0e9 + i)
        assert j.append(encode(*rec), t0 + i)
        recs.append(rec)
    return recs


def test_replays_everything_a_killed_run_journaled(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j", 1 << 20)
    assert j.open(discard=False) == ([], True)
    recs = _fill(j, 50)
    # no close(): the process dies; what os.write put in the page cache is there
    again = Journal(tmp_path / "j", 1 << 20)
    assert again.open(discard=False) == (recs, True)
    # and a second kill during the replay still has them (they are journaled again)
    assert Journal(tmp_path / "j", 1 << 20).open(discard=False) == (recs, True)


def test_a_torn_last_record_is_cut_off(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j", 1 << 20)
    j.open(discard=False)
    recs = _fill(j, 10)
    (seg,) = (tmp_path / "j").glob("*.seg")
    data = seg.read_bytes()
    seg.write_bytes(data[:-7])  # a kill in the middle of a large write
    got, trusted = Journal(tmp_path / "j", 1 << 20).open(discard=False)
    assert trusted and got == recs[:-1]
    seg = next((tmp_path / "j").glob("*.seg"))
    corrupt = bytearray(seg.read_bytes())
    corrupt[30] ^= 0xFF  # a flipped bit in the first record: nothing after it is trusted
    seg.write_bytes(bytes(corrupt))
    assert Journal(tmp_path / "j", 1 << 20).open(discard=False) == ([], True)


def test_commits_drop_what_the_outbox_holds(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(mqtt_journal, "ROTATE_EVERY_S", 0.0)
    j = Journal(tmp_path / "j", 1 << 20)
    j.open(discard=False)
    _fill(j, 10, t0=100.0)  # ts 100..109
    j.committed(100.0)  # nothing covered yet: the active segment is sealed
    recs = _fill(j, 10, t0=110.0)  # ts 110..119 in a new segment
    assert j.stats()["segments"] == 2
    j.committed(110.0)  # the first segment (newest 109) goes
    assert j.stats()["segments"] == 2  # the old one deleted, the active one sealed, a new one
    assert Journal(tmp_path / "j", 1 << 20).open(discard=False)[0] == recs


def test_a_new_outbox_discards_the_journal(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j", 1 << 20)
    j.open(discard=False)
    _fill(j, 3)
    assert Journal(tmp_path / "j", 1 << 20).open(discard=True) == ([], True)


def test_full_journal_is_not_trusted_until_everything_committed(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j", 400)
    j.open(discard=False)
    _fill(j, 5, t0=100.0)
    assert not j.append(encode(b"t", b"x" * 500, 0.0), 200.0)  # over the bound
    assert j.overflowed and (tmp_path / "j" / OVERFLOW).exists()
    # a kill now: the restarted agent must not believe the journal
    assert Journal(tmp_path / "j", 400).open(discard=False) == ([], False)
    j = Journal(tmp_path / "j", 400)
    j.open(discard=False)
    _fill(j, 5, t0=300.0)
    assert not j.append(encode(b"t", b"x" * 500, 0.0), 400.0)
    j.committed(350.0)  # sample 400 not yet committed: still overflowed
    assert j.overflowed
    j.committed(401.0)  # everything seen since the overflow is committed: journaling resumes
    assert not j.overflowed and not (tmp_path / "j" / OVERFLOW).exists()
    assert j.append(encode(b"t", b"1", 0.0), 402.0)
    assert Journal(tmp_path / "j", 400).open(discard=False)[1]


def test_after_a_reboot_the_journal_is_not_trusted(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j", 1 << 20)
    j.open(discard=False)
    _fill(j, 3)
    (tmp_path / "j" / "BOOT").write_text("another-boot")  # the page cache died with the power
    assert Journal(tmp_path / "j", 1 << 20).open(discard=False) == ([], False)


def test_a_redelivered_message_is_recognised(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j", 1 << 20)
    j.open(discard=False)
    recs = _fill(j, 20)
    assert j.seen(recs[3][0], recs[3][1])
    assert not j.seen(recs[3][0], b'{"value": 3, "ts": 1.0}')
    more = _fill(j, 5, t0=500.0)  # indexed incrementally
    assert j.seen(more[-1][0], more[-1][1])
