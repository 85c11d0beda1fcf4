"""The edge agent: sources → normalize → window → models → outbox → uplink, plus its status page."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from egiz import __version__
from egiz.contracts import SiteConfig, build_manifest, manifest_hash

from .alarms import AlarmEngine
from .control import Controller
from .normalize import Catalog, RefMap, normalize
from .outbox import LANE_EVENT, LANE_MANIFEST, LANE_SUMMARY, Item, Outbox
from .samples import SampleBatch
from .scoring import STATE_PREFIX, EdgeModels, ModelRunner, PassThrough, row_asset, state_from_rows
from .sources import Source, SourceNote, make_source
from .status import StatusServer
from .uplink import Uplink, read_token
from .window import Windower, WindowResult, iso

log = logging.getLogger(__name__)

#: Windower progress before any window was ever closed.
NO_WINDOW = -(2**62)
#: At most one ``late_data`` event per source this often (wall seconds); counts accumulate.
LATE_NOTE_EVERY_S = 60.0


@dataclass
class _LateTally:
    """One source's samples that came after their window closed."""

    unreported: int = 0
    total: int = 0
    reported_at: float = -math.inf  # monotonic time of the last report


class EdgeAgent:
    """One site's agent. ``run(stop)`` until the event is set; ``stats()`` any time."""

    def __init__(
        self,
        config: SiteConfig,
        *,
        base_dir: str | Path | None = None,
        runner: ModelRunner | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self.base_dir = Path(base_dir or ".")
        # Pinned artifacts load (and are refused, with a ConfigError) before anything starts.
        if runner is None:
            runner = EdgeModels.ledgered(config, self.base_dir) if config.models else PassThrough()
        self.runner = runner
        self._http = http_client
        self.catalog = Catalog.from_site(config)
        self.alarm_engine = AlarmEngine(config, self.catalog)
        self.sources: list[Source] = []
        self.outbox: Outbox | None = None
        self.windower: Windower | None = None
        self.uplink: Uplink | None = None
        self.control: Controller | None = None
        self.status_port: int | None = None
        self.started = time.time()
        self.ready = asyncio.Event()
        self._pending: list[Item] = []
        self._crash_gap: dict[str, float] = {}  # source -> first instant possibly lost
        self._rates: dict[str, deque[tuple[float, int]]] = {}
        self._counts: dict[str, int] = {}
        self.unmapped = 0
        self.ts_fallback = 0
        self.task_failures = 0
        self._late: dict[str, _LateTally] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    def _path(self, p: str) -> Path:
        path = Path(p)
        return path if path.is_absolute() else self.base_dir / path

    async def run(self, stop: asyncio.Event) -> None:
        """Run every stage until ``stop`` is set; leave the outbox consistent on the way out."""
        cfg = self.config
        ob = cfg.outbox
        self.outbox = Outbox(self._path(ob.path), ob.max_bytes, ob.max_age_s)
        closed = int(self.outbox.meta("closed_k", str(NO_WINDOW)) or NO_WINDOW)
        self.windower = Windower(self.catalog, cfg.window.length_s, cfg.window.lateness_s, closed)
        # "running" stays 1 from start to a clean stop: finding it set means we were killed.
        crashed = self.outbox.meta("running") == "1" and closed != NO_WINDOW
        self.outbox.set_meta({"running": "1"})
        self.alarm_engine.load(json.loads(self.outbox.meta("alarms", "[]") or "[]"))
        if isinstance(self.runner, EdgeModels):  # per-asset model state resumes across restarts
            self._restore_models(self.runner)
        self._startup_records()
        status = StatusServer(self.stats, cfg.status.host, cfg.status.port)
        self.status_port = await status.start()
        tasks = []
        for scfg in cfg.sources:
            if scfg.kind == "mqtt" and scfg.client_id is None:
                # Stable across restarts of this outbox (the broker keeps our QoS 1 queue), new
                # with a new epoch, and never shared by two agents on one broker.
                cid = f"egiz-{cfg.uplink.edge_id}-{scfg.name}-{self.outbox.epoch[:8]}"
                scfg = scfg.model_copy(update={"client_id": cid[:64]})
            src = make_source(scfg, on_note=self._note)
            covered = False
            if hasattr(src, "open_journal"):
                # MQTT journals what it received before the broker forgets it and replays it
                # here, so a kill loses nothing (edge/sources/mqtt_journal.py).
                covered = src.open_journal(
                    self._path(f"{ob.path}.{scfg.name}.journal"),
                    discard=self.outbox.fresh,
                    replay_from=closed * cfg.window.length_s if closed != NO_WINDOW else -math.inf,
                )
            if crashed and not covered and not (scfg.kind == "opcua" and scfg.backfill):
                # Samples of the windows still open at the kill are gone for sources that
                # cannot be asked again: report [first unemitted window, first new sample).
                self._crash_gap[scfg.name] = closed * cfg.window.length_s
            if closed != NO_WINDOW and hasattr(src, "backfill_from"):
                # The agent was down: ask the server for what it served since the last window.
                src.backfill_from = closed * cfg.window.length_s
            self.sources.append(src)
            self._counts.setdefault(scfg.kind, 0)
            self._rates.setdefault(scfg.kind, deque(maxlen=12))
            tasks.append(self._guard(f"source {scfg.name}", _bind(self._pump, src, scfg.kind)))
        tasks.append(self._guard("housekeeping", _bind(self._housekeeping, stop)))
        if cfg.control.enabled:  # issue 7: commands, read-back, local trips, signed ledger head
            self.control = Controller(cfg, base_dir=self.base_dir, emit=self._control_emit,
                                      clock_offset=lambda: self.uplink.clock_offset_s
                                      if self.uplink else None,
                                      reset_model=self._reset_model
                                      if hasattr(self.runner, "reset") else None)  # fmt: skip
            tasks.append(self._guard("control", _bind(self.control.run, stop)))
        if cfg.uplink.url:
            self.uplink = Uplink(
                cfg.uplink,
                self.outbox,
                token=read_token(cfg.uplink, self.base_dir),
                heartbeat=self._heartbeat,
                client=self._http,
                extras=self.control.uplink_extras if self.control else None,
                on_answer=self.control.on_answer if self.control else None,
            )
        running = [asyncio.create_task(t) for t in tasks]
        # The uplink stops after the final flush, so a clean stop ships the last windows too.
        uplink_stop = asyncio.Event()
        uplink_task = None
        if self.uplink is not None:
            uplink_task = asyncio.create_task(
                self._guard("uplink", _bind(self.uplink.run, uplink_stop))
            )
        self.ready.set()
        log.info(
            "edge %s running; status on %s:%s",
            cfg.uplink.edge_id,
            cfg.status.host,
            self.status_port,
        )
        try:
            await stop.wait()
        finally:
            for t in running:
                t.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            self._final_flush()
            self.outbox.set_meta({"running": "0"})
            uplink_stop.set()
            if uplink_task is not None:
                await asyncio.gather(uplink_task, return_exceptions=True)
            await status.stop()
            self.outbox.close()

    async def _guard(self, what: str, factory: Any) -> None:
        """Run a background stage; log its failure and restart it rather than dying silently."""
        while True:
            try:
                await factory()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self.task_failures += 1
                log.exception("edge: %s failed; restarting it in 1 s", what)
                await asyncio.sleep(1.0)

    def _startup_records(self) -> None:
        """Queue the manifest when the site changed since it was last queued, and a new epoch."""
        assert self.outbox is not None
        items: list[Item] = []
        if self.outbox.fresh:
            items.append(
                self._event_item(
                    "state_change",
                    f"outbox created afresh: epoch {self.outbox.epoch}",
                    data={"epoch": self.outbox.epoch},
                )
            )
        h = manifest_hash(self.config)
        meta = {}
        if self.outbox.meta("manifest_hash") != h:
            body = build_manifest(self.config, seq=1).model_dump(mode="json", by_alias=True)
            body.pop("seq")
            items.append(Item(LANE_MANIFEST, body, data_ts=time.time()))
            meta["manifest_hash"] = h
        if items:
            self.outbox.add(items, meta=meta)

    # -- the data path ------------------------------------------------------------------------

    async def _pump(self, src: Source, kind: str) -> None:
        refmap = RefMap(src.refs, self.catalog)
        async with src:
            async for batch in src.stream():
                self._ingest(src, kind, refmap, batch)

    def _ingest(self, src: Source, kind: str, refmap: RefMap, batch: SampleBatch) -> None:
        assert self.windower is not None
        for problem in refmap.sync():
            self._note(
                SourceNote(
                    _kind("malformed_input"), f"source {src.name}: {problem}", {"source": src.name}
                )
            )
        norm = normalize(batch, refmap)
        if src.name in self._crash_gap and norm.ts.shape[0]:
            self._report_crash_gap(src, float(norm.ts.min()))
        self._counts[kind] += len(norm.series)
        self.unmapped += norm.unmapped
        self.ts_fallback += norm.ts_fallback
        if norm.ts_fallback and self.ts_fallback == norm.ts_fallback:
            self._note(
                SourceNote(
                    _kind("source_status"),
                    f"source {src.name}: samples without a source timestamp are "
                    "stamped with the time they were received",
                    {"source": src.name},
                )
            )
        for body in self.alarm_engine.update(norm):
            ts = datetime.fromisoformat(body["ts"]).timestamp()
            self._pending.append(Item(LANE_EVENT, body, asset=body["asset"], data_ts=ts))
        late = self.windower.add(norm, src.name)
        if late:
            self._report_late(src.name, late)
        self._commit(self.windower.close())

    def _report_late(self, source: str, new: int = 0) -> None:
        """Count samples that came after their window closed; report them, rate-limited.

        They are in no window, so they are data the cloud never sees: say so, with the fix.
        """
        tally = self._late.setdefault(source, _LateTally())
        tally.unreported += new
        tally.total += new
        now = time.monotonic()
        if not tally.unreported or now - tally.reported_at < LATE_NOTE_EVERY_S:
            return
        count, tally.unreported, tally.reported_at = tally.unreported, 0, now
        assert self.windower is not None
        lateness = self.windower.lateness_s
        self._note(
            SourceNote(
                _kind("late_data"),
                f"source {source}: {count} sample(s) arrived after their window had closed "
                f"(more than window.lateness_s = {lateness:g} s behind the newest data) and are "
                "in no window (fix: raise window.lateness_s if this source delivers late or "
                "out of order)",
                {"source": source, "count": count, "total": tally.total, "lateness_s": lateness},
            )
        )

    def _report_crash_gap(self, src: Source, first: float) -> None:
        start = self._crash_gap.pop(src.name)
        if first <= start:
            return
        assets = sorted({r.asset for r in src.refs.refs})
        item = self._event_item(
            "data_gap",
            f"source {src.name}: samples between the last emitted window and the first one "
            "received after the agent was killed are lost (this source cannot backfill)",
            severity="medium",
            data={"source": src.name, "reason": "agent_killed", "assets": assets},
        )
        item.body["start"], item.body["end"] = iso(start), iso(first)
        self._pending.append(item)

    def _commit(self, results: list[WindowResult]) -> None:
        """Score closed windows and commit them with the windower's progress, atomically."""
        assert self.outbox is not None and self.windower is not None
        if not results and not self._pending:
            return
        items = self._pending
        self._pending = []
        for res in results:
            body = res.record()
            scores = self.runner.score(res)
            if scores is not None:
                body["scores"] = scores.model_dump(mode="json")
            items.append(
                Item(LANE_SUMMARY, body, asset=res.asset, data_ts=res.start, span=res.length_s)
            )
        meta = {"closed_k": str(self.windower.closed_k)}
        if self.alarm_engine.alarms:
            meta["alarms"] = json.dumps(self.alarm_engine.dump())
        models = self.runner if isinstance(self.runner, EdgeModels) else None
        saving = models.unsaved() if models is not None else set()
        if models is not None:
            # Only the assets whose state changed, with the records they fed: the open model
            # window's row, and the model's row when a model window closed (scoring.py).
            meta |= models.state_rows(saving)
        self.outbox.add(items, meta=meta)
        if models is not None:
            models.saved(saving)
        if results:
            boundary = self.windower.closed_k * self.windower.length_s
            for src in self.sources:
                if hasattr(src, "committed"):  # the MQTT journal drops what is now durable
                    src.committed(boundary)
        if self.uplink is not None:
            self.uplink.wake.set()

    def _final_flush(self) -> None:
        """On a clean stop, close the windows that data time has fully passed."""
        w = self.windower
        if w is None or self.outbox is None:
            return
        upto = w.closed_k
        if math.isfinite(w.watermark):
            upto = max(upto, math.floor(w.watermark / w.length_s))
        self._commit(w.close(upto))

    # -- events ---------------------------------------------------------------------------------

    def _event_item(
        self,
        kind: str,
        message: str,
        *,
        severity: str = "info",
        data: dict[str, Any] | None = None,
        asset: str | None = None,
    ) -> Item:
        now = time.time()
        body = {
            "type": "event",
            "kind": kind,
            "ts": iso(now),
            "severity": severity,
            "message": message,
            "data": data or {},
        }
        if asset:
            body["asset"] = asset
        return Item(LANE_EVENT, body, asset=asset, data_ts=now)

    def _control_emit(self, body: dict[str, Any]) -> None:
        """Queue a control event (command result, local trip) durably and wake the uplink."""
        assert self.outbox is not None
        self.outbox.add([Item(LANE_EVENT, body, asset=body.get("asset"), data_ts=time.time())])
        if self.uplink is not None:
            self.uplink.wake.set()

    def _reset_model(self, asset: str, what: list[str]) -> dict[str, Any]:
        """Maintenance (issue 7): reset an asset's model state and save it at once, so a
        restart does not bring back the state the engineer reset."""
        seen = self.windower.watermark if self.windower is not None else None
        dropped = self.runner.reset(asset, what, seen)  # type: ignore[attr-defined]
        if self.outbox is not None and isinstance(self.runner, EdgeModels):
            self.outbox.set_meta(self.runner.state_rows({asset}))
            self.runner.saved({asset})
        return dropped

    def _restore_models(self, models: EdgeModels) -> None:
        """Resume each asset's model state from its meta rows (``models/<asset>[/open]``).

        An outbox of the previous version holds every asset's state under the single key
        ``models``: it is split into per-asset rows and deleted, in one transaction. Rows that
        restore refused (an asset no longer in the config, or state of other pinned models) are
        deleted in that transaction too, as the previous version overwrote them at its first
        commit: a later config that brings the asset or model back starts it afresh."""
        assert self.outbox is not None
        rows = self.outbox.meta_prefix(STATE_PREFIX)
        saved = state_from_rows(rows)
        old = self.outbox.meta("models")
        if old is not None:  # written by the previous version, after any per-asset row
            saved |= json.loads(old or "{}")
        resumed = models.restore(saved)
        put = models.state_rows(resumed, full=True) if old is not None else {}
        drop = [k for k in rows if row_asset(k) not in resumed]
        if old is not None:
            drop.append("models")
        if put or drop:
            self.outbox.set_meta(put, delete=drop)

    def _note(self, note: SourceNote) -> None:
        sev = "low" if note.kind in ("malformed_input", "late_data") else "info"
        if note.kind == "source_status" and note.data.get("state") == "reconnecting":
            sev = "medium"
        log.info("edge: %s", note.message)
        item = self._event_item(str(note.kind), note.message, severity=sev, data=note.data)
        if isinstance(note.data.get("start"), float):  # a gap with a known first missing instant
            item.body["start"] = iso(note.data["start"])
        self._pending.append(item)

    # -- periodic -------------------------------------------------------------------------------

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        last_enforce = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(1.0)
            now = time.monotonic()
            for kind, dq in self._rates.items():
                dq.append((now, self._counts[kind]))
            for source in self._late:  # late samples counted since the last report
                self._report_late(source)
            # Windows also close when a source went idle (no batch arrives to trigger it).
            if self.windower is not None:
                self._commit(self.windower.close())
            if now - last_enforce > 60 and self.outbox is not None:
                last_enforce = now
                self.outbox.enforce()

    def _heartbeat(self) -> dict[str, Any]:
        assert self.outbox is not None
        return {
            "type": "heartbeat",
            "ts": datetime.now(UTC).isoformat(),
            "outbox_depth": self.outbox.depth(),
            "oldest_unsent_s": self.outbox.oldest_unsent_s(),
            "clock_offset_s": self.uplink.clock_offset_s if self.uplink else None,
            "sources": {s.name: s.state for s in self.sources},
            "agent_version": __version__,
        }

    def rates(self) -> dict[str, float]:
        """Return samples/s per protocol over the last ~10 s."""
        out = {}
        for kind, dq in self._rates.items():
            if len(dq) >= 2 and dq[-1][0] > dq[0][0]:
                out[kind] = (dq[-1][1] - dq[0][1]) / (dq[-1][0] - dq[0][0])
            else:
                out[kind] = 0.0
        return out

    def stats(self) -> dict[str, Any]:
        """Return the status dict the local endpoint and `egiz edge status` show."""
        ob = self.outbox
        w = self.windower
        outbox = {}
        if ob is not None:
            try:
                outbox = {
                    "path": ob.path,
                    "epoch": ob.epoch,
                    "depth": ob.depth(),
                    "bytes": ob.bytes,
                    "max_bytes": ob.max_bytes,
                    "oldest_unsent_s": ob.oldest_unsent_s(),
                    "last_acked_seq": int(ob.meta("last_acked_seq", "0") or 0),
                    "evicted": ob.evicted,
                    "quarantined": ob.quarantined,
                }
            except Exception:  # the database is closed during shutdown
                outbox = {}
        up = self.uplink.stats() if self.uplink else {"state": "offline", "url": None}
        return {
            "edge_id": self.config.uplink.edge_id,
            "site": self.config.site.id,
            "version": __version__,
            "uptime_s": time.time() - self.started,
            "status_port": self.status_port,
            "sources": {s.name: s.stats() for s in self.sources},
            "samples": dict(self._counts),
            "samples_per_s": self.rates(),
            "windows_made": w.made if w else 0,
            "late_samples": w.late if w else 0,
            "unmapped_samples": self.unmapped,
            "ts_fallback_samples": self.ts_fallback,
            "records_synced": up.get("records_synced", 0),
            "outbox": outbox,
            "uplink": up,
            "alarms": self.alarm_engine.active(),
            "task_failures": self.task_failures,
            "control": self.control.stats() if self.control else None,
        }


def _bind(fn: Any, *args: Any) -> Any:
    return lambda: fn(*args)


def _kind(name: str) -> Any:
    from egiz.contracts import EventKind

    return EventKind(name)
