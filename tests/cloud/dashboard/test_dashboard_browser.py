"""The dashboard in headless Debian Chromium against uvicorn on a free port.

Issue 2 acceptance 4 (assets shown, a value changes as windows arrive) and issue 5
acceptance 5 (log in, see the fleet, open an asset, the trend chart plots the points the API
returned, acknowledge an alarm). ``EGIZ_SCREENSHOTS=dir`` also saves the main pages.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from egiz.cloud.app import create_app
from egiz.cloud.config import CloudSettings
from egiz.cloud.services.auth import add_user, issue_token
from egiz.cloud.services.edges import add_edge

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Path, serving) -> Iterator[tuple[str, str, str]]:
    """Serve the cloud with uvicorn in a thread; yield (base URL, edge token, user token)."""
    app = create_app(CloudSettings(db_url=f"sqlite:///{tmp_path}/c.db", dashboard_poll_s=120))
    token = add_edge(app.state.store, "edge-1")
    add_user(app.state.store, "olga", "olga-password", {"plant": "operator"})
    user_token, _ = issue_token(app.state.store, "olga")
    with serving(app) as base:
        yield base, token, user_token


def _alarm(seq: int) -> dict:
    return {"type": "event", "seq": seq, "kind": "alarm_raise", "ts": "2026-01-01T00:03:00Z",
            "asset": "pump-1", "signal": "flow", "severity": "high", "message": "flow high",
            "alarm_id": "al-1"}  # fmt: skip


def test_dashboard_login_fleet_asset_chart_and_ack(server, browser, mk) -> None:
    base, token, user_token = server
    auth = {"Authorization": f"Bearer {token}"}
    recs = [mk.manifest(1)] + [mk.window(2 + k, k=k, flow=10.0 + k % 5) for k in range(30)]
    recs.append(_alarm(40))
    recs.append({"type": "event", "seq": 41, "kind": "data_gap", "ts": "2026-01-01T00:04:00Z",
                 "asset": "pump-1", "message": "source down", "start": "2026-01-01T00:01:00Z",
                 "end": "2026-01-01T00:01:30Z"})  # fmt: skip
    ans = httpx.post(f"{base}/api/v1/ingest", json=mk.batch(recs), headers=auth).json()
    assert ans["stored"] == [[1, 31], [40, 41]]
    shots = os.environ.get("EGIZ_SCREENSHOTS")

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{base}/")
    page.wait_for_url("**/dashboard/login.html**")  # no token yet: the login page
    if shots:
        page.screenshot(path=f"{shots}/login.png")
    page.fill("#username", "olga")
    page.fill("#password", "wrong-password")
    page.click("#submit")
    page.locator("#error").wait_for()
    assert "wrong username or password" in page.locator("#error").inner_text()
    page.fill("#password", "olga-password")
    page.click("#submit")
    page.wait_for_url(f"{base}/dashboard/**")

    # The fleet: every asset, grouped by site and area, live values.
    cell = page.locator('td.value[data-asset="plant.pump-1"][data-signal="flow"]')
    cell.wait_for()
    assert cell.inner_text() == "14.00"  # window 29: 10 + 29 % 5
    assert page.locator("article.card").count() == 2
    assert (
        page.locator('section.site[data-site="plant"] section.area h3').text_content() == "pumping"
    )
    # Polling is every 120 s here: the new value can only come in through the SSE stream.
    more = mk.batch([mk.window(50, k=30, flow=33.3)], batch_id="b2")
    assert httpx.post(f"{base}/api/v1/ingest", json=more, headers=auth).json()["stored"] == [
        [50, 50]
    ]
    page.wait_for_function(
        "() => document.querySelector("
        "'td.value[data-asset=\"plant.pump-1\"][data-signal=\"flow\"]').textContent === '33.30'"
    )
    if shots:
        page.screenshot(path=f"{shots}/fleet.png", full_page=True)

    # The asset page: its trend chart plots exactly the points the API returns.
    page.click('article[data-asset="plant.pump-1"] h4 a')
    page.wait_for_url("**#/asset/plant.pump-1")
    page.locator("#trend circle").first.wait_for()
    src = page.locator("#trend").get_attribute("data-src")
    api = httpx.get(f"{base}{src}", headers={"Authorization": f"Bearer {user_token}"}).json()
    plotted = page.eval_on_selector_all(
        "#trend circle", "cs => cs.map(c => [c.dataset.t, Number(c.dataset.v)])"
    )
    expected = [[p["start"], p["mean"]] for p in api["data"] if p["mean"] is not None]
    assert len(expected) == 31 and plotted == expected
    gap = page.locator('table.gaps tr[data-seq="41"]')
    assert "source down" in gap.inner_text()  # data completeness: the gap the edge reported
    assert page.locator('.completeness tr[data-edge="edge-1"]').count() == 1
    if shots:
        page.screenshot(path=f"{shots}/asset.png", full_page=True)

    # Zoom: drag across the middle third of the chart, then double-click back.
    box = page.locator("#trend svg").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.4, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=5)
    page.mouse.up()
    page.wait_for_function("() => Number(document.querySelector('#trend').dataset.count) < 31")
    zoomed = page.locator("#trend").get_attribute("data-src")
    assert "start=" in zoomed and int(page.locator("#trend").get_attribute("data-count")) > 3
    page.locator("#trend svg").dblclick()
    page.wait_for_function("() => document.querySelector('#trend').dataset.count === '31'")

    # Acknowledge the alarm from the asset page; the API agrees who did it.
    row = page.locator('tr[data-alarm="al-1"]')
    assert "active unacknowledged" in row.locator("td.state").inner_text()
    row.locator("button.ack").click()
    page.wait_for_function(
        "() => document.querySelector('tr[data-alarm=\"al-1\"] td.state')"
        "?.textContent.startsWith('active acknowledged')"
    )
    alarms = httpx.get(f"{base}/api/v1/alarms", headers={"Authorization": f"Bearer {user_token}"})
    assert alarms.json()["data"][0]["acked_by"] == "olga"
    if shots:
        page.goto(f"{base}/dashboard/#/alarms")
        page.locator('tr[data-alarm="al-1"]').wait_for()
        page.screenshot(path=f"{shots}/alarms.png", full_page=True)
        page.goto(f"{base}/dashboard/#/edges")
        page.locator('tr[data-edge="edge-1"]').wait_for()
        page.screenshot(path=f"{shots}/edges.png", full_page=True)
    # Offline sites: the pages load nothing from anywhere but the cloud itself.
    assert requests and all(u.startswith(base) for u in requests), requests
