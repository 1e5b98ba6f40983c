"""Simulated parts of an AI stack for tests, the demo and drills."""
