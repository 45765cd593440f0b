"""Where alerts go: a pluggable notifier (the log always, a webhook when one is configured).

The webhook URL is a secret (it often embeds a token): it comes from
``settings.alert_webhook_url`` and is never logged, not even in errors.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, Sequence

from cs_platform.settings import Settings

log = logging.getLogger("cs_platform.alerts")


@dataclass(frozen=True)
class Alert:
    """One alert: what failed (check, asset, partition), how bad, and the figures behind it."""

    title: str
    severity: str
    check: str
    asset: str
    partition: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return {"source": "cs-lakehouse", **asdict(self)}


class Notifier(Protocol):
    def notify(self, alert: Alert) -> None: ...


class LogNotifier:
    """Writes the alert to the platform log (always on, so an alert is never silent)."""

    def __init__(self, logger: logging.Logger | None = None):
        self.logger = logger or log

    def notify(self, alert: Alert) -> None:
        self.logger.error("ALERT %s [%s] %s on %s partition=%s details=%s", alert.title, alert.severity,
                          alert.check, alert.asset, alert.partition, json.dumps(alert.details, default=str))


class NotifierError(RuntimeError):
    """A webhook did not accept an alert (the message never contains the URL)."""


class WebhookNotifier:
    """POSTs the alert as JSON to a webhook (Slack-compatible: a ``text`` field is included)."""

    def __init__(self, url: str, timeout_seconds: float = 10.0):
        self._url = url
        self.timeout_seconds = timeout_seconds

    def __repr__(self) -> str:  # the URL is a secret
        return "WebhookNotifier(url=***)"

    def notify(self, alert: Alert) -> None:
        body = {"text": f"[{alert.severity}] {alert.title}", **alert.payload()}
        request = urllib.request.Request(
            self._url, data=json.dumps(body, default=str).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            raise NotifierError(f"alert webhook answered HTTP {exc.code} (CSP_ALERT_WEBHOOK_URL)") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NotifierError(f"alert webhook unreachable: {type(reason).__name__} (CSP_ALERT_WEBHOOK_URL)") from None
        if status >= 300:
            raise NotifierError(f"alert webhook answered HTTP {status} (CSP_ALERT_WEBHOOK_URL)")


class FanOutNotifier:
    """Sends to every notifier; one failing target is logged and does not silence the others."""

    def __init__(self, notifiers: Sequence[Notifier]):
        self.notifiers = list(notifiers)

    def notify(self, alert: Alert) -> None:
        errors = []
        for notifier in self.notifiers:
            try:
                notifier.notify(alert)
            except NotifierError as exc:
                log.error("alert delivery failed: %s", exc)
                errors.append(exc)
        if errors:
            raise errors[0]


def notifier_from_settings(settings: Settings, logger: logging.Logger | None = None) -> FanOutNotifier:
    """The log notifier, plus the webhook when ``CSP_ALERT_WEBHOOK_URL`` is set."""
    targets: list[Notifier] = [LogNotifier(logger)]
    if settings.alert_webhook_url is not None:
        targets.append(WebhookNotifier(settings.alert_webhook_url.get_secret_value()))
    return FanOutNotifier(targets)
