"""An OpenFeature provider built on `Guard`: flags resolve from pushed state, no request per
evaluation. Flag keys and context are those of OFREP (docs/openfeature.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import (
    ErrorCode,
    FlagNotFoundError,
    InvalidContextError,
    OpenFeatureError,
    ProviderNotReadyError,
    TypeMismatchError,
)
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from fireline.controls import flags
from fireline.controls.state import ControlState
from fireline.guard.client import Guard


class FirelineProvider(AbstractProvider):
    """`FirelineProvider(guard)` or `FirelineProvider.connect(url, key, app)`."""

    def __init__(self, guard: Guard, *, ready_timeout: float = 10.0) -> None:
        super().__init__()
        self.guard = guard
        self.ready_timeout = ready_timeout
        self._last: dict[str, Any] = {}
        guard.add_listener(self._changed)

    @classmethod
    def connect(cls, url: str, key: str, app: str, **kwargs: Any) -> FirelineProvider:
        return cls(Guard(url, key, app, **kwargs))

    def get_metadata(self) -> Metadata:
        return Metadata(name="Fireline")

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        if not self.guard.wait_ready(self.ready_timeout) and not self.guard.fail_closed:
            raise ProviderNotReadyError(f"no control state from {self.guard.url} yet: {self.guard.last_error}")

    def shutdown(self) -> None:
        self.guard.close()

    def _changed(self, state: ControlState) -> None:
        now = {f["key"]: f.get("value") for f in flags.evaluate_all(state, {"app": self.guard.app})}
        changed = [k for k in set(now) | set(self._last) if now.get(k) != self._last.get(k)]
        self._last = now
        self.emit_provider_configuration_changed(ProviderEventDetails(
            flags_changed=sorted(changed), metadata={"revision": state.revision}))

    def _resolve(self, key: str, expected: type | tuple[type, ...], default: Any,
                 context: EvaluationContext | None) -> FlagResolutionDetails[Any]:
        state = self.guard.state
        if state is None:
            return self._cold(key, default)
        ctx: dict[str, Any] = dict(context.attributes) if context else {}
        if context and context.targeting_key:
            ctx["targetingKey"] = context.targeting_key
        try:
            result = flags.evaluate(state, key, ctx)
        except flags.FlagError as exc:
            if exc.code == "FLAG_NOT_FOUND":
                raise FlagNotFoundError(exc.details) from exc
            if exc.code == "INVALID_CONTEXT":
                raise InvalidContextError(exc.details) from exc
            raise OpenFeatureError(ErrorCode.GENERAL, exc.details) from exc
        value = result["value"]
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise TypeMismatchError(f"flag {key} is a {type(value).__name__}")
        return FlagResolutionDetails(value=value, reason=Reason(result["reason"]), variant=result["variant"],
                                     flag_metadata=result["metadata"])

    def _cold(self, key: str, default: Any) -> FlagResolutionDetails[Any]:
        """No state yet: fail safe. Closed means disabled app, disabled tools, read-only."""
        if self.guard.fail_closed and isinstance(default, bool):
            value = key.endswith(".read_only")
            return FlagResolutionDetails(value=value, reason=Reason.ERROR, variant="fail_closed",
                                         error_code=ErrorCode.PROVIDER_NOT_READY)
        return FlagResolutionDetails(value=default, reason=Reason.ERROR, variant="default",
                                     error_code=ErrorCode.PROVIDER_NOT_READY,
                                     error_message="no control state received yet")

    def resolve_boolean_details(self, flag_key: str, default_value: bool,
                                evaluation_context: EvaluationContext | None = None
                                ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, bool, default_value, evaluation_context)

    def resolve_string_details(self, flag_key: str, default_value: str,
                               evaluation_context: EvaluationContext | None = None
                               ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, str, default_value, evaluation_context)

    def resolve_integer_details(self, flag_key: str, default_value: int,
                                evaluation_context: EvaluationContext | None = None
                                ) -> FlagResolutionDetails[int]:
        return self._resolve(flag_key, int, default_value, evaluation_context)

    def resolve_float_details(self, flag_key: str, default_value: float,
                              evaluation_context: EvaluationContext | None = None
                              ) -> FlagResolutionDetails[float]:
        return self._resolve(flag_key, (int, float), default_value, evaluation_context)

    def resolve_object_details(self, flag_key: str,
                               default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
                               evaluation_context: EvaluationContext | None = None
                               ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return self._resolve(flag_key, (dict, list), default_value, evaluation_context)
