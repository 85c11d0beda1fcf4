"""Webhooks: alarm raise, clear and ack delivered once each, signed, retried after a failure."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from fastapi.testclient import TestClient

from egiz.cloud.app import create_app
from egiz.cloud.config import CloudSettings
from egiz.cloud.notify import WebhookConfig, sign
from egiz.cloud.services.auth import add_user, issue_token
from egiz.cloud.services.edges import add_edge


class _Receiver(BaseHTTPRequestHandler):
    got: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    fail_first: ClassVar[list[bool]] = [True]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.fail_first[0]:  # the receiver is down once: the sender must retry
            self.fail_first[0] = False
            self.send_response(503)
        else:
            self.got.append((dict(self.headers), body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def test_webhooks_signed_retried_once_each(tmp_path, mk) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    hook = WebhookConfig(url=url, secret="s3cret", backoff_s=0.05)
    app = create_app(CloudSettings(db_url=f"sqlite:///{tmp_path}/c.db", webhooks=(hook,)))
    token = add_edge(app.state.store, "edge-1")
    add_user(app.state.store, "op", "op-password", {"plant": "operator"})
    user = {"Authorization": f"Bearer {issue_token(app.state.store, 'op')[0]}"}
    raise_ = {**mk.event(2), "alarm_id": "al-7"}
    clear = {**mk.event(3), "kind": "alarm_clear", "alarm_id": "al-7"}
    try:
        with TestClient(app) as c:
            edge = {"Authorization": f"Bearer {token}"}
            body = mk.batch([mk.manifest(1), raise_])
            for _ in range(2):  # a retried batch does not notify twice
                assert c.post("/api/v1/ingest", json=body, headers=edge).status_code == 200
            assert c.post("/api/v1/alarms/plant/al-7/ack", headers=user).status_code == 200
            c.post("/api/v1/ingest", json=mk.batch([clear], batch_id="b2"), headers=edge)
        # Leaving the client stops the app, which drains the queue.
    finally:
        server.shutdown()
    events = [h["X-Egiz-Event"] for h, _ in _Receiver.got]
    assert events == ["alarm_raise", "alarm_ack", "alarm_clear"]
    assert app.state.notifier.delivered == 3 and app.state.notifier.failed == 0
    for headers, raw in _Receiver.got:
        assert headers["X-Egiz-Signature"] == sign("s3cret", headers["X-Egiz-Timestamp"], raw)
    payloads = [json.loads(raw) for _, raw in _Receiver.got]
    assert payloads[0]["alarm"]["asset"] == "plant.pump-1"
    assert payloads[1]["alarm"]["acked_by"] == "op"
    assert payloads[2]["alarm"]["cleared_at"] is not None
