"""Tables the CLI prints: readable at 80 columns, ids always whole.

Every list command builds its rows with `Col`s. By default it shows the narrow set (the columns
marked `wide=False`), which fits an 80-column terminal; `--wide` shows every column; `--json` prints
the API's answer. An id column never wraps or shortens (it gets its full width first, so it can be
copied into the next command); the other columns give way, cut with an ellipsis.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.table import Column, Table

WIDE = typer.Option(False, "--wide", help="every column (wider than 80)")
JSON = typer.Option(False, "--json", help="the API's answer as JSON")


@dataclass(frozen=True)
class Col:
    header: str
    get: Callable[[dict[str, Any]], Any]
    id: bool = False  # never cut: copied into other commands
    wide: bool = False  # only with --wide
    max_width: int | None = None  # free text, cut first (with an ellipsis)
    grow: bool = False  # free text that takes the room left (titles, messages)
    wrap: bool = False  # free text shown whole on several lines (timeline sentences)


def console(wide: bool = False) -> Console:
    """The terminal's console; with --wide at least 160 columns, so nothing is cut."""
    width = Console().width
    return Console(width=max(width, 160)) if wide else Console()


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(text(v) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k}={text(v)}" for k, v in value.items())
    return str(value).replace("\n", " ")


def when(value: str | None, *, seconds: bool = False) -> str:
    """An ISO time as `MM-DD HH:MM` (UTC as sent), short enough for a narrow column."""
    if not value:
        return ""
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value[:16]
    return at.strftime("%m-%d %H:%M:%S" if seconds else "%m-%d %H:%M")


def table(rows: Iterable[dict[str, Any]], cols: list[Col], *, wide: bool = False, title: str | None = None) -> Table:
    shown = [c for c in cols if wide or not c.wide]
    rows = list(rows)
    cells = [[text(c.get(r)) for c in shown] for r in rows]
    columns = []
    for i, c in enumerate(shown):
        longest = max([len(row[i]) for row in cells] + [len(c.header)])
        if c.id:
            columns.append(Column(c.header, no_wrap=True, min_width=longest, overflow="fold"))
        elif c.wrap:
            columns.append(Column(c.header, overflow="fold", ratio=1, min_width=20))
        elif c.grow or c.max_width:  # free text: gives way first
            columns.append(Column(c.header, no_wrap=True, overflow="ellipsis", max_width=c.max_width,
                                  ratio=1 if c.grow else None, min_width=min(longest, 8 if c.grow else 5)))
        else:  # short values (times, states, counts): whole
            columns.append(Column(c.header, no_wrap=True, min_width=longest))
    out = Table(*columns, box=box.SIMPLE_HEAD, pad_edge=False, title=title, title_justify="left",
                expand=any(c.grow or c.wrap for c in shown))
    for row in cells:
        out.add_row(*row)
    return out


def show(rows: Iterable[dict[str, Any]], cols: list[Col], *, wide: bool = False, title: str | None = None,
         empty: str = "nothing to show") -> None:
    rows = list(rows)
    out = console(wide)
    if not rows:
        out.print(empty)
        return
    out.print(table(rows, cols, wide=wide, title=title))


def print_json(data: Any) -> None:
    Console().print_json(json.dumps(data, default=str))
