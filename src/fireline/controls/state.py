"""The enforcement interface: an immutable control state and what applies to one request.

`ControlState.for_request` is on the gateway's hot path: candidate controls are indexed by
app at construction and answers are memoised per request attributes until the next expiry,
so a lookup costs a dict hit. `ControlBook` holds the current state of one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fireline.config import DEFAULT_FALLBACK, AppConfig, Config
from fireline.controls.users import UserRef
from fireline.counters import LocalCounter, WindowCounter
from fireline.patterns import InvalidPattern, Pattern, compile_linear

if TYPE_CHECKING:
    from fireline.db import Database

KINDS = ("kill_switch", "model_pin", "prompt_pin", "disable_tool", "read_only", "rate_limit",
         "guardrail_threshold", "block_pattern", "inject", "budget")
SCOPE_KEYS = ("global", "app", "model", "tool", "tenant", "user", "cohort", "session", "key")
# Scope keys that filter requests; "tool" names the target of disable_tool, "global" matches all.
# "session" is X-Fireline-Session, "key" the id of the API key that made the request.
MATCH_KEYS = ("model", "tenant", "user", "cohort", "session", "key")
NARROW_KEYS = ("session", "key")  # high-cardinality: looked at only when some control uses them
_MEMO_LIMIT = 50_000
log = logging.getLogger("fireline.controls")
_EVERYTHING = compile_linear("(?s).", "params.pattern")


def _parse_dt(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Control:
    id: str
    kind: str
    scope: dict[str, str]
    params: dict[str, Any]
    incident_id: str | None
    actor: str
    reason: str | None
    created_at: datetime
    expires_at: datetime | None
    revision: int

    def __hash__(self) -> int:  # ids are unique; the dict fields would make it unhashable
        return hash((self.id, self.revision))

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def matches(self, *, app: str | None, user: str | None, tenant: str | None, model: str | None,
                cohort: str | None, session: str | None = None, key: str | None = None,
                who: UserRef | None = None) -> bool:
        """True when every request-filtering key of the scope equals the request's value (the
        user through its pseudonym or match digest, `who`)."""
        scope = self.scope
        if "app" in scope and scope["app"] != app:
            return False
        values = {"model": model, "tenant": tenant, "cohort": cohort, "session": session, "key": key}
        if "user" in scope and not (who or UserRef(user)).matches(scope):
            return False
        return all(scope[k] == values[k] for k in MATCH_KEYS if k in scope and k != "user")

    @property
    def specificity(self) -> int:
        return sum(1 for k in ("app", *MATCH_KEYS) if k in self.scope)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "scope": dict(self.scope), "params": dict(self.params),
                "incident_id": self.incident_id, "actor": self.actor, "reason": self.reason,
                "created_at": self.created_at.isoformat(),
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                "revision": self.revision}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Control:
        created = _parse_dt(data["created_at"])
        assert created is not None
        return cls(id=str(data["id"]), kind=str(data["kind"]), scope=dict(data.get("scope") or {}),
                   params=dict(data.get("params") or {}), incident_id=data.get("incident_id"),
                   actor=str(data.get("actor") or ""), reason=data.get("reason"), created_at=created,
                   expires_at=_parse_dt(data.get("expires_at")), revision=int(data.get("revision") or 0))


@dataclass(frozen=True, slots=True)
class Enforcement:
    """What applies to one request. Empty (all None / empty) means: behave normally."""

    kill: Control | None = None
    fallback_message: str | None = None
    model: tuple[Control, str] | None = None
    prompt: tuple[Control, str, str] | None = None
    disabled_tools: dict[str, Control] = field(default_factory=dict)
    read_only: Control | None = None
    rate_limits: tuple[Control, ...] = ()
    guardrails: tuple[Control, ...] = ()
    block_patterns: tuple[tuple[Control, Pattern, str], ...] = ()
    inject: Control | None = None
    budgets: tuple[Control, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.kill or self.model or self.prompt or self.disabled_tools or self.read_only
                    or self.rate_limits or self.guardrails or self.block_patterns or self.inject or self.budgets)

    def tool_allowed(self, name: str) -> bool:
        return name not in self.disabled_tools


def prompt_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _pick(controls: list[Control]) -> Control | None:
    """The most specific control, the newest among equals."""
    if not controls:
        return None
    return max(controls, key=lambda c: (c.specificity, c.revision))


class ControlState:
    """An immutable snapshot of the active controls at one revision."""

    __slots__ = ("revision", "controls", "apps", "user_salt", "pseudonymize", "_by_app", "_global", "_patterns",
                 "_memo", "_memo_until", "_memo_lock", "_narrow")

    def __init__(self, revision: int, controls: tuple[Control, ...] | list[Control],
                 apps: Mapping[str, AppConfig] | None = None, *, user_salt: str | None = None,
                 pseudonymize: Callable[[str], str] | None = None) -> None:
        self.revision = revision
        # user_salt is published with the state (SDKs match scope.user_match with it); pseudonymize
        # (the server's keyed pseudonym) is not: it matches scopes made from a pseudonym.
        self.user_salt = user_salt
        self.pseudonymize = pseudonymize
        self.controls = tuple(sorted(controls, key=lambda c: c.revision))
        self.apps: dict[str, AppConfig] = dict(apps or {})
        by_app: dict[str, list[Control]] = {}
        global_: list[Control] = []
        patterns: dict[str, Pattern] = {}
        for c in self.controls:
            if c.kind == "block_pattern":
                try:
                    patterns[c.id] = compile_linear(c.params.get("pattern"), "params.pattern")
                except InvalidPattern:
                    # Stored before patterns were checked with RE2: never run it with a backtracking
                    # engine. Match everything in its scope instead: a block that over-blocks is
                    # visible, one that silently stops blocking is not.
                    log.error("block_pattern %s: its pattern is not RE2; it now blocks every request in "
                              "its scope until replaced", c.id)
                    patterns[c.id] = _EVERYTHING
            if "app" in c.scope:
                by_app.setdefault(c.scope["app"], []).append(c)
            else:
                global_.append(c)
        self._by_app = {k: tuple(v) for k, v in by_app.items()}
        self._global = tuple(global_)
        self._patterns = patterns
        self._memo: dict[tuple[Any, ...], Enforcement] = {}
        expiries = [c.expires_at for c in self.controls if c.expires_at is not None]
        self._memo_until = min(expiries) if expiries else None
        self._memo_lock = threading.Lock()
        self._narrow = any(k in c.scope for c in self.controls for k in NARROW_KEYS) or any(
            c.kind in ("rate_limit", "budget") and c.params.get("key") in NARROW_KEYS for c in self.controls)

    @classmethod
    def empty(cls, apps: Mapping[str, AppConfig] | None = None) -> ControlState:
        return cls(0, (), apps)

    def app_config(self, app: str) -> AppConfig:
        return self.apps.get(app) or AppConfig()

    def for_request(self, *, app: str, user: str | None = None, tenant: str | None = None,
                    model: str | None = None, cohort: str | None = None, session: str | None = None,
                    key: str | None = None, now: datetime | None = None) -> Enforcement:
        if not self._narrow:  # no control looks at sessions or keys: keep the memo small
            session = key = None
        memo_key = (app, user, tenant, model, cohort, session, key)
        until = self._memo_until
        if now is None and until is not None:
            now = datetime.now(UTC)
        fresh = until is None or (now is not None and now < until)
        if fresh:
            hit = self._memo.get(memo_key)
            if hit is not None:
                return hit
        result = self._compute(app, user, tenant, model, cohort, session, key, now or datetime.now(UTC))
        if fresh:
            with self._memo_lock:
                if len(self._memo) >= _MEMO_LIMIT:
                    self._memo.clear()
                self._memo[memo_key] = result
        return result

    def _compute(self, app: str, user: str | None, tenant: str | None, model: str | None,
                 cohort: str | None, session: str | None, key: str | None, now: datetime) -> Enforcement:
        cfg = self.app_config(app)
        by_kind: dict[str, list[Control]] = {}
        who = UserRef(user, self.user_salt, self.pseudonymize)
        for c in (*self._global, *self._by_app.get(app, ())):
            if c.expired(now) or not c.matches(app=app, user=user, tenant=tenant, model=model,
                                                 cohort=cohort, session=session, key=key, who=who):
                continue
            by_kind.setdefault(c.kind, []).append(c)
        if not by_kind:
            return Enforcement(fallback_message=cfg.fallback)
        kill = _pick(by_kind.get("kill_switch", []))
        fallback = cfg.fallback or DEFAULT_FALLBACK
        if kill is not None and kill.params.get("message"):
            fallback = str(kill.params["message"])
        pin = _pick(by_kind.get("model_pin", []))
        ppin = _pick(by_kind.get("prompt_pin", []))
        prompt = None
        if ppin is not None:
            version = str(ppin.params.get("version"))
            prompt = (ppin, version, cfg.prompts.get(version, ""))
        read_only = _pick(by_kind.get("read_only", []))
        disabled: dict[str, Control] = {}
        if read_only is not None:
            for tool, kind in cfg.tools.items():
                if kind == "write":
                    disabled[tool] = read_only
        for c in by_kind.get("disable_tool", []):
            target = c.scope.get("tool") or c.params.get("tool")
            if target:
                disabled[str(target)] = c
        inject = None
        for c in reversed(by_kind.get("inject", [])):
            wanted = c.params.get("cohort")
            if wanted is None or wanted == cohort:
                inject = c
                break
        return Enforcement(
            kill=kill, fallback_message=fallback,
            model=(pin, str(pin.params.get("model"))) if pin is not None else None,
            prompt=prompt, disabled_tools=disabled, read_only=read_only,
            rate_limits=tuple(by_kind.get("rate_limit", [])),
            guardrails=tuple(by_kind.get("guardrail_threshold", [])),
            block_patterns=tuple((c, self._patterns[c.id], str(c.params.get("on", "output")))
                                 for c in by_kind.get("block_pattern", [])),
            inject=inject, budgets=tuple(by_kind.get("budget", [])))

    def active_at(self, now: datetime | None = None) -> tuple[Control, ...]:
        now = now or datetime.now(UTC)
        return tuple(c for c in self.controls if not c.expired(now))

    def apps_json(self) -> dict[str, Any]:
        return {name: {"fallback": cfg.fallback, "models": list(cfg.models), "tools": dict(cfg.tools),
                       "fail_closed": cfg.fail_closed,
                       "prompts": {v: prompt_hash(text) for v, text in cfg.prompts.items()}}
                for name, cfg in self.apps.items()}

    def to_json(self) -> dict[str, Any]:
        return {"revision": self.revision, "controls": [c.to_json() for c in self.active_at()],
                "apps": self.apps_json(), "user_salt": self.user_salt}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ControlState:
        apps = {name: AppConfig(fallback=a.get("fallback") or DEFAULT_FALLBACK, models=a.get("models") or [],
                                tools=a.get("tools") or {}, fail_closed=bool(a.get("fail_closed")),
                                prompts={v: "" for v in (a.get("prompts") or {})})
                for name, a in (data.get("apps") or {}).items()}
        salt = data.get("user_salt")
        return cls(int(data.get("revision") or 0),
                   [Control.from_json(c) for c in data.get("controls") or []], apps,
                   user_salt=salt if isinstance(salt, str) else None)


RATE_KEYS = ("user", "tenant", "session", "key")  # what a rate_limit or budget control counts per


def rate_key(control: Control, *, user: str | None, tenant: str | None, session: str | None = None,
             key: str | None = None) -> str | None:
    """The counter key of a rate_limit or budget control for a request: per `params.key` (user,
    tenant, session or key: the API key id), else per user unless the control is scoped to a
    tenant without a user. None when the request lacks that attribute."""
    kind = control.params.get("key")
    if kind not in RATE_KEYS:
        kind = "tenant" if "tenant" in control.scope and "user" not in control.scope else "user"
    value = {"user": user, "tenant": tenant, "session": session, "key": key}.get(str(kind))
    if kind == "user" and value is not None:  # counters (Redis keys included) never hold a raw user id
        value = "h" + hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"{kind}:{value}" if value is not None else None


def counter_key(control: Control, **who: str | None) -> str:
    """The rate-limit counter of a request: `rate_key`, or one shared bucket for the requests that
    lack the attribute (anonymous callers share it, they are not let through unlimited)."""
    return rate_key(control, **who) or f"{control.params.get('key') or 'user'}:anonymous"


class RateLimiter:
    """Requests per minute per (control, key), counted in the process's one WindowCounter."""

    WINDOW = 60.0

    def __init__(self, counter: WindowCounter | None = None) -> None:
        self.counter: WindowCounter = counter or LocalCounter()

    def check(self, control: Control, key: str, now: float) -> float | None:
        """None when the request may go; else the seconds to wait (and nothing is counted)."""
        limit = float(control.params.get("per_minute") or 0)
        if limit <= 0:
            return None
        return self.counter.take(f"rate|{control.id}|{key}", 1.0, limit, self.WINDOW, now)

    def forget(self, control_id: str) -> None:
        self.counter.forget(f"rate|{control_id}|")


class ControlBook:
    """The process-local holder of the current ControlState (gateway, API, SSE)."""

    def __init__(self, db: Database, config: Config, counter: WindowCounter | None = None) -> None:
        self.db = db
        self.config = config
        # the process's one counter (rate limits, budgets), shared by replicas when it is Redis or PostgreSQL
        self.counter: WindowCounter = counter or LocalCounter()
        self.limiter = RateLimiter(self.counter)
        self._lock = threading.Lock()
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[ControlState]]] = []
        self._state = ControlState.empty(config.apps)  # refresh() at start loads the stored state
        self._assumed = False  # the state came from the local snapshot, not the database
        self._told = False  # the listeners have seen a state from the database
        # Called (in the refreshing thread) with each new state: the local snapshot (controls.snapshot).
        self.listeners: list[Callable[[ControlState], None]] = []

    def on_changed(self, *, revision: int, **_: Any) -> None:
        """The "controls.changed" handler: a change made in this process is seen at once."""
        if revision != self._state.revision:
            self.refresh()

    def current(self) -> ControlState:
        return self._state

    def assume(self, state: ControlState) -> None:
        """Enforce `state` (the local snapshot) while the database is away; the next refresh
        replaces it whatever its revision."""
        with self._lock:
            self._state, self._assumed = state, True

    def refresh(self) -> ControlState:
        from fireline.calls import privacy
        from fireline.controls import service

        with self._lock:
            revision, controls = service.load_state(self.db)
            if revision == self._state.revision and self._state.revision != 0 and not self._assumed:
                return self._state
            state = ControlState(revision, controls, self.config.apps, user_salt=privacy.match_salt(),
                                 pseudonymize=privacy.pseudonym)
            changed = state.revision != self._state.revision or self._assumed
            self._state, self._assumed = state, False
            subscribers = list(self._subscribers)
            if changed or not self._told:  # under the lock: the listeners see the states in order
                self._told = True
                for listener in self.listeners:
                    listener(state)
        if changed:
            for loop, queue in subscribers:
                with contextlib.suppress(RuntimeError):  # loop closed
                    loop.call_soon_threadsafe(queue.put_nowait, state)
        return state

    def stored_revision(self) -> int:
        from fireline.controls import service

        return service.current_revision(self.db)

    def subscribe(self) -> asyncio.Queue[ControlState]:
        """A queue that receives every new state (call from the event loop that reads it)."""
        queue: asyncio.Queue[ControlState] = asyncio.Queue()
        with self._lock:
            self._subscribers.append((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[ControlState]) -> None:
        with self._lock:
            self._subscribers = [(lp, q) for lp, q in self._subscribers if q is not queue]
