"""Budget alerts: Slack, email and webhook channels fed by the policy engine's threshold crossings.

`build_alerts(settings, runtime)` returns the runtime's `AlertManager` (None without channels).
The engine calls `runtime.alerts.budget_threshold(crossing)` once per threshold, scope and
period across all processes; the manager delivers in the background. See docs/alerts.md.
"""

from __future__ import annotations

from .config import AlertsConfig, AnyChannel, EmailChannelConfig, SlackChannelConfig, WebhookChannelConfig
from .manager import AlertManager, DeliveryStats, build_alerts
from .message import BudgetAlert, subject, text_body, webhook_payload

__all__ = [
    "AlertManager", "AlertsConfig", "AnyChannel", "BudgetAlert", "DeliveryStats", "EmailChannelConfig",
    "SlackChannelConfig", "WebhookChannelConfig", "build_alerts", "subject", "text_body", "webhook_payload",
]  # fmt: skip
