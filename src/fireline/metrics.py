"""Prometheus metrics. Labels carry apps, types and severities, never content."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

CALLS_INGESTED = Counter("fireline_calls_ingested_total", "Calls stored", ["source"], registry=REGISTRY)
CALL_DUPLICATES = Counter("fireline_call_duplicates_total", "Re-sent call ids ignored", registry=REGISTRY)
FINDINGS = Counter("fireline_findings_total", "Detector findings", ["detector", "kind"], registry=REGISTRY)
RETENTION_PURGED = Counter("fireline_retention_purged_total", "Rows purged by retention", ["what"],
                           registry=REGISTRY)
INGEST_SECONDS = Histogram("fireline_ingest_batch_seconds", "Time to make a batch durable", ["source"],
                           registry=REGISTRY, buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
HOT_PATH_COMPILED = Gauge("fireline_hot_path_compiled", "1 when the PII scanner and the detectors run compiled "
                          "(mypyc, `make native`), 0 when they run from their sources", registry=REGISTRY)
HANDLER_FAILURES = Counter("fireline_event_handler_failures_total", "Event handlers that raised, by topic",
                           ["topic", "handler"], registry=REGISTRY)


def handler_failed(topic: str, handler: str) -> None:
    """The event bus's failure hook (labels are topic and code names, never payload content)."""
    HANDLER_FAILURES.labels(topic, handler).inc()
BACKGROUND_FAILURES = Counter("fireline_background_failures_total", "Failed steps of background loops (retried)",
                              ["task"], registry=REGISTRY)
OUTBOX_REDELIVERED = Counter("fireline_outbox_redelivered_total", "Outbox entries delivered again by the worker",
                             ["topic", "outcome"], registry=REGISTRY)
RECORDS_SKIPPED = Counter("fireline_records_skipped_total", "Records a pipeline stage skipped alone (the rest of "
                          "their batch went on)", ["stage"], registry=REGISTRY)
ALERT_WRITE_FAILURES = Counter("fireline_monitor_alert_write_failures_total",
                               "Monitor firings undone because their alert could not be recorded", registry=REGISTRY)
AUTO_CONTAIN_FAILURES = Counter("fireline_auto_containment_failures_total",
                                "Auto-containments that failed (retried: the outbox tries again)", ["outcome"],
                                registry=REGISTRY)
INTAKE_UNAVAILABLE = Counter("fireline_alert_intake_unavailable_total",
                             "Alerts answered 503 because the incident could not be recorded", ["source"],
                             registry=REGISTRY)
SHARED_STATE_FAILURES = Counter("fireline_shared_state_failures_total",
                                "Operations on shared state (Redis, PostgreSQL counters) that failed; this process's "
                                "own state stood in", ["store"], registry=REGISTRY)
