"""Comms: notifications, update cadence, status page, message templates, disclosure clocks."""
