"""Channel payloads and senders: generic webhook (HMAC-signed JSON), Slack-compatible incoming
webhook, PagerDuty Events API v2, and e-mail over SMTP.

A message is channel-neutral (`Message`); each channel turns it into its own body. Senders
raise `DeliveryError(permanent=...)`: a 4xx other than 408/429 is permanent (retrying the
same body cannot succeed), network errors and 5xx are retried by the worker.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import smtplib
import ssl
import time
from email.message import EmailMessage
from typing import Any

import httpx
import orjson

from fireline.comms.config import Channel

PD_SEVERITY = {"P0": "critical", "P1": "error", "P2": "warning", "P3": "info"}
USER_AGENT = "fireline-comms/1"


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status


def signature(secret: str, body: bytes, timestamp: str) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>": the timestamp is signed too, so a receiver that
    rejects stale timestamps cannot be fed a captured request again."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def webhook_body(message: dict[str, Any], delivery_id: str) -> dict[str, Any]:
    return {"delivery_id": delivery_id, "event": message["event"], "subject": message["subject"],
            "text": message["text"], "incident": message["incident"], "sent_at": message.get("at")}


def _head(inc: dict[str, Any]) -> str:
    head = inc.get("timeline_head")
    return f" · timeline head {head}" if head else ""


def slack_body(message: dict[str, Any]) -> dict[str, Any]:
    inc = message["incident"]
    facts = [f"*Severity:* {inc['severity']}", f"*Type:* {inc['type']}", f"*State:* {inc['state']}"]
    if inc.get("apps"):
        facts.append(f"*Apps:* {', '.join(inc['apps'])}")
    if inc.get("commander"):
        facts.append(f"*Commander:* {inc['commander']}")
    return {
        "text": f"{message['subject']}\n{message['text']}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": message["subject"][:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": message["text"][:2900]}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in facts]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{inc['id']} · {message['event']}"
                                                                       + _head(inc)}]},
        ],
    }


def pagerduty_body(message: dict[str, Any], routing_key: str) -> dict[str, Any] | None:
    """Events API v2: trigger on open, acknowledge on ack, resolve on resolve; None otherwise."""
    action = message.get("pd_action")
    if action is None:
        return None
    inc = message["incident"]
    body: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": inc["id"]}
    if action == "trigger":
        body["payload"] = {"summary": message["subject"][:1024], "source": "fireline",
                           "severity": PD_SEVERITY.get(inc["severity"], "error"),
                           "component": ", ".join(inc.get("apps") or []) or None, "class": inc["type"],
                           "custom_details": {"incident_id": inc["id"], "title": inc["title"],
                                              "state": inc["state"], "text": message["text"],
                                              "timeline_head": inc.get("timeline_head")}}
        body["client"] = "Fireline"
    return body


def email_message(message: dict[str, Any], channel: Channel) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message["subject"]
    mail["From"] = channel.sender or ""
    recipients = list(dict.fromkeys([*channel.to, *message.get("to_extra", [])]))
    mail["To"] = ", ".join(recipients)
    mail["X-Fireline-Incident"] = message["incident"]["id"]
    mail.set_content(message["text"] + f"\n\n-- \nFireline · {message['incident']['id']} · {message['event']}"
                     f"{_head(message['incident'])}\n")
    return mail


async def _post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> int:
    try:
        resp = await client.post(url, content=body, headers={"Content-Type": "application/json",
                                                             "User-Agent": USER_AGENT, **headers})
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"timeout posting to {url}") from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__} posting to {url}: {exc}") from exc
    if resp.status_code >= 400:
        permanent = resp.status_code < 500 and resp.status_code not in (408, 429)
        raise DeliveryError(f"HTTP {resp.status_code} from {url}: {resp.text[:200]}", permanent=permanent,
                            status=resp.status_code)
    return resp.status_code


def _send_mail(channel: Channel, mail: EmailMessage, timeout: float) -> None:
    host, port = channel.host or "localhost", channel.port
    smtp: smtplib.SMTP = (smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
                          if channel.ssl else smtplib.SMTP(host, port, timeout=timeout))
    with smtp:
        if channel.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if channel.username:
            smtp.login(channel.username, channel.password or "")
        smtp.send_message(mail)


async def send(channel: Channel, message: dict[str, Any], delivery_id: str, client: httpx.AsyncClient,
               timeout: float) -> str:
    """Deliver one message; returns a short outcome ("HTTP 200", "skipped: ...") or raises DeliveryError."""
    if channel.type == "webhook":
        raw = orjson.dumps(webhook_body(message, delivery_id))
        headers = {"X-Fireline-Event": message["event"], "X-Fireline-Delivery": delivery_id, **channel.headers}
        if channel.secret:
            stamp = str(int(time.time()))
            headers["X-Fireline-Timestamp"] = stamp
            headers["X-Fireline-Signature"] = signature(channel.secret, raw, stamp)
        return f"HTTP {await _post(client, channel.url or '', raw, headers)}"
    if channel.type == "slack":
        return f"HTTP {await _post(client, channel.url or '', orjson.dumps(slack_body(message)), channel.headers)}"
    if channel.type == "pagerduty":
        body = pagerduty_body(message, channel.routing_key or "")
        if body is None:
            return "skipped: no PagerDuty action for this event"
        return f"HTTP {await _post(client, channel.url or '', orjson.dumps(body), channel.headers)}"
    mail = email_message(message, channel)
    try:
        await asyncio.to_thread(_send_mail, channel, mail, timeout)
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", permanent=500 <= exc.smtp_code < 600,
                            status=exc.smtp_code) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP {type(exc).__name__}: {exc}") from exc
    return f"SMTP accepted for {mail['To']}"
