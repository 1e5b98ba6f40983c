"""The HTTP client behind the operational commands: errors become one line and an exit code."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import httpx
import typer
from rich.console import Console

from fireline.config import get_settings
from fireline.durations import parse_duration

err = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)  # one line, even when piped
    raise typer.Exit(code)


def write_file(path: Path, data: str | bytes, option: str = "--out") -> None:
    """Write what a command made to the file its option names; a path that cannot be written is
    one line naming the option, not a traceback."""
    try:
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    except OSError as exc:
        fail(f"{option} {path}: cannot write: {exc.strerror or exc}")


WHEN_HELP = "an ISO time, or how long ago: 30m, 6h, 7d"


def time_param(value: str | None, option: str) -> str | None:
    """A time option as the API takes it: a duration ("6h") means that long ago, else the ISO time."""
    if value is None or not re.fullmatch(r"\s*\d+\s*[smhd]\s*", value):
        return value
    try:
        return (datetime.now(UTC) - parse_duration(value)).isoformat()
    except ValueError as exc:
        fail(f"{option}: {exc}", 2)


def seg(value: str) -> str:
    """One path segment from a user-given value (call ids and user ids may hold `/`, `?`, `#`)."""
    return quote(value, safe="")


class Api:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 30.0) -> None:
        settings = get_settings()
        self.url = (url or settings.url).rstrip("/")
        token = token or settings.token
        self.has_token = bool(token)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        except httpx.InvalidURL as exc:
            fail(f"FIRELINE_URL={self.url}: {exc}")

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self.http.request(method, path, **kwargs)
        except httpx.ConnectError:
            fail(f"cannot reach Fireline at {self.url} (is `fireline serve` running? set FIRELINE_URL)")
        except httpx.TimeoutException:
            fail(f"Fireline at {self.url} did not answer in time")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # a malformed FIRELINE_URL, a dropped connection
            fail(f"FIRELINE_URL={self.url}: {exc}")
        if resp.status_code >= 400:
            detail = _detail(resp)
            if resp.status_code == 401:
                if self.has_token:
                    fail(f"FIRELINE_TOKEN was refused: {detail or 'not a key of this server'}")
                fail("not authenticated: set FIRELINE_TOKEN to an API key")
            if detail is None:  # not an answer of Fireline's API: say where it came from
                fail(f"{resp.status_code} {resp.reason_phrase} from {resp.request.url} "
                     "(is FIRELINE_URL a Fireline server?)")
            fail(f"{resp.status_code}: {detail}")
        if not resp.content:
            return None
        ctype = resp.headers.get("content-type", "")
        return resp.json() if "json" in ctype else resp.content

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


def _detail(resp: httpx.Response) -> str | None:
    """The API's `detail` for a failed request, None when the body is not one of Fireline's errors."""
    try:
        body = resp.json()
    except ValueError:
        return None
    detail = body.get("detail") if isinstance(body, dict) else None
    if detail is None or detail == "Not Found":  # Starlette's answer for a path no route serves
        return None
    return detail if isinstance(detail, str) else str(detail)
