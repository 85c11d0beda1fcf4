"""The fleet dashboard in headless Debian Chromium, against uvicorn on a free port (issue 2 #4)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from egiz.cloud.app import create_app
from egiz.cloud.config import CloudSettings
from egiz.cloud.services.auth import add_user
from egiz.cloud.services.edges import add_edge

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Serve the cloud with uvicorn in a thread; yield (base URL, edge token)."""
    app = create_app(CloudSettings(db_url=f"sqlite:///{tmp_path}/c.db", dashboard_poll_s=0.3))
    token = add_edge(app.state.store, "edge-1")
    add_user(app.state.store, "vera", "vera-password", {"plant": "viewer"})
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", token
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing (apt-get install -y chromium)")
        pytest.skip(f"SKIPPING browser test: {CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def test_dashboard_shows_assets_and_live_values(server, browser, mk) -> None:
    base, token = server
    auth = {"Authorization": f"Bearer {token}"}
    first = mk.batch([mk.manifest(1), mk.window(2, k=0, flow=10.0)])
    assert httpx.post(f"{base}/api/v1/ingest", json=first, headers=auth).json()["stored"] == [
        [1, 2]
    ]

    page = browser.new_page(viewport={"width": 1280, "height": 720})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(f"{base}/")
    page.wait_for_url("**/dashboard/login.html**")  # no token yet: the login page
    page.fill("#username", "vera")
    page.fill("#password", "wrong-password")
    page.click("#submit")
    page.locator("#error").wait_for()
    assert "wrong username or password" in page.locator("#error").inner_text()
    page.fill("#password", "vera-password")
    page.click("#submit")
    page.wait_for_url(f"{base}/dashboard/")
    cell = page.locator('td.value[data-asset="plant.pump-1"][data-signal="flow"]')
    cell.wait_for()
    assert cell.inner_text() == "10.00"
    assert page.locator("article.card").count() == 2
    assert (
        page.locator('section.site[data-site="plant"] section.area h3').text_content() == "pumping"
    )
    assert "pump-2" in page.locator('article[data-asset="plant.pump-2"]').inner_text()

    second = mk.batch([mk.window(3, k=1, flow=33.3)], batch_id="b2")
    assert httpx.post(f"{base}/api/v1/ingest", json=second, headers=auth).json()["stored"] == [
        [3, 3]
    ]
    page.wait_for_function(
        "() => document.querySelector("
        "'td.value[data-asset=\"plant.pump-1\"][data-signal=\"flow\"]').textContent === '33.30'"
    )
    shots = os.environ.get("EGIZ_SCREENSHOTS")
    if shots:  # docs/screenshots are refreshed on request, never as a side effect of CI
        page.screenshot(path=f"{shots}/fleet.png", full_page=True)
        page.goto(f"{base}/dashboard/login.html")
        page.screenshot(path=f"{shots}/login.png")
    # Offline sites: the page loads nothing from anywhere but the cloud itself.
    assert requests and all(u.startswith(base) for u in requests), requests
