"""Incidents: lifecycle, severity and SLAs, roles, hash-chained timeline, evidence, blast radius."""
