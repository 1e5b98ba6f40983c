"""The HTTP client behind the operational commands: errors become one line and an exit code."""

from __future__ import annotations

from typing import Any, NoReturn

import httpx
import typer
from rich.console import Console

from fireline.config import get_settings

err = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


class Api:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 30.0) -> None:
        settings = get_settings()
        self.url = (url or settings.url).rstrip("/")
        token = token or settings.token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = self.http.request(method, path, **kwargs)
        except httpx.ConnectError:
            fail(f"cannot reach Fireline at {self.url} (is `fireline serve` running? set FIRELINE_URL)")
        except httpx.TimeoutException:
            fail(f"Fireline at {self.url} did not answer in time")
        if resp.status_code == 401:
            fail("not authenticated: set FIRELINE_TOKEN to an API key")
        if resp.status_code >= 400:
            try:
                detail = resp.json().get("detail", resp.text)
            except ValueError:
                detail = resp.text
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
