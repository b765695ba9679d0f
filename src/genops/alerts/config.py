"""The `alerts:` section of `genops.yaml`: where budget alerts go.

    alerts:
      channels:
        - name: cost-alerts
          type: slack
          webhook_url: "${SLACK_WEBHOOK_URL}"
        - name: finance
          type: email
          host: smtp.techcorp.com
          port: 587
          starttls: true
          username: "${SMTP_USER}"
          password: "${SMTP_PASSWORD}"
          from: genops@techcorp.com
          to: [finance@techcorp.com, team-a-leads@techcorp.com]
          teams: [support]            # only alerts for these teams (empty: all)
        - name: pager
          type: webhook
          url: https://hooks.techcorp.com/genops
          headers: {Authorization: "Bearer ${HOOK_TOKEN}"}
          policies: [team_c_budget]   # only alerts of these policies (empty: all)

Every model is strict: an unknown key or channel type is a configuration error.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


class _Channel(_Strict):
    """Fields every channel has: a name (used in logs) and optional filters."""

    name: str = Field(min_length=1)
    policies: list[str] = Field(default_factory=list)  # only these policies' alerts (empty: all)
    teams: list[str] = Field(default_factory=list)  # only alerts whose scope names one of these teams
    timeout_seconds: float = Field(default=10.0, gt=0)

    _listify = field_validator("policies", "teams", mode="before")(lambda cls, v: _as_list(v))


class SlackChannelConfig(_Channel):
    """A Slack incoming webhook (sent with slack-sdk's `WebhookClient`)."""

    type: Literal["slack"]
    webhook_url: str = Field(min_length=1, repr=False)  # the URL holds a secret token


class EmailChannelConfig(_Channel):
    """Plain-text email over SMTP (smtplib). `ssl`: implicit TLS (port 465); `starttls`: upgrade."""

    type: Literal["email"]
    host: str = Field(min_length=1)
    port: int | None = Field(default=None, gt=0, lt=65536)  # default: 465 with ssl, 587 with starttls, else 25
    sender: str = Field(alias="from", min_length=3)
    to: list[str] = Field(min_length=1)
    username: str | None = None
    password: str | None = Field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False

    _listify_to = field_validator("to", mode="before")(lambda cls, v: _as_list(v))

    @model_validator(mode="after")
    def _consistent(self) -> EmailChannelConfig:
        if self.starttls and self.ssl:
            raise ValueError("use either ssl (implicit TLS, usually port 465) or starttls (usually port 587), not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("set both username and password (e.g. \"${SMTP_PASSWORD}\"), or neither")
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 465 if self.ssl else 587 if self.starttls else 25


class WebhookChannelConfig(_Channel):
    """A JSON POST of the alert (the documented `genops.budget.threshold` object) to `url`."""

    type: Literal["webhook"]
    url: str = Field(min_length=1, repr=False)
    headers: dict[str, str] = Field(default_factory=dict, repr=False)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.lower().startswith(("http://", "https://")):
            raise ValueError("the webhook url must start with http:// or https://")
        return value


AnyChannel = Annotated[SlackChannelConfig | EmailChannelConfig | WebhookChannelConfig, Field(discriminator="type")]


class AlertsConfig(_Strict):
    """Alert channels and delivery settings. No channels: alerts are only logged."""

    channels: list[AnyChannel] = Field(default_factory=list)
    retry_attempts: int = Field(default=3, ge=1, le=10)  # tries per channel and alert
    retry_backoff_seconds: float = Field(default=1.0, ge=0, le=60)  # doubled after each failed try
    top_drivers: int = Field(default=5, ge=0, le=50)  # models and customers listed in a message
    # How long the alert waits for the ledger to hold the period's spend (events are written by
    # the background processor, usually within milliseconds) before reading the top drivers.
    ledger_wait_seconds: float = Field(default=2.0, ge=0, le=60)

    @field_validator("channels")
    @classmethod
    def _unique_names(cls, channels: list[AnyChannel]) -> list[AnyChannel]:
        seen: set[str] = set()
        for channel in channels:
            if channel.name in seen:
                raise ValueError(f"two channels are named {channel.name!r}; channel names must be unique")
            seen.add(channel.name)
        return channels
