"""fireline.guard: obey Fireline's controls from apps that do not route through the gateway.

    from fireline.guard import Guard
    guard = Guard("http://127.0.0.1:8700", key, "support-bot")
    if not guard.enabled(user=user):
        return guard.fallback_message()

`FirelineProvider` (fireline.guard.openfeature) exposes the same state to OpenFeature.
"""

from fireline.guard.client import Guard

__all__ = ["Guard", "FirelineProvider"]


def __getattr__(name: str) -> object:
    if name == "FirelineProvider":  # imported lazily: openfeature is only needed for the provider
        from fireline.guard.openfeature import FirelineProvider

        return FirelineProvider
    raise AttributeError(name)
