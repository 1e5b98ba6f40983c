"""The `notifications` and `comms` config sections, validated once at startup.

    notifications:
      channels:
        ops:   {type: webhook, url: https://hooks.example.com/fireline, secret: s3cret}
        chat:  {type: slack, url: https://hooks.slack.com/services/...}
        pager: {type: pagerduty, routing_key: R0UT1NG, url: https://events.pagerduty.com/v2/enqueue,
                drill_routing_key: DR1LLKEY}       # drills page this service instead, tagged [DRILL]
        drills: {type: slack, url: https://hooks.slack.com/services/..., drill: true}  # drills only reach these
        mail:  {type: email, host: smtp.example.com, port: 587, starttls: true, from: fireline@example.com,
                to: [oncall@example.com], username: ..., password: ...}
      routes:                      # every matching route adds its channels; no routes: every channel
        - match: {severity: [P0, P1], type: [data_leakage]}
          channels: [pager, chat]
        - channels: [ops]
      contacts: {alice: alice@example.com}   # who (as on the incident) -> e-mail, for reminders
      retry: {attempts: 6, base_delay_s: 2, max_delay_s: 300}
      timeout_s: 10
      poll_interval_s: 1
    comms:
      templates_dir: ./comms-templates       # overrides the built-in *.j2 by name
      console_url: https://fireline.example.com   # notifications link to <console_url>/#/incidents/<id>
      organisation: Example Ltd
      dpo_contact: "Data Protection Officer, dpo@example.com"
      cadence: {P0: 30m, P1: 30m}            # remind the comms lead when no update for this long
      check_interval_s: 30                   # reminders, disclosure clocks
      obligation_reminders: [24h, 6h]        # before each disclosure deadline
      art34_target: 72h                      # internal target for "without undue delay"
      status_page: {title: Service status, history_days: 7}
      postmortem_due_business_days: 5
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fireline.config import Config
from fireline.config_keys import ConfigError, describe
from fireline.durations import parse_duration as duration
from fireline.signals import SEVERITIES

CHANNEL_TYPES = ("webhook", "slack", "pagerduty", "email")
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Channel(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["webhook", "slack", "pagerduty", "email"]
    url: str | None = None
    secret: str | None = None  # webhook: HMAC-SHA256 key of X-Fireline-Signature
    headers: dict[str, str] = Field(default_factory=dict)
    routing_key: str | None = None  # pagerduty
    host: str | None = None  # email
    port: int = 25
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: str | None = None
    sender: str | None = Field(None, alias="from")
    to: list[str] = Field(default_factory=list)
    # Fire drills reach only channels marked for them (their messages tagged [DRILL]); a PagerDuty
    # channel may instead name a drill routing key (a service of its own for drills).
    drill: bool = False
    drill_routing_key: str | None = None

    def takes_drills(self) -> bool:
        return self.drill or bool(self.type == "pagerduty" and self.drill_routing_key)

    @model_validator(mode="after")
    def _complete(self) -> Channel:
        if self.type in ("webhook", "slack") and not self.url:
            raise ValueError(f"a {self.type} channel needs `url`")
        if self.type == "pagerduty":
            if not self.routing_key:
                raise ValueError("a pagerduty channel needs `routing_key`")
            self.url = self.url or PAGERDUTY_URL
        if self.type == "email" and (not self.host or not self.sender or not self.to):
            raise ValueError("an email channel needs `host`, `from` and `to`")
        return self


class Match(Strict):
    severity: list[str] = Field(default_factory=list)
    type: list[str] = Field(default_factory=list)
    events: list[str] = Field(default_factory=list)  # opened, changed, sla_breached, update, reminder, ...

    @field_validator("severity")
    @classmethod
    def _sev(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in SEVERITIES]
        if bad:
            raise ValueError(f"unknown severity {bad[0]!r}; one of {', '.join(SEVERITIES)}")
        return value

    def accepts(self, severity: str, type_name: str, event: str) -> bool:
        return ((not self.severity or severity in self.severity) and (not self.type or type_name in self.type)
                and (not self.events or event in self.events))


class Route(Strict):
    match: Match = Field(default_factory=Match)
    channels: list[str]


class Retry(Strict):
    attempts: int = Field(6, ge=1, le=50)
    base_delay_s: float = Field(2.0, gt=0)
    max_delay_s: float = Field(300.0, gt=0)

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based): exponential, capped."""
        return float(min(self.base_delay_s * (2 ** (attempt - 1)), self.max_delay_s))


class Notifications(Strict):
    channels: dict[str, Channel] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    contacts: dict[str, str] = Field(default_factory=dict)
    retry: Retry = Field(default_factory=Retry)
    timeout_s: float = Field(10.0, gt=0)
    poll_interval_s: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _known(self) -> Notifications:
        for i, route in enumerate(self.routes):
            for name in route.channels:
                if name not in self.channels:
                    raise ValueError(f"routes[{i}] names channel {name!r}, which is not under `channels`")
        return self

    def channels_for(self, severity: str, type_name: str, event: str, drill: bool = False) -> list[str]:
        """The channels the routes pick; for a drill only those marked for drills."""
        if not self.routes:
            names = list(self.channels)
        else:
            names = []
            for route in self.routes:
                if route.match.accepts(severity, type_name, event):
                    names.extend(n for n in route.channels if n not in names)
        if drill:
            names = [n for n in names if self.channels[n].takes_drills()]
        return names


class StatusPage(Strict):
    title: str = "Service status"
    history_days: float = Field(7.0, gt=0)


class Comms(Strict):
    templates_dir: str | None = None
    # Where people open the console: every notification links to the incident's page there
    # (default: FIRELINE_URL, the address the CLI uses).
    console_url: str | None = Field(None, pattern=r"^https?://")
    organisation: str | None = None
    dpo_contact: str | None = None
    cadence: dict[str, timedelta] = Field(default_factory=lambda: {"P0": timedelta(minutes=30),
                                                                    "P1": timedelta(minutes=30)})
    check_interval_s: float = Field(30.0, gt=0)
    obligation_reminders: list[timedelta] = Field(default_factory=lambda: [timedelta(hours=24),
                                                                           timedelta(hours=6)])
    art34_target: timedelta = timedelta(hours=72)
    status_page: StatusPage = Field(default_factory=StatusPage)
    postmortem_due_business_days: int = Field(5, ge=1, le=60)
    likely_consequences: dict[str, str] = Field(default_factory=dict)  # by incident type, for Art. 33

    @field_validator("cadence", mode="before")
    @classmethod
    def _cadence(cls, value: Any) -> dict[str, timedelta]:
        out: dict[str, timedelta] = {}
        for sev, d in (value or {}).items():
            if sev not in SEVERITIES:
                raise ValueError(f"unknown severity {sev!r}; one of {', '.join(SEVERITIES)}")
            out[sev] = duration(d)
        return out

    @field_validator("obligation_reminders", mode="before")
    @classmethod
    def _reminders(cls, value: Any) -> list[timedelta]:
        return sorted((duration(v) for v in (value or [])), reverse=True)

    @field_validator("art34_target", mode="before")
    @classmethod
    def _target(cls, value: Any) -> timedelta:
        return duration(value)


class CommsConfig(BaseModel):
    notifications: Notifications
    comms: Comms


def load(config: Config) -> CommsConfig:
    """Both sections, or ConfigError naming the field (a bad section stops the server at start)."""
    try:
        notifications = Notifications.model_validate(config.section("notifications") or {})
    except ValidationError as exc:
        raise ConfigError(f"FIRELINE_CONFIG: {describe(exc, 'notifications', Notifications)}") from exc
    try:
        comms = Comms.model_validate(config.section("comms") or {})
    except ValidationError as exc:
        raise ConfigError(f"FIRELINE_CONFIG: {describe(exc, 'comms', Comms)}") from exc
    return CommsConfig(notifications=notifications, comms=comms)
