"""Investigation: what changed before the onset of an incident."""
