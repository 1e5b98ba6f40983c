"""Real servers on loopback for tests (the same runner the demo uses)."""

from fireline.serving import ServerThread, free_port

__all__ = ["ServerThread", "free_port"]
