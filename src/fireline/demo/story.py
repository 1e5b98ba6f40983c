"""The demo story: normal traffic, a cross-tenant leak, detection, incident, snapshot, kill switch.

Everything goes through the real parts: the scriptable upstream, the gateway, the detectors and
monitors, the incident and the control plane, all on loopback with embedded SQLite.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from fireline.demo import history
from fireline.demo.traffic import Population

APP = "support-bot"
FALLBACK = "Our assistant is paused while we check something. A person will answer you shortly."
CANARY = "CANARY-globex-" + "7f3a9c2e41"
CURRENT_MODEL, PREVIOUS_MODEL = "gpt-4o-2024-08-06", "gpt-4o-2024-05-13"
DEMO_CONFIG: dict[str, Any] = {
    "apps": {APP: {
        "public": True,  # listed on the status page, its state changed by the public update below
        "fallback": FALLBACK,
        "models": ["gpt-4o-2024-08-06", "gpt-4o-2024-05-13", "gpt-4o-mini"],
        "prompts": {"v12": "You are ACME's friendly support assistant.", "v11": "You are a support assistant."},
        "tools": {"lookup_order": "read", "issue_refund": "write"},
    }},
}


@dataclass
class Outcome:
    detected: bool = False
    contained: bool = False
    incident: dict[str, Any] = field(default_factory=dict)
    control: dict[str, Any] = field(default_factory=dict)
    snapshot: dict[str, Any] = field(default_factory=dict)
    blast_radius: dict[str, Any] = field(default_factory=dict)
    postmortem: str | None = None
    first_leak_at: float | None = None
    detected_at: float | None = None
    contained_at: float | None = None
    requests: int = 0
    leaked_responses: int = 0
    contained_responses: int = 0
    incidents: int = 0  # incidents the leak opened (one event: one incident)
    related_alerts: int = 0  # alerts of other detectors that joined it
    logged_calls: int = 0

    @property
    def time_to_detect(self) -> float | None:
        """From the first leaked answer to the incident. The story sees the incident by polling, the
        traffic may see containment first: containment follows detection, so it bounds it."""
        if self.first_leak_at is None or self.detected_at is None:
            return None
        detected = self.detected_at if self.contained_at is None else min(self.detected_at, self.contained_at)
        return detected - self.first_leak_at

    @property
    def time_to_contain(self) -> float | None:
        if self.first_leak_at is None or self.contained_at is None:
            return None
        return self.contained_at - self.first_leak_at


class Traffic:
    """Threads that play the support app's users through the gateway."""

    def __init__(self, gateway: str, key: str, outcome: Outcome, workers: int = 3, rate: float = 40.0) -> None:
        self.gateway, self.key, self.outcome = gateway, key, outcome
        self.population = Population()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.interval = workers / rate
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(workers)]
        self.last_fallback: str | None = None
        self.last_contained_by: str | None = None

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def halt(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client(base_url=self.gateway, timeout=10,
                          headers={"Authorization": f"Bearer {self.key}"}) as http:
            while not self.stop.is_set():
                started = time.monotonic()
                with self.lock:
                    user, question = self.population.next(tenant="acme" if self.population.rng.random() < 0.5
                                                          else None)
                try:
                    resp = http.post("/v1/chat/completions", json={
                        "model": "gpt-4o-2024-08-06", "user": user.id,
                        "messages": [{"role": "system", "content": "You are ACME's friendly support assistant."},
                                     {"role": "user", "content": question}]},
                        headers={"X-Fireline-App": APP, "X-Fireline-Tenant": user.tenant,
                                 "X-Fireline-Session": user.session, "X-Fireline-Prompt-Version": "v12"})
                    self._record(resp, user.tenant)
                except httpx.HTTPError:
                    pass
                self.stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def _record(self, resp: httpx.Response, tenant: str) -> None:
        now = time.monotonic()
        text = ""
        if resp.status_code == 200:
            text = resp.json()["choices"][0]["message"].get("content") or ""
        with self.lock:
            self.outcome.requests += 1
            if CANARY in text and tenant != "globex":
                self.outcome.leaked_responses += 1
                if self.outcome.first_leak_at is None:
                    self.outcome.first_leak_at = now
            contained_by = resp.headers.get("x-fireline-contained")
            if contained_by:
                self.outcome.contained_responses += 1
                self.last_fallback, self.last_contained_by = text, contained_by
                if self.outcome.contained_at is None:
                    self.outcome.contained_at = now


def write_config(workdir: Path) -> Path:
    path = workdir / "fireline.yaml"
    path.write_text(yaml.safe_dump(DEMO_CONFIG, sort_keys=False))
    return path


def prepare_environment(workdir: Path, upstream_url: str) -> str:
    """Environment for the in-process server; returns the admin token."""
    workdir.mkdir(parents=True, exist_ok=True)
    token = "fl_demo_admin_" + secrets.token_urlsafe(12)
    os.environ.update({
        "FIRELINE_DATABASE_URL": f"sqlite:///{workdir / 'fireline.db'}",
        "FIRELINE_UPSTREAM_URL": upstream_url,
        "FIRELINE_CONFIG": str(write_config(workdir)),
        "FIRELINE_ADMIN_TOKEN": token,
        "FIRELINE_SECRET_FILE": str(workdir / "secret"),
    })
    os.environ.pop("FIRELINE_SECRET", None)
    return token


Say = Callable[[str], None]


def poll(fn: Callable[[], Any], timeout: float, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(every)
    return None


def run_story(api: httpx.Client, upstream: Any, gateway_url: str, say: Say, *,
              warmup_s: float = 6.0, status: Callable[[str], None] | None = None,
              history_hours: float = 0.0) -> Outcome:
    outcome = Outcome()
    api.post("/api/v1/canaries", json={"tenant": "globex", "token": CANARY}).raise_for_status()
    say(f"registered a canary token for tenant [bold]globex[/bold] ({CANARY[:14]}...)")
    ingest_key = api.post("/api/v1/keys", json={"role": "ingest", "name": "support-bot"}).json()["key"]
    if history_hours > 0:
        rows = history.calls(APP, CURRENT_MODEL, "You are ACME's friendly support assistant.", history_hours)
        history.backfill(api, ingest_key, rows, progress=(lambda done, total: status(
            f"logging {history_hours:g} h of past traffic: {done}/{total} calls")) if status else None)
        say(f"logged {len(rows)} calls of the last {history_hours:g} h (the monitors' baseline)")
    traffic = Traffic(gateway_url, ingest_key, outcome)
    traffic.start()
    try:
        deadline = time.monotonic() + warmup_s
        while time.monotonic() < deadline:
            if status:
                status(f"normal traffic: {outcome.requests} requests through the gateway")
            time.sleep(0.25)
        say(f"normal traffic: {outcome.requests} requests from 60 users in 5 tenants, no incident")
        # Another tenant's record, its canary token and the personal data beside it, served to the
        # other tenants' users (globex's own users reading globex's record is no leak). The fault
        # belongs to the model version in service: the previous version is the fix.
        upstream.add_rule("leak_canary", {"token": f"{CANARY}; billing contact mary.roe@globex.example, "
                                                   "+1 415 555 0142"},
                          match={"model": CURRENT_MODEL, "user_not_contains": "@globex."})
        say("[red]injected a fault[/red]: the model now leaks tenant globex's data into other tenants' answers")

        def find_incident() -> dict[str, Any] | None:
            rows = [i for i in api.get("/api/v1/incidents").json()["incidents"] if i["type"] == "data_leakage"]
            # the most severe first, then the first detected (the list is newest first)
            return min(reversed(rows), key=lambda i: i["severity"], default=None)

        incident = poll(find_incident, timeout=20)
        if incident:
            outcome.detected, outcome.incident = True, incident
            outcome.detected_at = time.monotonic()
            # A leaked answer served to another tenant (the owner's own answers carry no canary finding).
            shown: tuple[str, list[str]] | None = None
            for first in (incident.get("linked_calls") or [])[:10]:
                found = api.get(f"/api/v1/calls/{first}", params={"raw": "false"}).json().get("findings", [])
                shown = (first, sorted({f"{f['detector']}:{f['kind']} ({f['severity']})" for f in found}))
                if any(h.startswith("canary:") for h in shown[1]):
                    break
            if shown is not None:
                say(f"detector fired on call {shown[0]}: {', '.join(shown[1]) or 'see the call'}")
            say(f"[bold]incident {incident['id']}[/bold] opened: type {incident['type']}, severity "
                f"{incident['severity']}, {len(incident.get('linked_calls') or [])} linked call(s)")
        else:
            say("[red]no incident opened within 20 s[/red]")
            return outcome

        def find_control() -> dict[str, Any] | None:
            rows = api.get("/api/v1/controls").json()["controls"]
            return next((c for c in rows if c.get("incident_id") == incident["id"]), None)

        control = poll(find_control, timeout=5)
        if control is None:
            say("auto-containment did not act; applying the playbook's kill switch by hand")
            resp = api.post("/api/v1/controls", json={"kind": "kill_switch", "scope": {"app": APP},
                                                      "incident_id": incident["id"],
                                                      "reason": "demo: cross-tenant leak"})
            resp.raise_for_status()
            control = resp.json()
        outcome.control = control
        snaps = api.get(f"/api/v1/incidents/{incident['id']}/snapshots").json().get("snapshots", [])
        if snaps:
            outcome.snapshot = snaps[-1]
            say(f"evidence snapshot {str(outcome.snapshot.get('id'))[:20]}... taken before containment "
                f"({outcome.snapshot.get('calls', outcome.snapshot.get('call_count', '?'))} calls on legal hold)")
        say(f"[green]kill switch applied[/green]: control {control['id']} (revision {control.get('revision')}) "
            f"by {control.get('actor', 'playbook')}")
        if poll(lambda: outcome.contained_at, timeout=10):
            outcome.contained = True
            say(f"next requests answered by the fallback (X-Fireline-Contained: {traffic.last_contained_by}): "
                f"\"{traffic.last_fallback}\"")
        acked = api.post(f"/api/v1/incidents/{incident['id']}/ack", json={"reason": "on-call: I have it"})
        if acked.status_code == 200:
            inc = acked.json()
            say(f"on-call acknowledged the contained incident after {inc['metrics']['time_to_acknowledge_s']:.2f} s "
                f"(commander {inc['commander']}; automation contained it, a person owns it)")
        time.sleep(1.0)
    finally:
        traffic.halt()
    leaks_after = outcome.leaked_responses
    iid = outcome.incident["id"]
    # The gateway logs off the request path: wait until every answer the app saw is in the log.
    poll(lambda: int(api.get("/api/v1/calls/count", params={"app": APP}).json()["count"]) >= outcome.requests,
         timeout=10)
    outcome.logged_calls = int(api.get("/api/v1/calls/count", params={"app": APP}).json()["count"])
    outcome.incidents = len(api.get("/api/v1/incidents").json()["incidents"])
    outcome.related_alerts = len(api.get(f"/api/v1/incidents/{iid}/timeline",
                                         params={"kind": "related_alert"}).json()["entries"])
    outcome.incident = api.get(f"/api/v1/incidents/{iid}").json()
    outcome.blast_radius = api.get(f"/api/v1/incidents/{iid}/blast-radius").json()
    br = outcome.blast_radius
    say(f"{outcome.incidents} incident for the leak ({outcome.related_alerts} related alert(s) of other "
        f"detectors joined it); blast radius {br.get('calls')} calls, {br.get('users')} users, "
        f"{br.get('tenants')} tenants, {br.get('answered_after_containment')} answered after containment")
    update = api.post(f"/api/v1/incidents/{outcome.incident['id']}/updates", json={
        "message": "Some answers from our assistant showed information meant for another customer. We "
                   "paused the assistant and are investigating.", "public": True})
    if update.status_code < 300:
        say("public update posted to the status page (communicate before certainty)")
    def art33() -> dict[str, Any] | None:
        rows = api.get(f"/api/v1/incidents/{outcome.incident['id']}/obligations").json().get("obligations", [])
        return next((o for o in rows if o.get("kind") == "gdpr_art33"), None)

    obligation = poll(art33, timeout=3)
    if obligation:
        say(f"personal data involved: GDPR Art. 33 notification to the authority due {obligation['deadline']} "
            f"(72 h after detection)")
    page = api.get("/status.json")
    if page.status_code == 200:
        states = {c.get("name"): c.get("status") for c in page.json().get("components", [])}
        say(f"status page {api.base_url}/status shows {APP}: {states.get(APP, 'unknown')}")
    pm = api.get(f"/api/v1/incidents/{outcome.incident['id']}/postmortem", params={"format": "md"})
    if pm.status_code == 200:
        outcome.postmortem = f"{api.base_url}/api/v1/incidents/{outcome.incident['id']}/postmortem?format=md"
    replay_leak(api, outcome.incident["id"], say)
    say(f"traffic stopped: {outcome.requests} requests ({outcome.logged_calls} logged), {leaks_after} leaked "
        f"answers, {outcome.contained_responses} answered by the fallback")
    return outcome


def replay_leak(api: httpx.Client, incident_id: str, say: Say) -> dict[str, Any] | None:
    """After-action: replay the leaking calls on the current and the previous model version."""
    resp = api.post(f"/api/v1/incidents/{incident_id}/replays", json={"n": 20, "model": PREVIOUS_MODEL})
    if resp.status_code >= 300:
        say(f"replay not started: {resp.json().get('detail', resp.text)}")
        return None
    rid = resp.json()["id"]

    def finished() -> dict[str, Any] | None:
        job = api.get(f"/api/v1/incidents/{incident_id}/replays/{rid}").json()
        return job if job["state"] not in ("queued", "running") else None

    job = poll(finished, timeout=30, every=0.1)
    if not job or job["state"] != "done":
        say(f"replay {rid} did not finish: {(job or {}).get('error') or 'timeout'}")
        return None
    s = job["result"]["summary"]
    cur, cand = s["current"], s["candidate"]
    say(f"replayed the logged inputs 20x each: failure rate {cur['rate']:.0%} on {CURRENT_MODEL} "
        f"(95% CI {cur['ci_low']:.0%}-{cur['ci_high']:.0%}), {cand['rate']:.0%} on {PREVIOUS_MODEL} "
        f"(CI {cand['ci_low']:.0%}-{cand['ci_high']:.0%}): roll back, then `fireline verify {incident_id}` "
        f"and lock it with `fireline eval export {incident_id}`")
    return job
