"""Where the parts meet. The app factory calls `wire` once; every event handler, ingest
processor, evidence source and incident view is subscribed here and nowhere else (nothing
subscribes at import time). Data flows one way: ingest -> calls -> detect -> incidents ->
controls -> comms; each line below is a later part reacting to an earlier one's fact.

Topics (payloads in fireline.signals):
- "calls.prepared"  before a batch is stored: detectors add findings (a failure costs no call)
- "calls.ingested"  after it is committed: monitors count it
- "alert.*"         monitors, Alertmanager, PagerDuty, reports -> incidents
- "incident.*"      incidents -> controls (auto-containment), comms (notifications)
- "controls.changed" controls -> this process's ControlBook
- "subject.erased", "calls.purged"  erasure and retention, in the publisher's transaction
- "evidence.sources" (named)  what each part adds to an evidence snapshot
- "incident.view" (named)     what each part adds to GET /api/v1/incidents/{id}
- "incident.guard.<action>" (named)  vetoes before a move: called directly, a Conflict refuses it
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from fireline.comms import delivery as comms_delivery
from fireline.comms import obligations
from fireline.comms.api import obligations_view
from fireline.comms.config import load as load_comms
from fireline.config import Config, get_settings
from fireline.controls import identity as controls_identity
from fireline.controls import merge as controls_merge
from fireline.controls import playbooks
from fireline.controls import service as controls_service
from fireline.controls import snapshot as controls_snapshot
from fireline.controls.state import ControlBook
from fireline.counters import make_counter
from fireline.db import Database
from fireline.detect import reports
from fireline.detect.api import MonitorCollector
from fireline.detect.feed import make_feed
from fireline.detect.runtime import DetectRuntime
from fireline.evals.api import close_gate
from fireline.evals.config import evals_config
from fireline.evals.jobs import Jobs
from fireline.events import EventBus
from fireline.gateway.prepare import Helper
from fireline.incidents import evidence, fired
from fireline.incidents import scope as incident_scope
from fireline.incidents import service as incidents
from fireline.incidents.api import VIEWS_TOPIC
from fireline.incidents.lifecycle import GUARD_TOPIC
from fireline.ingest.api import change_evidence
from fireline.investigate.api import after_action_view
from fireline.outbox import Outbox, OutboxCollector


def data_handlers(bus: EventBus) -> None:
    """Handlers that erase or purge in the publisher's transaction (also wired by the admin CLI)."""
    bus.subscribe("subject.erased", reports.on_subject_erased)
    bus.subscribe("subject.erased", evidence.on_subject_erased)
    bus.subscribe("subject.erased", controls_identity.on_subject_erased)
    bus.subscribe("subject.erased", incident_scope.on_subject_erased)
    bus.subscribe("calls.purged", reports.on_calls_purged)


def wire(app: Any) -> None:
    """Make the parts' runtimes (app.state.detect / controls / comms) and subscribe them on app.state.bus."""
    bus: EventBus = app.state.bus
    db: Database = app.state.db
    config: Config = app.state.config
    registry: CollectorRegistry = app.state.metrics

    outbox = app.state.outbox = Outbox(db, bus)  # delivers what publish_durable could not
    registry.register(OutboxCollector(outbox))
    # The one counter of rate limits, budgets and session limits: Redis (FIRELINE_REDIS_URL) or
    # PostgreSQL when several processes share the state, this process's memory on SQLite.
    redis_url = get_settings().redis_url
    counter = app.state.counter = make_counter(db.url, db.engine, redis_url)
    # Session limits count every call, a batch at a time (one Redis script or one PostgreSQL
    # transaction of two statements per batch): one limit across workers and replicas.
    detect = app.state.detect = DetectRuntime(db, config, counter, make_feed(db.engine, db.url, redis_url))
    detect.following = app.state.leader.is_follower  # one process records what the monitors fire
    book = app.state.controls = ControlBook(db, config, counter)
    # what the gateway enforces, kept on disk for a start while the database is away
    book.listeners.append(controls_snapshot.saver(app.state.data_dir))
    comms = app.state.comms = comms_delivery.Runtime(db, load_comms(config))
    comms.hooks.append(obligations.on_event)

    data_handlers(bus)
    # `ingest.prepare_process: true`: native and OTLP ingest groups parse and prepare their calls
    # (privacy pass, encryption) in a helper process, off the serving process's GIL (calls.group;
    # the gateway's mechanism). Off by default: it pays only with a core to spare (docs/scaling.md).
    ingest = config.section("ingest") or {}
    app.state.ingest_helper = Helper(config, priority="normal") if ingest.get("prepare_process", False) else None
    # calls -> detect
    bus.subscribe("calls.prepared", detect.process)
    bus.subscribe("calls.ingested", detect.on_ingested)
    registry.register(MonitorCollector(detect))
    # alerts -> incidents
    bus.subscribe("alert.fired", incidents.on_alert_fired, many=fired.on_alerts_fired)
    bus.subscribe("alert.acknowledged", incidents.on_alert_acknowledged)
    bus.subscribe("alert.resolved", incidents.on_alert_resolved)
    # incidents -> controls (auto-containment first, so notifications already see the containment)
    auto_contain = playbooks.on_incident_opened(config, refresh=book.refresh)
    bus.subscribe("incident.opened", auto_contain, name="auto_contain")
    # a harm on later calls, a related alert of higher severity, or a responder's retype raised it:
    # containment reconsiders, once
    bus.subscribe("incident.escalated", playbooks.on_incident_escalated(auto_contain), name="auto_contain")
    bus.subscribe("controls.changed", book.on_changed)
    bus.subscribe("incident.merged", controls_merge.on_incident_merged, name="controls")  # controls follow
    # incidents -> comms
    bus.subscribe("incident.opened", comms.on_opened)
    bus.subscribe("incident.changed", comms.on_changed)
    bus.subscribe("incident.sla_breached", comms.on_sla_breached)
    bus.subscribe("incident.escalated", comms.on_escalated)
    # what snapshots freeze besides calls, timeline, versions and config
    bus.subscribe(evidence.SOURCES_TOPIC, controls_service.evidence, name="controls")
    bus.subscribe(evidence.SOURCES_TOPIC, change_evidence, name="changes")
    # what the incident detail view shows besides the record
    bus.subscribe(VIEWS_TOPIC, obligations_view, name="obligations")
    # evals -> incidents: an incident closes once its eval lock passes (evals.close_requires_lock)
    evals = app.state.evals_config = evals_config(config)
    app.state.jobs = Jobs()  # replays and server-side eval runs
    bus.subscribe(GUARD_TOPIC.format(action="close"), close_gate(evals), name="eval_lock")
    bus.subscribe(VIEWS_TOPIC, after_action_view, name="after_action")
