"""Ways calls and signals arrive from what teams already run: OTLP traces, Alertmanager,
PagerDuty Events v2 and change markers (see docs/ingest.md)."""
