"""Alert channels: Slack incoming webhook (slack-sdk), email (smtplib), generic JSON webhook.

`channel.send(alert)` delivers once and raises `DeliveryError` (or the transport's own error)
on failure; retries, backoff and logging are the `AlertManager`'s. Error texts never contain a
webhook URL or a password (both are secrets).
"""

from __future__ import annotations

import json
import logging
import math
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from ..errors import GenOpsError
from .config import AnyChannel, EmailChannelConfig, SlackChannelConfig, WebhookChannelConfig
from .message import BudgetAlert, slack_blocks, subject, text_body, webhook_payload

logger = logging.getLogger("genops.alerts")
# slack-sdk's own log lines repeat what the manager logs, and at DEBUG they carry the webhook URL
# (a secret): keep them quiet.
_slack_sdk_log = logging.getLogger("genops.alerts.slack_sdk")
_slack_sdk_log.setLevel(logging.CRITICAL)


class DeliveryError(GenOpsError):
    """A channel could not deliver an alert (the manager retries it)."""


class Channel:
    """A configured destination. Subclasses implement `send`."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.name: str = config.name
        self.type: str = config.type

    def accepts(self, alert: BudgetAlert) -> bool:
        """The channel's filters: `policies` (names) and `teams` (the crossing's team)."""
        c = alert.crossing
        if self.config.policies and c.policy not in self.config.policies:
            return False
        return not (self.config.teams and c.team not in self.config.teams)

    def send(self, alert: BudgetAlert) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class SlackChannel(Channel):
    """Posts Block Kit blocks plus a text fallback to a Slack incoming webhook."""

    config: SlackChannelConfig

    def send(self, alert: BudgetAlert) -> None:
        from slack_sdk.webhook import WebhookClient

        client = WebhookClient(
            self.config.webhook_url,
            timeout=max(1, math.ceil(self.config.timeout_seconds)),
            retry_handlers=[],  # the manager retries (bounded, with backoff)
            logger=_slack_sdk_log,
        )
        try:
            response = client.send(text=subject(alert), blocks=slack_blocks(alert))
        except OSError as exc:  # URLError, connection refused, timeouts
            raise DeliveryError(f"Slack webhook unreachable: {_reason(exc)}") from None
        if response.status_code != 200:
            raise DeliveryError(f"Slack webhook answered HTTP {response.status_code}: {str(response.body)[:200]}")


class EmailChannel(Channel):
    """Sends a plain-text email over SMTP (implicit TLS, STARTTLS or plain; optional login)."""

    config: EmailChannelConfig

    def build(self, alert: BudgetAlert) -> EmailMessage:
        """The email for `alert` (exposed for tests and previews)."""
        c = self.config
        msg = EmailMessage()
        msg["Subject"] = subject(alert)
        msg["From"] = c.sender
        msg["To"] = ", ".join(c.to)
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = make_msgid(domain="genops.local")
        msg["X-GenOps-Policy"] = alert.crossing.policy
        msg.set_content(text_body(alert))
        return msg

    def send(self, alert: BudgetAlert) -> None:
        c = self.config
        msg = self.build(alert)
        try:
            if c.ssl:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(c.host, c.effective_port, timeout=c.timeout_seconds,
                                                      context=ssl.create_default_context())  # fmt: skip
            else:
                smtp = smtplib.SMTP(c.host, c.effective_port, timeout=c.timeout_seconds)
            with smtp:
                if c.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if c.username is not None and c.password is not None:
                    smtp.login(c.username, c.password)
                smtp.send_message(msg)
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"SMTP server {c.host}:{c.effective_port} refused the alert: {_smtp_reason(exc)}") from None
        except OSError as exc:
            raise DeliveryError(f"SMTP server {c.host}:{c.effective_port} unreachable: {_reason(exc)}") from None


class WebhookChannel(Channel):
    """POSTs the documented JSON object (`message.webhook_payload`) to a URL."""

    config: WebhookChannelConfig

    def send(self, alert: BudgetAlert) -> None:
        body = json.dumps(webhook_payload(alert), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "genops-alerts",
                   **self.config.headers}  # fmt: skip
        request = urllib.request.Request(self.config.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_seconds) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"webhook answered HTTP {exc.code}") from None
        except OSError as exc:
            raise DeliveryError(f"webhook unreachable: {_reason(exc)}") from None


CHANNEL_TYPES: dict[str, type[Channel]] = {"slack": SlackChannel, "email": EmailChannel, "webhook": WebhookChannel}


def build_channel(config: AnyChannel) -> Channel:
    """The channel for one `alerts.channels` item."""
    return CHANNEL_TYPES[config.type](config)


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)  # URLError wraps the socket error
    inner = reason if isinstance(reason, BaseException) else exc
    return f"{type(inner).__name__}: {inner}" if str(inner) else type(inner).__name__


def _smtp_reason(exc: smtplib.SMTPException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "recipients refused: " + ", ".join(f"{rcpt} ({code})" for rcpt, (code, _) in exc.recipients.items())
    code, text = getattr(exc, "smtp_code", None), getattr(exc, "smtp_error", b"")
    if code is not None:
        detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return f"{type(exc).__name__} {code} {detail}"
    return f"{type(exc).__name__}: {exc}"
