"""The prompt log: one private record per LLM call."""
