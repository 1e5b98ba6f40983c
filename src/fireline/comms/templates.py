"""Message templates (Jinja2): built-in ones under comms/templates/, overridable by name from
`comms.templates_dir`. A placeholder with no value renders as "[MISSING: incident.commander]"
and is listed in `missing`, so a notice never goes out with a silent blank.
"""

from __future__ import annotations

import contextvars
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, TemplateNotFound, Undefined, select_autoescape

from fireline.errors import NotFound

BUILTIN = Path(__file__).parent / "templates"
MESSAGES = {"in_product_notice": "in_product_notice.txt.j2", "status_update": "status_update.txt.j2",
            "customer_email": "customer_email.txt.j2", "regulator_notification": "regulator_notification.txt.j2"}
_missing: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("fireline_missing", default=None)


class Node(dict[str, Any]):
    """A context mapping that knows its dotted path, for the missing-field marker."""

    def __init__(self, path: str, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.path = path


class Missing(Undefined):
    """Renders visibly and records the field; chained lookups stay missing instead of raising."""

    __slots__ = ()

    def _field(self) -> str:
        obj = self._undefined_obj
        name = self._undefined_name or "value"
        if isinstance(obj, Node):
            return f"{obj.path}.{name}"
        if isinstance(obj, Missing):
            return f"{obj._field()}.{name}"
        return name

    def __str__(self) -> str:
        field = self._field()
        seen = _missing.get()
        if seen is not None and field not in seen:
            seen.append(field)
        return f"[MISSING: {field}]"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return Missing(obj=self, name=name)

    def __getitem__(self, name: str) -> Any:
        return Missing(obj=self, name=name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self

    __html__ = __str__


def clean(value: Any, path: str = "") -> Any:
    """Drop None, "" and empty collections (so they render as missing); wrap dicts as Nodes."""
    if isinstance(value, dict):
        data = {k: clean(v, f"{path}.{k}" if path else k) for k, v in value.items()}
        return Node(path, {k: v for k, v in data.items() if v is not None and v != "" and v != [] and v != {}})
    if isinstance(value, list | tuple):
        return [clean(v, path) for v in value]
    return value


def environment(templates_dir: str | None) -> Environment:
    loaders: list[Any] = []
    if templates_dir:
        loaders.append(FileSystemLoader(templates_dir))
    loaders.append(FileSystemLoader(str(BUILTIN)))
    env = Environment(loader=ChoiceLoader(loaders), undefined=Missing, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True,
                      autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False,
                                                   default_for_string=False))
    env.filters["when"] = lambda v: str(v)[:16].replace("T", " ") + " UTC" if isinstance(v, str) else v
    return env


_envs: dict[str | None, Environment] = {}


def env_for(templates_dir: str | None) -> Environment:
    env = _envs.get(templates_dir)
    if env is None:
        env = _envs[templates_dir] = environment(templates_dir)
    return env


def render(templates_dir: str | None, name: str, context: dict[str, Any]) -> tuple[str, list[str]]:
    """The rendered text and the fields that were missing."""
    seen: list[str] = []
    token = _missing.set(seen)
    try:
        try:
            template = env_for(templates_dir).get_template(name)
        except TemplateNotFound as exc:
            raise NotFound(f"no template {name!r}") from exc
        text = template.render(**clean(context))
    finally:
        _missing.reset(token)
    return text, seen


def render_message(templates_dir: str | None, template: str, context: dict[str, Any]) -> dict[str, Any]:
    """One of MESSAGES as {"template", "subject", "body", "missing"}; a leading "Subject:" line is split off."""
    name = MESSAGES.get(template)
    if name is None:
        raise NotFound(f"no message template {template!r}; one of {', '.join(MESSAGES)}", allowed=list(MESSAGES))
    text, missing = render(templates_dir, name, context)
    subject = None
    if text.startswith("Subject:"):
        first, _, text = text.partition("\n")
        subject = first.removeprefix("Subject:").strip()
    return {"template": template, "subject": subject, "body": text.strip() + "\n", "missing": missing}
