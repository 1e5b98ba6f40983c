"""Run a drill against a running Fireline: inject a fault for a drill cohort, drive traffic
through the gateway, and time detection, acknowledgement, containment and verification."""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from fireline.drills import corpus
from fireline.drills.scenario import Scenario

SLA_DEFAULTS = {"P0": (15 * 60, 15 * 60), "P1": (3600, 3600), "P2": (4 * 3600, 4 * 3600), "P3": (86400, 86400)}


@dataclass
class DrillReport:
    scenario: str
    title: str
    drill_id: str
    app: str
    started_at: str
    incident: dict[str, Any] | None = None
    controls: list[dict[str, Any]] = field(default_factory=list)
    time_to_detect: float | None = None
    time_to_acknowledge: float | None = None
    time_to_contain: float | None = None
    time_to_verify: float | None = None
    auto_contained: bool = False
    harmful_sent: int = 0
    probes_harmful: int = 0
    gaps: list[str] = field(default_factory=list)
    # What the drill left behind, checked at the end: every control it (or its playbook) applied is
    # reverted, its incident is over; anything still active is listed here and is a gap.
    cleanup: dict[str, Any] = field(default_factory=dict)

    @property
    def detected(self) -> bool:
        return self.incident is not None

    @property
    def contained(self) -> bool:
        return self.time_to_contain is not None and self.time_to_verify is not None

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items()}
        out.update(detected=self.detected, contained=self.contained)
        return out


class Drill:
    def __init__(self, scenario: Scenario, *, url: str, token: str, app: str = "drill",
                 auto_ack: bool = False, contain: bool = False, timeout: float = 30.0,
                 say: Callable[[str], None] = lambda _: None) -> None:
        self.s, self.app, self.say = scenario, app, say
        self.auto_ack, self.contain, self.timeout = auto_ack, contain, timeout
        self.id = f"{scenario.name}-{secrets.token_hex(3)}"
        self.cohort = f"drill-{self.id}"
        self.api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=15)
        self.canary = f"CANARY-DRILL-{secrets.token_hex(6)}"
        self.inject_id: str | None = None
        self.model = "drill-model"
        self.prompt_version: str | None = None

    # -- the fault -------------------------------------------------------------------------
    def _fault_params(self) -> dict[str, Any]:
        outputs = corpus.sample(self.s.fault.corpus) or self.s.fault.outputs
        outputs = [o.replace("{canary}", self.canary) for o in outputs]
        params: dict[str, Any] = {"output": outputs[0] if outputs else "", "outputs": outputs,
                                  "cohort": self.cohort}
        # The fault belongs to the version in service now: a rollback (model or prompt pin) ends it.
        when = {"model": self.model}
        if self.prompt_version:
            when["prompt_version"] = self.prompt_version
        params["when"] = when
        if self.s.fault.tool_calls:
            params["tool_calls"] = self.s.fault.tool_calls
        if self.s.fault.usage:
            params["usage"] = self.s.fault.usage
        if self.s.fault.cost_usd is not None:
            params["cost_usd"] = self.s.fault.cost_usd
        return params

    def _setup(self) -> None:
        registry = self.api.get("/api/v1/controls/registry")
        if registry.status_code == 200:
            app = registry.json().get("apps", {}).get(self.app) or {}
            self.model = app.get("current_model") or self.model
            prompts = app.get("prompts") or []
            self.prompt_version = prompts[0]["version"] if prompts else None
        if self.s.canary:
            tenant = self.s.canary.get("tenant", "drill-other-tenant")
            self.api.post("/api/v1/canaries", json={"tenant": tenant, "token": self.canary}).raise_for_status()
        resp = self.api.post("/api/v1/controls", json={
            "kind": "inject", "scope": {"app": self.app}, "params": self._fault_params(),
            "reason": f"fire drill {self.id}: {self.s.title}"})
        if resp.status_code >= 400:
            raise RuntimeError(f"could not inject the fault ({resp.status_code}): {resp.text[:300]}")
        self.inject_id = resp.json()["id"]

    # -- traffic ---------------------------------------------------------------------------
    def _request(self, http: httpx.Client, prompt: str, n: int) -> httpx.Response:
        body: dict[str, Any] = {"model": self.model, "user": f"{self.cohort}-u{n % 7}",
                                "messages": [{"role": "user", "content": prompt}]}
        if self.s.traffic.tools:
            body["tools"] = [{"type": "function", "function": {"name": t, "parameters": {"type": "object"}}}
                             for t in self.s.traffic.tools]
        headers = {"X-Fireline-App": self.app, "X-Fireline-Cohort": self.cohort,
                   "X-Fireline-Tenant": "drill-tenant", "X-Fireline-Session": f"{self.cohort}-s{n % 3}"}
        if self.prompt_version:
            headers["X-Fireline-Prompt-Version"] = self.prompt_version
        if self.s.traffic.retrieval:
            headers["X-Fireline-Retrieval"] = ",".join(self.s.traffic.retrieval)
        return http.post("/v1/chat/completions", json=body, headers=headers)

    def _harmful(self, resp: httpx.Response) -> bool:
        """Does this answer still carry the harm to the user?"""
        if resp.status_code != 200 or resp.headers.get("x-fireline-contained"):
            return False
        msg = resp.json()["choices"][0]["message"]
        text = msg.get("content") or ""
        harm = self.s.harm
        if harm.tool:
            return any((c.get("function") or {}).get("name") == harm.tool for c in msg.get("tool_calls") or [])
        if harm.contains:
            return any(h.replace("{canary}", self.canary) in text for h in harm.contains)
        return bool(text)

    # -- the loop --------------------------------------------------------------------------
    def _poll(self, fn: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = fn()
            if value:
                return value
            time.sleep(0.05)
        return None

    def _incident(self, since: datetime) -> dict[str, Any] | None:
        rows = self.api.get("/api/v1/incidents", params={"app": self.app}).json()["incidents"]
        for inc in rows:
            detected = datetime.fromisoformat(inc["detected_at"].replace("Z", "+00:00"))
            if detected >= since.replace(microsecond=0) and (not self.s.expected_types
                                                            or inc["type"] in self.s.expected_types):
                return inc
        return None

    def run(self) -> DrillReport:
        started = datetime.now(UTC)
        report = DrillReport(self.s.name, self.s.title, self.id, self.app, started.isoformat())
        self._setup()
        self.say(f"fault injected for cohort {self.cohort} (control {self.inject_id})")
        prompts = itertools.cycle(corpus.prompts(self.s.traffic.prompts, self.s.traffic.corpus))
        interval = 1.0 / self.s.traffic.rate
        t0: float | None = None
        try:
            with httpx.Client(base_url=str(self.api.base_url), headers=dict(self.api.headers), timeout=15) as http:
                for n in range(self.s.traffic.requests):
                    resp = self._request(http, next(prompts), n)
                    if self._harmful(resp):
                        report.harmful_sent += 1
                        if t0 is None:
                            t0 = time.monotonic()
                    time.sleep(interval)
                if t0 is None:
                    report.gaps.append("the fault produced no harmful answer (check the inject control)")
                    return report
                self.say(f"{report.harmful_sent} harmful answers served to the drill cohort")
                inc = self._poll(lambda: self._incident(started), self.timeout)
                if inc is None:
                    report.gaps.append(f"no monitor fired within {self.timeout:.0f} s")
                    return report
                report.time_to_detect = time.monotonic() - t0
                report.incident = inc
                self.say(f"incident {inc['id']} ({inc['type']}, {inc['severity']}) after {report.time_to_detect:.2f} s")
                if not inc.get("drill"):
                    report.gaps.append(f"incident {inc['id']} was not marked as a drill: it pages real channels "
                                       "and counts in the real metrics (real traffic mixed with the drill's?)")
                if self.auto_ack and not self._acknowledged(inc["id"]):
                    self.api.post(f"/api/v1/incidents/{inc['id']}/ack", json={"reason": f"drill {self.id}"})
                # Containment is not an acknowledgement: only a person's ack (acknowledged_at) counts.
                acked = self._poll(lambda: self._acknowledged(inc["id"]), self.timeout)
                if acked:
                    report.time_to_acknowledge = time.monotonic() - t0
                else:
                    report.gaps.append("nobody acknowledged the incident")
                controls = self._poll(lambda: self._controls(inc["id"]), 5.0)
                if controls:
                    report.auto_contained = any(c.get("actor") == "auto-contain" for c in controls)
                elif self.contain:
                    resp = self.api.post(f"/api/v1/incidents/{inc['id']}/playbook", json={})
                    if resp.status_code >= 400:
                        report.gaps.append(f"no playbook could contain it: {resp.json().get('detail', resp.text)}")
                    controls = self._controls(inc["id"])
                if not controls:
                    report.gaps.append("no containment was applied (no playbook or auto-containment)")
                else:
                    report.time_to_contain = time.monotonic() - t0
                    report.controls = controls
                    self.say(f"contained by {', '.join(c['kind'] for c in controls)} after "
                             f"{report.time_to_contain:.2f} s")
                    if self._verify(http, prompts, controls, report):
                        report.time_to_verify = time.monotonic() - t0
                    elif self.contain:
                        self._escalate(http, prompts, inc["id"], report, t0)
                report.incident = self.api.get(f"/api/v1/incidents/{inc['id']}").json()
                self._check_sla(report)
        finally:
            self._cleanup(report)
        return report

    def _verify(self, http: httpx.Client, prompts: Any, controls: list[dict[str, Any]],
                report: DrillReport) -> bool:
        """Probe as the drill cohort: the harm must no longer reach users. A rate limit caps harm
        rather than removing it, so one drill user probes past the limit and must meet a 429."""
        limits = [int(c["params"].get("per_minute", 10)) for c in controls if c["kind"] == "rate_limit"]
        if limits and len(limits) == len(controls):
            statuses = [self._request(http, next(prompts), 0).status_code for _ in range(min(limits) + 2)]
            if 429 not in statuses:
                report.gaps.append(f"rate limit of {min(limits)}/min never answered 429 to the drill user")
                return False
            return True
        report.probes_harmful = sum(self._harmful(self._request(http, next(prompts), 100 + i)) for i in range(3))
        if report.probes_harmful:
            report.gaps.append(f"{report.probes_harmful} of 3 probes after containment were still harmful")
            return False
        return True

    def _escalate(self, http: httpx.Client, prompts: Any, incident_id: str, report: DrillReport,
                  t0: float) -> None:
        """The primary action did not stop the harm: apply the playbook's secondary actions too."""
        first = ", ".join(sorted({c["kind"] for c in report.controls}))
        resp = self.api.post(f"/api/v1/incidents/{incident_id}/playbook", json={"all": True})
        if resp.status_code >= 400:
            report.gaps.append(f"no secondary action could be applied: {resp.json().get('detail', resp.text)}")
            return
        controls = self._controls(incident_id)
        failed = len(report.gaps)
        if self._verify(http, prompts, controls, report):
            report.controls = controls
            report.time_to_verify = time.monotonic() - t0
            added = ", ".join(sorted({c["kind"] for c in controls} - set(first.split(", "))))
            report.gaps[failed - 1] = (f"the playbook's primary action ({first}) did not stop the harm "
                                       f"({report.gaps[failed - 1]}); its secondary actions ({added}) did")

    def _acknowledged(self, incident_id: str) -> bool:
        return bool(self.api.get(f"/api/v1/incidents/{incident_id}").json().get("acknowledged_at"))

    def _controls(self, incident_id: str) -> list[dict[str, Any]]:
        """The active controls on the drill's incident (the fault excepted)."""
        rows = self.api.get("/api/v1/controls", params={"incident_id": incident_id}).json()["controls"]
        return [c for c in rows if c["kind"] != "inject"]

    def _check_sla(self, report: DrillReport) -> None:
        sev = (report.incident or {}).get("severity", "P3")
        ack_sla, contain_sla = SLA_DEFAULTS.get(sev, SLA_DEFAULTS["P3"])
        if report.time_to_acknowledge is not None and report.time_to_acknowledge > ack_sla:
            report.gaps.append(f"acknowledge SLA of {ack_sla // 60} min breached")
        if report.time_to_contain is not None and report.time_to_contain > contain_sla:
            report.gaps.append(f"contain SLA of {contain_sla // 60} min breached")

    def _cleanup(self, report: DrillReport) -> None:
        """Revert everything the drill put in force (the fault, and every control on the incidents it
        caused, secondary actions included), end those incidents, then check that nothing is left.
        A drill can open more than one incident (a session limit tripped by its traffic, say), and a
        late one can open while it cleans up: it looks again until a pass finds nothing new."""
        try:
            reverted: list[str] = []
            if self.inject_id:
                self._revert(self.inject_id, reverted)
            ended: set[str] = set()
            for _ in range(5):
                mine = [i for i in self._drill_incidents(report) if i not in ended]
                for iid in mine:
                    self.api.post(f"/api/v1/incidents/{iid}/notes",
                                  json={"text": f"Fire drill {self.id} ({self.s.name}); not a real incident.",
                                        "kind": "note"})
                    for c in self._controls(iid):
                        self._revert(c["id"], reverted)
                    self._end(iid)
                    ended.add(iid)
                time.sleep(0.5)  # what its last answers may still set off
                if not [i for i in self._drill_incidents(report) if i not in ended] and not any(
                        self._controls(i) for i in ended):
                    break
                for iid in ended:  # a control applied after the revert (a late escalation)
                    for c in self._controls(iid):
                        self._revert(c["id"], reverted)
            left = self._left_active(sorted(ended))
            inc = report.incident
            state = self.api.get(f"/api/v1/incidents/{inc['id']}").json().get("state") if inc else None
            report.cleanup = {"reverted": reverted, "left_active": left, "incident_state": state,
                              "incidents": sorted(ended)}
            if left:
                report.gaps.append(f"controls still active after the drill: {', '.join(left)}")
            if inc and state not in ("resolved", "closed"):
                report.gaps.append(f"the drill incident {inc['id']} is still {state}")
        finally:
            self.api.close()

    def _drill_incidents(self, report: DrillReport) -> list[str]:
        """The drill incidents on the drill's app since it started (the report's first)."""
        rows = self.api.get("/api/v1/incidents", params={"app": self.app}).json()["incidents"]
        since = datetime.fromisoformat(report.started_at).replace(microsecond=0)
        found = [i["id"] for i in rows if i.get("drill")
                 and datetime.fromisoformat(i["detected_at"].replace("Z", "+00:00")) >= since]
        first = (report.incident or {}).get("id")
        return sorted(set(found) | ({first} if first else set()))

    def _revert(self, control_id: str, reverted: list[str]) -> None:
        resp = self.api.delete(f"/api/v1/controls/{control_id}", params={"reason": f"drill {self.id} over"})
        if resp.status_code == 200:
            reverted.append(control_id)

    def _end(self, incident_id: str) -> None:
        """Resolve and close the drill's incident (its dedup keys free for the next drill)."""
        reason = {"reason": f"fire drill {self.id} over"}
        inc = self.api.get(f"/api/v1/incidents/{incident_id}").json()
        if inc.get("state") in ("detected",):
            self.api.post(f"/api/v1/incidents/{incident_id}/ack", json=reason)
        if inc.get("state") in ("detected", "acknowledged", "contained"):
            self.api.post(f"/api/v1/incidents/{incident_id}/resolve", json=reason)
        self.api.post(f"/api/v1/incidents/{incident_id}/evals/waive", json=reason)  # a drill locks no fix
        self.api.post(f"/api/v1/incidents/{incident_id}/close", json=reason)

    def _left_active(self, incident_ids: list[str]) -> list[str]:
        rows = self.api.get("/api/v1/controls").json()["controls"]
        return [c["id"] for c in rows if c.get("incident_id") in incident_ids
                or c["id"] == self.inject_id or self.id in (c.get("reason") or "")]
