"""Post-mortems generated from the incident record: root cause, actions, md and html."""
