"""The uplink against the real cloud (egiz.cloud under uvicorn on a free port)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
import uvicorn

from egiz.contracts import SiteConfig
from egiz.edge.errors import UplinkError
from egiz.edge.outbox import LANE_MANIFEST, LANE_SUMMARY, Item, Outbox
from egiz.edge.uplink import Uplink
from egiz.edge.window import iso


@contextlib.asynccontextmanager
async def cloud(tmp_path, port: int):
    from egiz.cloud.app import create_app
    from egiz.cloud.config import CloudSettings

    app = create_app(CloudSettings(db_url=f"sqlite:///{tmp_path / 'cloud.db'}"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    server.capture_signals = contextlib.nullcontext  # the test owns the signals
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "cloud did not start"
        await asyncio.sleep(0.05)
    try:
        yield app
    finally:
        server.should_exit = True
        await task


def window(asset: str, start: float, signal: str = "flow") -> Item:
    body = {
        "type": "window",
        "asset": asset,
        "start": iso(start),
        "length_s": 10.0,
        "signals": {
            signal: {
                "count": 3,
                "bad": 0,
                "uncertain": 0,
                "out_of_range": 0,
                "min": 1.0,
                "max": 3.0,
                "mean": 2.0,
                "std": 0.8165,
                "last": 3.0,
                "last_ts": iso(start + 9),
            }
        },
    }
    return Item(LANE_SUMMARY, body, asset=asset, data_ts=start, span=10.0)


def manifest(cfg: SiteConfig) -> Item:
    from egiz.contracts import build_manifest

    body = build_manifest(cfg, seq=1).model_dump(mode="json", by_alias=True)
    body.pop("seq")
    return Item(LANE_MANIFEST, body)


def test_uplink_to_cloud_stores_once_quarantines_rejects_and_refuses_bad_token(tmp_path, kit):
    asyncio.run(_run(tmp_path, kit))


async def _run(tmp_path, kit) -> Any:
    from egiz.cloud.services.edges import add_edge

    cfg = kit.site_config(tmp_path, [])
    port = kit.free_port()
    async with cloud(tmp_path, port) as app:
        token = add_edge(app.state.store, "test-edge", site="test")
        ob = Outbox(tmp_path / "ob.db", 10**8, 10**8)
        ob.add([manifest(cfg)] + [window("pump-1", 1_800_000_000.0 + 10 * i) for i in range(5)])
        (bad_seq,) = ob.add([window("pump-1", 1_800_000_100.0, signal="no_such_signal")])
        up_cfg = cfg.uplink.model_copy(update={"url": f"http://127.0.0.1:{port}"})
        bad = Uplink(up_cfg, ob, token="wrong")
        async with __import__("httpx").AsyncClient() as http:
            bad._client = http
            with pytest.raises(UplinkError, match="401"):
                await bad.send(ob.begin(100))
            assert ob.depth() == 7  # nothing deleted on a refusal
            up = Uplink(up_cfg, ob, token=token, client=http)
            batch = ob.begin(100)
            body = up.body(batch)
            answer = await up.send(batch)
            assert sum(hi - lo + 1 for lo, hi in answer.stored) == 6
            (rej,) = answer.rejected
            assert rej.seq == bad_seq and rej.reason
            assert [r[0] for r in ob.quarantine_rows()] == [rej.seq]
            (left,) = ob.bodies()  # only the quarantined event waits now
            assert left["kind"] == "quarantined" and left["data"]["seq"] == rej.seq
            assert up.clock_offset_s is not None and abs(up.clock_offset_s) < 5
            # The same batch again (a lost answer): the cloud holds it once and says so.
            resp = await http.post(
                f"http://127.0.0.1:{port}/api/v1/ingest",
                content=body,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            assert resp.status_code == 200
            assert resp.json()["stored"] == answer.model_dump(mode="json")["stored"]
            await up.send(ob.begin(100))
            assert ob.depth() == 0
        assert app.state.store.count("windows") == 5
