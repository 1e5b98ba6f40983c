"""Incident metrics in the shared registry: response times by severity and type.

Fire drills have their own series (`fireline_drill_*`): a drill never counts in the real MTTA/MTTR."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from fireline.metrics import REGISTRY

_BUCKETS = (60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 24 * 3600, 72 * 3600, 7 * 24 * 3600)

TIME_TO_ACK = Histogram("fireline_incident_time_to_acknowledge_seconds",
                        "Detection to acknowledgement", ["severity", "type"], registry=REGISTRY,
                        buckets=_BUCKETS)
TIME_TO_CONTAIN = Histogram("fireline_incident_time_to_contain_seconds", "Detection to containment",
                            ["severity", "type"], registry=REGISTRY, buckets=_BUCKETS)
TIME_TO_RESOLVE = Histogram("fireline_incident_time_to_resolve_seconds", "Detection to resolution",
                            ["severity", "type"], registry=REGISTRY, buckets=_BUCKETS)
OPENED = Counter("fireline_incidents_opened_total", "Incidents opened", ["severity", "type", "source"],
                 registry=REGISTRY)
SLA_BREACHES = Counter("fireline_incident_sla_breaches_total", "SLA clocks breached",
                       ["severity", "type", "clock"], registry=REGISTRY)

DRILL_TIME_TO_ACK = Histogram("fireline_drill_time_to_acknowledge_seconds", "Drills: detection to acknowledgement",
                              ["severity", "type"], registry=REGISTRY, buckets=_BUCKETS)
DRILL_TIME_TO_CONTAIN = Histogram("fireline_drill_time_to_contain_seconds", "Drills: detection to containment",
                                  ["severity", "type"], registry=REGISTRY, buckets=_BUCKETS)
DRILL_TIME_TO_RESOLVE = Histogram("fireline_drill_time_to_resolve_seconds", "Drills: detection to resolution",
                                  ["severity", "type"], registry=REGISTRY, buckets=_BUCKETS)
DRILLS_OPENED = Counter("fireline_drill_incidents_opened_total", "Drill incidents opened",
                        ["severity", "type", "source"], registry=REGISTRY)
DRILL_SLA_BREACHES = Counter("fireline_drill_sla_breaches_total", "Drills: SLA clocks breached",
                             ["severity", "type", "clock"], registry=REGISTRY)
