"""The OpenAI-compatible gateway: proxy, inline containment, background call log."""
