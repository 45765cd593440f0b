"""Alerts reach a real local HTTP server; the webhook URL never appears in logs or errors."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from cs_platform.adapters.notifier import (
    Alert,
    NotifierError,
    WebhookNotifier,
    notifier_from_settings,
)
from cs_platform.settings import load_settings


@pytest.fixture
def webhook_server():
    received: list[dict] = []
    status = {"code": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            length = int(self.headers["Content-Length"])
            received.append({"path": self.path, "body": json.loads(self.rfile.read(length)),
                             "content_type": self.headers["Content-Type"]})
            self.send_response(status["code"])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/secret-token-123", received, status
    server.shutdown()
    server.server_close()


ALERT = Alert(title="reconciles_with_raw failed for 2026-11-26T10", severity="ERROR", check="reconciles_with_raw",
              asset="lake/cs/events", partition="2026-11-26-10:00", details={"missing_events": 3})


def test_webhook_receives_the_alert_as_json(webhook_server, caplog):
    url, received, _ = webhook_server
    notifier = notifier_from_settings(load_settings(alert_webhook_url=url))

    with caplog.at_level(logging.ERROR, logger="cs_platform.alerts"):
        notifier.notify(ALERT)

    assert received == [{
        "path": "/hooks/secret-token-123",
        "content_type": "application/json",
        "body": {
            "text": "[ERROR] reconciles_with_raw failed for 2026-11-26T10", "source": "cs-lakehouse",
            "title": "reconciles_with_raw failed for 2026-11-26T10", "severity": "ERROR",
            "check": "reconciles_with_raw", "asset": "lake/cs/events", "partition": "2026-11-26-10:00",
            "details": {"missing_events": 3},
        },
    }]
    assert "ALERT reconciles_with_raw failed for 2026-11-26T10 [ERROR]" in caplog.text
    assert "secret-token-123" not in caplog.text


def test_rejected_alert_raises_without_revealing_the_url(webhook_server, caplog):
    url, received, status = webhook_server
    status["code"] = 500
    notifier = notifier_from_settings(load_settings(alert_webhook_url=url))

    with caplog.at_level(logging.ERROR, logger="cs_platform.alerts"), pytest.raises(NotifierError) as err:
        notifier.notify(ALERT)

    assert str(err.value) == "alert webhook answered HTTP 500 (CSP_ALERT_WEBHOOK_URL)"
    assert len(received) == 1
    assert "secret-token-123" not in caplog.text
    assert "ALERT reconciles_with_raw" in caplog.text  # the log notifier still delivered


def test_unreachable_webhook_error_names_the_setting_not_the_url():
    notifier = WebhookNotifier("http://127.0.0.1:9/hooks/secret-token-123", timeout_seconds=2)
    with pytest.raises(NotifierError) as err:
        notifier.notify(ALERT)
    assert str(err.value) == "alert webhook unreachable: ConnectionRefusedError (CSP_ALERT_WEBHOOK_URL)"
    assert "secret" not in repr(notifier)


def test_without_webhook_only_the_log_notifier_is_used():
    notifier = notifier_from_settings(load_settings(alert_webhook_url=None))
    assert [type(n).__name__ for n in notifier.notifiers] == ["LogNotifier"]
