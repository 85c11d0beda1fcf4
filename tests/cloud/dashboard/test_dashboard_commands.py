"""Commands and maintenance on the dashboard's asset page, in headless Debian Chromium.

Issue 7: the asset page shows the asset's commands with their state machine states and
reasons, live-updated (polling is 120 s here: updates come through the SSE stream); an
operator issues a setpoint and a critical start, a second operator approves it; refusals show
the cloud's reason; a viewer gets no form. The edge's side is played over the real ingest API
(receipts and command_result events), as the uplink sends them. ``EGIZ_SCREENSHOTS=dir`` also
saves the page as ``commands.png``.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from egiz.cloud.app import create_app
from egiz.cloud.config import CloudSettings
from egiz.cloud.services.auth import add_user, issue_token
from egiz.cloud.services.edges import add_edge

pytestmark = pytest.mark.browser

USERS = {"olga": "operator", "pavel": "operator", "vera": "viewer"}
ASSET = "plant.pump-1"


def _manifest() -> dict[str, Any]:
    pump = {"name": "pump", "signals": [{"name": "flow", "unit": "m3/h", "kind": "flow"}],
            "setpoints": [{"name": "speed_setpoint", "unit": "rpm", "min": 0, "max": 1800,
                           "max_step": 300}],
            "commands": [{"name": "start", "critical": True}, {"name": "stop"}]}  # fmt: skip
    return {"type": "manifest", "seq": 1, "site": {"id": "plant", "name": "Plant"},
            "asset_types": [pump], "hash": "1" * 64,
            "assets": [{"id": "pump-1", "type": "pump", "name": "Pump 1", "area": "pumping"}]}  # fmt: skip


class Edge:
    """Plays the edge over the real ingest API: receipts and command results."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.seq = itertools.count(1)
        self.batches = itertools.count(1)

    def send(self, records: list[dict[str, Any]], acks: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
        recs = [{**r, "seq": next(self.seq)} for r in records]
        body = {"schema": 1, "edge_id": "edge-1", "epoch": "ep1",
                "batch_id": f"b{next(self.batches)}", "sent_at": "2026-11-26T00:00:00Z",
                "records": recs, "command_acks": list(acks)}  # fmt: skip
        r = httpx.post(f"{self.base}/api/v1/ingest", json=body,
                       headers={"Authorization": f"Bearer {self.token}"})  # fmt: skip
        assert r.status_code == 200 and not r.json()["rejected"], r.text
        return r.json()

    def result(self, cid: str, state: str, reason: str) -> None:
        ev = {"type": "event", "kind": "command_result", "ts": "2026-11-26T00:00:01Z",
              "asset": "pump-1", "command_id": cid, "severity": "info",
              "message": f"command {state}", "data": {"state": state, "reason": reason}}  # fmt: skip
        self.send([ev])


@pytest.fixture
def server(tmp_path: Path, serving) -> Iterator[tuple[str, Edge, dict[str, str]]]:
    """Serve the cloud with uvicorn in a thread; yield (base URL, the edge, user tokens)."""
    app = create_app(CloudSettings(db_url=f"sqlite:///{tmp_path}/c.db", dashboard_poll_s=120))
    store = app.state.store
    token = add_edge(store, "edge-1", site="plant")
    tokens = {}
    for name, role in USERS.items():
        add_user(store, name, f"{name}-password", {"plant": role})
        tokens[name] = issue_token(store, name)[0]
    with serving(app) as base:
        edge = Edge(base, token)
        edge.send([_manifest()])
        yield base, edge, tokens


def _open(browser, base: str, user: str, token: str, requests: list[str]):
    """A logged-in page of its own (own localStorage) on the asset page."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    ctx.add_init_script(f"localStorage.setItem('egiz.token', '{token}');"
                        f"localStorage.setItem('egiz.user', '{user}');")  # fmt: skip
    page = ctx.new_page()
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{base}/dashboard/#/asset/{ASSET}")
    page.locator("section.control").wait_for()
    return page


def _settled(page) -> None:
    """No re-render in flight: a form a render is about to replace takes no clicks or typing."""
    page.wait_for_function("() => !document.getElementById('view').dataset.rendering")


def _state_is(page, cid: str, state: str) -> None:
    page.wait_for_function(
        "([id, s]) => document.querySelector(`tr[data-command='${id}'] .cstate`)"
        "?.textContent === s", arg=[cid, state.replace("_", " ")], timeout=15_000)  # fmt: skip


def _newest(page) -> str:
    return page.locator("tr.command").first.get_attribute("data-command")


def test_dashboard_commands_issue_approve_and_follow_states(server, browser) -> None:
    base, edge, tokens = server
    requests: list[str] = []
    olga = _open(browser, base, "olga", tokens["olga"], requests)
    assert olga.locator("p.empty", has_text="No commands.").count() == 1

    # Out of the asset type's limits: refused by the cloud, its reason on the page.
    olga.select_option("#cmd-action", "set_setpoint")
    olga.select_option("#cmd-setpoint", "speed_setpoint")
    _settled(olga)
    assert "0.00 … 1800.0 · step ≤ 300.0" in olga.locator(".limits").inner_text()
    olga.fill("#cmd-value", "2500")
    olga.click("#cmd-send")
    olga.wait_for_function("() => document.querySelector('#command-error')?.textContent"
                           ".includes('out of limits')")  # fmt: skip
    assert olga.locator("tr.command").count() == 0

    # A setpoint: pending → delivered (the edge's receipt) → accepted → executed, live.
    olga.fill("#cmd-value", "1300")
    olga.fill("#cmd-reason", "more flow for the night shift")
    olga.click("#cmd-send")
    olga.locator("tr.command").first.wait_for()
    sp = _newest(olga)
    _state_is(olga, sp, "pending")
    assert "speed_setpoint → 1300" in olga.locator(f"tr[data-command='{sp}'] .what").inner_text()
    ans = edge.send([], acks=[sp])
    assert ans["commands"] == []  # delivered: no longer re-sent
    _state_is(olga, sp, "delivered")
    edge.result(sp, "executed", "read back speed_setpoint = 1300")
    _state_is(olga, sp, "executed")
    row = olga.locator(f"tr[data-command='{sp}']")
    assert "read back speed_setpoint = 1300" in row.locator(".reason").inner_text()
    trail = row.locator(".cstate").get_attribute("title")
    assert trail == "pending → delivered → accepted → executed", trail

    # A critical start: awaiting approval; the issuer has no Approve button, another operator does.
    olga.select_option("#cmd-action", "start")
    olga.locator("#cmd-setpoint").wait_for(state="detached")  # the form re-rendered for start
    _settled(olga)
    olga.click("#cmd-send")
    olga.wait_for_function("() => document.querySelectorAll('tr.command').length === 2")
    start = _newest(olga)
    _state_is(olga, start, "awaiting_approval")
    assert olga.locator(f"tr[data-command='{start}'] button.approve").count() == 0
    pavel = _open(browser, base, "pavel", tokens["pavel"], requests)
    pavel.locator(f"tr[data-command='{start}'] button.approve").click()
    _state_is(pavel, start, "pending")
    _state_is(olga, start, "pending")  # olga's page follows live
    assert "approved by pavel" in olga.locator(f"tr[data-command='{start}']").inner_text()
    # The edge refuses it (its local interlock): rejected, with the edge's reason.
    edge.send([], acks=[start])
    edge.result(start, "rejected", "interlock: trip rule speed > 1650 (value 1700); no start")
    _state_is(olga, start, "rejected")
    assert "interlock" in olga.locator(f"tr[data-command='{start}'] .reason").inner_text()

    # A command that expires before the edge picks it up.
    olga.select_option("#cmd-action", "stop")
    olga.wait_for_function("() => document.querySelector('#cmd-action').value === 'stop'")
    _settled(olga)
    olga.fill("#cmd-expires", "1")
    olga.click("#cmd-send")
    olga.wait_for_function("() => document.querySelectorAll('tr.command').length === 3")
    stop = _newest(olga)
    time.sleep(1.5)
    assert edge.send([])["commands"] == []  # the cloud expires it instead of delivering it
    _state_is(olga, stop, "expired")
    assert "expired before delivery" in olga.locator(f"tr[data-command='{stop}']").inner_text()

    # Maintenance from the page: recorded, and its reset queued for the edge as a command.
    olga.fill("#mnt-note", "DE bearing, SKF 6312")
    olga.click("#mnt-send")
    olga.locator("table.maintenance tr[data-maintenance]").wait_for()
    assert "bearing replaced" in olga.locator("table.maintenance").inner_text()
    olga.wait_for_function("() => document.querySelectorAll('tr.command').length === 4")
    reset = _newest(olga)
    assert "reset health_baseline" in olga.locator(f"tr[data-command='{reset}']").inner_text()
    _state_is(olga, reset, "pending")
    assert "health_baseline" in olga.locator("table.maintenance td.resets").inner_text()
    # The edge executes it: both the command row and the maintenance record show it, live.
    edge.send([], acks=[reset])
    edge.result(reset, "executed", "model state reset (health_baseline)")
    _state_is(olga, reset, "executed")
    olga.wait_for_function("() => document.querySelector('table.maintenance td.resets .cstate')"
                           "?.textContent === 'executed'")  # fmt: skip
    if shots := os.environ.get("EGIZ_SCREENSHOTS"):
        olga.locator("section.control").scroll_into_view_if_needed()
        olga.screenshot(path=f"{shots}/commands.png", full_page=True)

    # A viewer sees the commands and their states, but no form and no Approve button.
    vera = _open(browser, base, "vera", tokens["vera"], requests)
    assert vera.locator("tr.command").count() == 4
    assert vera.locator("#cmd-send").count() == 0 and vera.locator("button.approve").count() == 0
    assert "needs the operator or admin role" in vera.locator("section.control").inner_text()
    # Offline sites: nothing is loaded from anywhere but the cloud itself.
    assert requests and all(u.startswith(base) for u in requests), requests
