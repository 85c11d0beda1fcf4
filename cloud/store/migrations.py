"""Versioned schema migrations, one list for both dialects with type placeholders.

Append new migrations at the end; never edit one that has shipped. ``{real}``, ``{big}`` and
``{norowid}`` are filled per dialect (SQLite stores the wide tables WITHOUT ROWID so the
primary key is the table's only b-tree).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .sql_commands import CONTROL_MIGRATION
from .sql_notify import NOTIFY_MIGRATION
from .sql_windows import migrate_to_chunks, migrate_to_packed

#: A migration step is SQL text, or a function ``step(store, cursor)`` for data conversions.
Step = str | Callable[[Any, Any], None]

MIGRATIONS: list[tuple[int, str, list[Step]]] = [
    (
        1,
        "twin registry, idempotent ingest keys, windows, shadow, events",
        [
            """CREATE TABLE edges (
                edge_id TEXT PRIMARY KEY, site TEXT, token_hash TEXT NOT NULL UNIQUE,
                created_at {real} NOT NULL, revoked_at {real}, last_seen {real})""",
            """CREATE TABLE ingested (
                edge_id TEXT NOT NULL, epoch TEXT NOT NULL, seq {big} NOT NULL,
                kind TEXT NOT NULL, received_at {real} NOT NULL,
                PRIMARY KEY (edge_id, epoch, seq)){norowid}""",
            """CREATE TABLE sites (
                site TEXT PRIMARY KEY, name TEXT NOT NULL, enterprise TEXT NOT NULL,
                edge_id TEXT, manifest_hash TEXT, manifest_epoch TEXT, manifest_seq {big},
                updated_at {real} NOT NULL)""",
            """CREATE TABLE asset_types (
                site TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
                PRIMARY KEY (site, name))""",
            """CREATE TABLE assets (
                site TEXT NOT NULL, asset TEXT NOT NULL, type TEXT NOT NULL, name TEXT NOT NULL,
                area TEXT NOT NULL, line TEXT, attributes TEXT NOT NULL,
                active INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (site, asset))""",
            """CREATE TABLE windows (
                site TEXT NOT NULL, asset TEXT NOT NULL, signal TEXT NOT NULL,
                start {real} NOT NULL, length_s {real} NOT NULL, count {big} NOT NULL,
                bad {big} NOT NULL, uncertain {big} NOT NULL, out_of_range {big} NOT NULL,
                min {real}, max {real}, mean {real}, std {real}, last {real}, last_ts {real},
                PRIMARY KEY (site, asset, signal, start)){norowid}""",
            """CREATE TABLE shadow (
                site TEXT NOT NULL, asset TEXT NOT NULL, signal TEXT NOT NULL,
                start {real} NOT NULL, length_s {real} NOT NULL, value {real}, ts {real} NOT NULL,
                count {big} NOT NULL, bad {big} NOT NULL, uncertain {big} NOT NULL,
                out_of_range {big} NOT NULL, PRIMARY KEY (site, asset, signal))""",
            """CREATE TABLE scores (
                site TEXT NOT NULL, asset TEXT NOT NULL, start {real} NOT NULL,
                body TEXT NOT NULL, PRIMARY KEY (site, asset, start))""",
            """CREATE TABLE events (
                edge_id TEXT NOT NULL, epoch TEXT NOT NULL, seq {big} NOT NULL, site TEXT,
                kind TEXT NOT NULL, ts {real} NOT NULL, asset TEXT, signal TEXT,
                severity TEXT NOT NULL, message TEXT NOT NULL, alarm_id TEXT,
                body TEXT NOT NULL, PRIMARY KEY (edge_id, epoch, seq))""",
            "CREATE INDEX events_site_ts ON events (site, ts)",
            """CREATE TABLE heartbeats (
                edge_id TEXT NOT NULL, epoch TEXT NOT NULL, seq {big} NOT NULL,
                ts {real} NOT NULL, body TEXT NOT NULL, PRIMARY KEY (edge_id, epoch, seq))""",
            "CREATE INDEX heartbeats_edge_ts ON heartbeats (edge_id, ts)",
        ],
    ),
    (
        2,
        "users, per-site grants, expiring user tokens, login failures, alarms, asset state",
        [
            """CREATE TABLE users (
                username TEXT PRIMARY KEY, password_hash TEXT NOT NULL,
                created_at {real} NOT NULL)""",
            """CREATE TABLE grants (
                username TEXT NOT NULL, site TEXT NOT NULL, role TEXT NOT NULL,
                PRIMARY KEY (username, site))""",
            """CREATE TABLE user_tokens (
                token_hash TEXT PRIMARY KEY, username TEXT NOT NULL,
                created_at {real} NOT NULL, expires_at {real} NOT NULL)""",
            "CREATE INDEX user_tokens_user ON user_tokens (username)",
            "CREATE TABLE login_failures (username TEXT NOT NULL, ts {real} NOT NULL)",
            "CREATE INDEX login_failures_user_ts ON login_failures (username, ts)",
            """CREATE TABLE alarms (
                site TEXT NOT NULL, alarm_id TEXT NOT NULL, edge_id TEXT, asset TEXT,
                signal TEXT, severity TEXT NOT NULL, message TEXT NOT NULL,
                raised_at {real}, cleared_at {real}, cleared_by TEXT,
                acked_at {real}, acked_by TEXT, shelved_until {real}, shelved_by TEXT,
                PRIMARY KEY (site, alarm_id))""",
            """CREATE TABLE asset_state (
                site TEXT NOT NULL, asset TEXT NOT NULL, start {real} NOT NULL,
                model TEXT NOT NULL, version TEXT NOT NULL, health {real}, anomaly {real},
                rul {real}, rul_low {real}, rul_high {real}, rul_unit TEXT,
                PRIMARY KEY (site, asset))""",
        ],
    ),
    (3, *CONTROL_MIGRATION),
    (
        4,
        "rollup tiers of window summaries and the buckets waiting to be rolled up",
        [
            """CREATE TABLE rollups (
                tier {big} NOT NULL, site TEXT NOT NULL, asset TEXT NOT NULL,
                signal TEXT NOT NULL, start {real} NOT NULL, length_s {real} NOT NULL,
                count {big} NOT NULL, bad {big} NOT NULL, uncertain {big} NOT NULL,
                out_of_range {big} NOT NULL, min {real}, max {real}, mean {real}, std {real},
                last {real}, last_ts {real},
                PRIMARY KEY (tier, site, asset, signal, start)){norowid}""",
            """CREATE TABLE rollup_dirty (
                site TEXT NOT NULL, asset TEXT NOT NULL, bucket {real} NOT NULL,
                PRIMARY KEY (site, asset, bucket))""",
        ],
    ),
    (
        5,
        "one row per window record (signal statistics packed), seq ranges, pending rollup ranges",
        [
            # A rowid table plus a unique index: records of 20 signals are ~1.8 kB, too wide
            # for SQLite's WITHOUT ROWID b-tree; appends to the rowid b-tree are cheap.
            """CREATE TABLE window_records (
                site TEXT NOT NULL, asset TEXT NOT NULL, start {real} NOT NULL,
                length_s {real} NOT NULL, n {big} NOT NULL, signals TEXT NOT NULL,
                stats {blob} NOT NULL)""",
            "CREATE UNIQUE INDEX window_records_key ON window_records (site, asset, start)",
            """CREATE TABLE rollup_records (
                tier {big} NOT NULL, site TEXT NOT NULL, asset TEXT NOT NULL,
                start {real} NOT NULL, length_s {real} NOT NULL, n {big} NOT NULL,
                signals TEXT NOT NULL, stats {blob} NOT NULL)""",
            "CREATE UNIQUE INDEX rollup_records_key ON rollup_records (tier, site, asset, start)",
            # Runs of consecutive seqs of one record type: a 1,000-record batch is one row.
            """CREATE TABLE ingested_ranges (
                edge_id TEXT NOT NULL, epoch TEXT NOT NULL, lo {big} NOT NULL, hi {big} NOT NULL,
                kind TEXT NOT NULL, received_at {real} NOT NULL,
                PRIMARY KEY (edge_id, epoch, lo, hi))""",
            "CREATE INDEX ingested_ranges_hi ON ingested_ranges (edge_id, epoch, hi)",
            """CREATE TABLE rollup_pending (
                site TEXT NOT NULL, asset TEXT NOT NULL, lo {real} NOT NULL, hi {real} NOT NULL,
                marked_at {real} NOT NULL)""",
            "CREATE INDEX rollup_pending_asset ON rollup_pending (site, asset, lo)",
            migrate_to_packed,
            "DROP TABLE windows",
            "DROP TABLE rollups",
            "DROP TABLE ingested",
            "DROP TABLE rollup_dirty",
        ],
    ),
    (6, *NOTIFY_MIGRATION),
    (
        7,
        "raw windows in chunks: one row per asset, signal set and ingest batch",
        [
            # id orders chunks by when they were stored: of two records with one start the
            # first stored wins. (site, asset, hi) finds an asset's chunks overlapping a time
            # range; lo alone drives retention across all assets.
            """CREATE TABLE window_chunks (
                id {pk}, site TEXT NOT NULL, asset TEXT NOT NULL, lo {real} NOT NULL,
                hi {real} NOT NULL, k {big} NOT NULL, n {big} NOT NULL, signals TEXT NOT NULL,
                body {blob} NOT NULL)""",
            "CREATE INDEX window_chunks_asset ON window_chunks (site, asset, hi, lo)",
            "CREATE INDEX window_chunks_lo ON window_chunks (lo)",
            migrate_to_chunks,
            "DROP TABLE window_records",
        ],
    ),
    (
        8,
        "pending rollup ranges indexed by when they were marked",
        [
            # Ingest marks one range per asset and batch. Keyed by asset, those inserts landed
            # on ~100 b-tree pages per 1,000-record batch, each a WAL frame at commit (40 % of
            # the frames); by mark time they append. The rollup job takes the oldest first.
            "DROP INDEX rollup_pending_asset",
            "CREATE INDEX rollup_pending_marked ON rollup_pending (marked_at)",
        ],
    ),
]

LATEST = MIGRATIONS[-1][0]

SQLITE_TYPES = {"real": "REAL", "big": "INTEGER", "norowid": " WITHOUT ROWID", "blob": "BLOB",
                "pk": "INTEGER PRIMARY KEY"}  # fmt: skip
POSTGRES_TYPES = {"real": "DOUBLE PRECISION", "big": "BIGINT", "norowid": "", "blob": "BYTEA",
                  "pk": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"}  # fmt: skip


def statements(version: int, types: dict[str, str]) -> list[Step]:
    """Return the steps of migration ``version`` for one dialect (SQL filled in, functions as is)."""
    for v, _name, steps in MIGRATIONS:
        if v == version:
            return [s.format(**types) if isinstance(s, str) else s for s in steps]
    raise KeyError(version)
