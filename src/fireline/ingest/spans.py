"""One OTLP span to a piece of a call record, under the GenAI and OpenInference conventions.

`classify` says what a span is (an LLM call, a tool execution, a retrieval, a guardrail, or
nothing we store); the `*_of` functions read its attributes. The mapping tables are in
docs/ingest.md. Attributes a function reads are consumed; the rest of an LLM span's
attributes go to the call's metadata.
"""

from __future__ import annotations

from typing import Any

from fireline.ingest import messages as msgs
from fireline.ingest.attrs import as_float, as_int, as_json, as_list, as_str, attributes

LLM_OPS = frozenset({"chat", "text_completion", "generate_content", "completion", "responses"})
SKIP_OPS = frozenset({"embeddings", "invoke_agent", "create_agent", "invoke_workflow"})
# Read elsewhere, duplicates of what we keep, or bulky definitions: never copied to metadata.
DROPPED = frozenset({
    "openinference.span.kind", "input.value", "output.value", "input.mime_type", "output.mime_type",
    "llm.token_count.total", "gen_ai.usage.total_tokens", "llm.usage.total_tokens", "gen_ai.tool.definitions",
})
PREFIX_GROUPS = ("llm.input_messages.", "llm.output_messages.", "retrieval.documents.", "gen_ai.prompt.",
                 "gen_ai.completion.", "gen_ai.guardrail.", "llm.tools.")
ERROR = 2  # Status.STATUS_CODE_ERROR
EVENT_ROLES = frozenset({"gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message",
                         "gen_ai.tool.message"})


def classify(attrs: dict[str, Any]) -> str:
    """"llm" | "tool" | "retriever" | "guardrail" | "skip"."""
    oi = attrs.get("openinference.span.kind")
    oi = oi.upper() if isinstance(oi, str) else ""
    op = attrs.get("gen_ai.operation.name")
    op = op.lower() if isinstance(op, str) else ""
    if oi == "LLM" or op in LLM_OPS:
        return "llm"
    if oi == "TOOL" or op == "execute_tool":
        return "tool"
    if oi == "RETRIEVER" or op in ("retrieval", "retrieve"):
        return "retriever"
    if oi == "GUARDRAIL" or op in ("apply_guardrail", "guardrail"):
        return "guardrail"
    if oi or op in SKIP_OPS or op:
        return "skip"
    if any(k in attrs for k in ("gen_ai.request.model", "gen_ai.system", "gen_ai.provider.name", "llm.request.type")):
        return "llm"  # older GenAI instrumentations without gen_ai.operation.name
    return "skip"


def _first(attrs: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = attrs.get(key)
        if value is not None and value != "":
            return value
    return None


def _split(attrs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    plain: dict[str, Any] = {}
    groups: dict[str, dict[str, Any]] = {}
    for key, value in attrs.items():
        if key[:4] in ("llm.", "retr", "gen_") and key.startswith(PREFIX_GROUPS):
            for prefix in PREFIX_GROUPS:
                if key.startswith(prefix):
                    rest = key[len(prefix):]
                    if prefix in ("gen_ai.prompt.", "gen_ai.completion.") and not rest[:1].isdigit():
                        plain[key] = value  # e.g. gen_ai.prompt.version
                    else:
                        groups.setdefault(prefix, {})[rest] = value
                    break
        else:
            plain[key] = value
    return plain, groups


def guardrails_of(attrs: dict[str, Any], group: dict[str, Any] | None) -> list[dict[str, Any]]:
    """gen_ai.guardrail.* as one result, or gen_ai.guardrail.{i}.* as several."""
    if not group:
        return []
    single = {k: v for k, v in group.items() if not k.split(".", 1)[0].isdigit()}
    out = [_guardrail(single)] if single else []
    out += [_guardrail(g) for g in msgs.indexed({k: v for k, v in group.items() if k not in single})]
    return out


def _guardrail(fields: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
    decision = _first(fields, "decision", "action", "outcome", "result")
    if decision is not None:
        entry["decision"] = as_str(decision, 64)
    entry.setdefault("name", as_str(_first(fields, "name", "id", "type"), 200) or "guardrail")
    entry["source"] = "otlp"
    return entry


def retrieval_of(attrs: dict[str, Any], group: dict[str, Any] | None, default_source: str) -> list[dict[str, Any]]:
    """OpenInference retrieval.documents.{i}.document.* and GenAI gen_ai.retrieval.documents."""
    docs: list[dict[str, Any]] = []
    raw_docs = [{k.removeprefix("document."): v for k, v in d.items()} for d in msgs.indexed(group or {})]
    raw_docs += [d for d in as_list(attrs.get("gen_ai.retrieval.documents")) if isinstance(d, dict)]
    for d in raw_docs:
        meta = as_json(d.get("metadata"))
        meta = meta if isinstance(meta, dict) else {}
        item: dict[str, Any] = {
            "id": as_str(d.get("id"), 500),
            "source": as_str(_first(meta, "source", "file_name", "url"), 500) or default_source[:500],
            "text": as_str(_first(d, "content", "text")),
            "score": as_float(d.get("score")),
        }
        for key in ("title", "url", "page", "chunk_id"):
            if isinstance(meta.get(key), str | int | float) and not isinstance(meta.get(key), bool):
                item[key] = meta[key] if not isinstance(meta[key], str) else meta[key][:500]
        docs.append({k: v for k, v in item.items() if v is not None})
    return docs


def tool_of(attrs: dict[str, Any], name: str, error: bool) -> dict[str, Any]:
    """An executed tool (GenAI execute_tool or OpenInference TOOL span)."""
    tool: dict[str, Any] = {
        "name": as_str(_first(attrs, "gen_ai.tool.name", "tool.name", "tool_call.function.name"), 200) or name[:200]
        or "tool",
        "arguments": as_json(_first(attrs, "gen_ai.tool.call.arguments", "tool_call.function.arguments",
                                    "input.value")),
        "result": as_str(_first(attrs, "gen_ai.tool.call.result", "output.value")),
        "id": as_str(_first(attrs, "gen_ai.tool.call.id", "tool_call.id"), 200),
        "status": "error" if error else "ok",
    }
    if not isinstance(tool["arguments"], dict | str | type(None)):
        tool["arguments"] = as_str(tool["arguments"])
    return {k: v for k, v in tool.items() if v is not None}


def guardrail_span_of(attrs: dict[str, Any], name: str, error: bool) -> dict[str, Any]:
    plain, groups = _split(attrs)
    found = guardrails_of(plain, groups.get("gen_ai.guardrail."))
    if found:
        return found[0]
    entry = {"name": as_str(_first(attrs, "guardrail.name"), 200) or name[:200] or "guardrail", "source": "otlp"}
    decision = _first(attrs, "guardrail.decision", "guardrail.action")
    if decision is not None:
        entry["decision"] = as_str(decision, 64) or ""
    elif error:
        entry["decision"] = "block"
    result = as_str(attrs.get("output.value"), 2000)
    if result:
        entry["result"] = result
    return entry


Event = tuple[str, dict[str, Any]]  # (event name, attributes; a log record's body as "body")


def _events(events: list[Event]) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]],
                                          list[dict[str, Any]]]:
    """Structured-event content: details attributes, input messages, choices, guardrails; plus errors.
    The events are the span's own and the log records (OTLP /v1/logs) joined to it."""
    details: dict[str, Any] = {}
    inputs: list[Any] = []
    choices: list[Any] = []
    guards: list[dict[str, Any]] = []
    for name, a in events:
        if not (name.startswith("gen_ai.") or name in ("exception", "guardrail")):
            continue
        if name == "exception":
            details.setdefault("error.type", as_str(a.get("exception.type"), 200))
            details.setdefault("error.message", as_str(a.get("exception.message"), 1000))
        elif name == "gen_ai.client.inference.operation.details":
            for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"):
                if key in a:
                    details.setdefault(key, a[key])
        elif name in EVENT_ROLES:
            body = as_json(_first(a, "gen_ai.event.content", "body")) or a
            role = name.split(".")[1]
            inputs.append({"role": role, **body} if isinstance(body, dict) else {"role": role, "content": body})
        elif name == "gen_ai.choice":
            body = as_json(_first(a, "gen_ai.event.content", "body")) or a
            choices.append(body)
        elif name == "gen_ai.content.prompt" and "gen_ai.prompt" in a:
            details.setdefault("legacy.prompt", a["gen_ai.prompt"])
        elif name == "gen_ai.content.completion" and "gen_ai.completion" in a:
            details.setdefault("legacy.completion", a["gen_ai.completion"])
        elif "guardrail" in name:
            guards.append(_guardrail({k.removeprefix("gen_ai.guardrail."): v for k, v in a.items()}))
    return details, inputs, choices, guards


def _legacy(group: dict[str, Any] | None) -> list[dict[str, Any]]:
    """OpenLLMetry's gen_ai.prompt.{i}.* / gen_ai.completion.{i}.* flattened messages."""
    out = []
    for f in msgs.indexed(group or {}):
        calls = [{"id": t.get("id"), "name": t.get("name"), "arguments": t.get("arguments")}
                 for t in msgs.indexed({k[11:]: v for k, v in f.items() if k.startswith("tool_calls.")})]
        out.append({"role": f.get("role") or "user", "content": f.get("content"), "tool_calls": calls,
                    "finish_reason": f.get("finish_reason")})
    return out


def llm_call(span: Any, attrs: dict[str, Any], app: str, environment: str | None,
             logged: list[Event] | None = None) -> dict[str, Any]:
    """The call record (as a CallIn dict) of an LLM span; child spans are attached later.
    `logged`: GenAI events that arrived as log records for this span."""
    plain, groups = _split(attrs)
    events = [(ev.name, attributes(ev.attributes)) for ev in span.events] if len(span.events) else []
    if logged:
        events += logged
    details, ev_inputs, ev_choices, ev_guards = _events(events) if events else ({}, [], [], [])

    # input and system prompt: GenAI attribute > GenAI event > OpenInference > legacy > input.value
    system = msgs.instructions(_first(plain, "gen_ai.system_instructions") or details.get("gen_ai.system_instructions"))
    raw_in = _first(plain, "gen_ai.input.messages") or details.get("gen_ai.input.messages")
    tool_calls: list[dict[str, Any]] = []
    if raw_in is not None:
        inputs = msgs.genai_messages(raw_in)[0]
    elif "llm.input_messages." in groups:
        inputs = msgs.oi_messages(groups["llm.input_messages."])[0]
    elif ev_inputs:
        inputs = msgs.genai_messages(ev_inputs)[0]
    elif "gen_ai.prompt." in groups or "legacy.prompt" in details:
        inputs = msgs.genai_messages(_legacy(groups.get("gen_ai.prompt.")) or details.get("legacy.prompt"))[0]
    else:
        inputs = _input_value(plain.get("input.value"))
    lead_system, inputs = msgs.split_system(inputs)
    system = system or lead_system

    reasons = as_list(plain.get("gen_ai.response.finish_reasons"))
    raw_out = _first(plain, "gen_ai.output.messages") or details.get("gen_ai.output.messages")
    if raw_out is not None:
        outs, tool_calls, more = msgs.genai_messages(raw_out)
    elif "llm.output_messages." in groups:
        outs, tool_calls = msgs.oi_messages(groups["llm.output_messages."])
        more = []
    elif ev_choices:
        outs, tool_calls, more = msgs.genai_messages(ev_choices)
    elif "gen_ai.completion." in groups or "legacy.completion" in details:
        outs, tool_calls, more = msgs.genai_messages(_legacy(groups.get("gen_ai.completion."))
                                                     or details.get("legacy.completion"))
    else:
        out_value = as_str(plain.get("output.value"))
        outs, more = ([{"role": "assistant", "content": out_value}] if out_value is not None else []), []
    reasons = reasons or more
    output = msgs.output_text(outs)

    oi_meta = as_json(plain.pop("metadata", None))
    invocation = as_json(plain.get("llm.invocation_parameters"))
    requested = _first(plain, "gen_ai.request.model")
    if requested is None and isinstance(invocation, dict):
        requested = invocation.get("model")
    resolved = _first(plain, "gen_ai.response.model", "llm.model_name")
    tenant = _first(plain, *TENANT_KEYS)
    user = _first(plain, *USER_KEYS)
    session = _first(plain, *SESSION_KEYS)
    if isinstance(oi_meta, dict):  # OpenInference `using_metadata`: identity there is consumed too
        oi_meta = dict(oi_meta)
        tenant = tenant if tenant is not None else _first(oi_meta, *META_TENANT)
        user = user if user is not None else _first(oi_meta, *META_USER)
        session = session if session is not None else _first(oi_meta, *META_SESSION)
        for key in (*META_TENANT, *META_USER, *META_SESSION):
            oi_meta.pop(key, None)
    error = span.status.code == ERROR

    call: dict[str, Any] = {
        "app": as_str(_first(plain, "fireline.app", "openinference.project.name"), 200) or app,
        "environment": as_str(_first(plain, "fireline.environment", "deployment.environment.name",
                                     "deployment.environment"), 64) or environment,
        "tenant": as_str(tenant, 200),
        "session_id": as_str(session, 200),
        "user": as_str(user, 500),
        "model": as_str(requested or resolved, 200),
        "model_resolved": as_str(resolved, 200),
        "provider": as_str(_first(plain, "gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"), 100),
        "prompt_version": as_str(_first(plain, "fireline.prompt_version", "llm.prompt_template.version",
                                        "gen_ai.prompt.version"), 100),
        "system_prompt": system,
        "input": inputs,
        "output": output,
        "input_tokens": as_int(_first(plain, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens",
                                      "llm.token_count.prompt", "llm.usage.prompt_tokens")),
        "output_tokens": as_int(_first(plain, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                                       "llm.token_count.completion", "llm.usage.completion_tokens")),
        "cost_usd": as_float(_first(plain, "fireline.cost_usd", "llm.cost.total", "gen_ai.usage.cost")),
        "status": "error" if error else "ok",
        "tool_calls": tool_calls,
        "retrieval": retrieval_of(plain, groups.get("retrieval.documents."), span.name)
        if "retrieval.documents." in groups or "gen_ai.retrieval.documents" in plain else [],
        "guardrails": guardrails_of(plain, groups.get("gen_ai.guardrail.")) + ev_guards
        if "gen_ai.guardrail." in groups or ev_guards else [],
    }
    if call["cost_usd"] is not None and call["cost_usd"] < 0:
        call["cost_usd"] = None
    meta: dict[str, Any] = {"otel.span_name": span.name[:200]}
    if reasons:
        meta["finish_reasons"] = [as_str(r, 64) for r in reasons]
    if error:
        meta["error.message"] = as_str(span.status.message, 1000) or details.get("error.message")
        meta["error.type"] = as_str(plain.get("error.type"), 200) or details.get("error.type")
    if not inputs and output is None:
        meta["content_captured"] = False
    used = _USED | {"gen_ai.response.finish_reasons"}
    for key, value in plain.items():
        if key not in used and key not in DROPPED:
            meta[key] = value
    if isinstance(oi_meta, dict):
        for key, value in oi_meta.items():
            meta.setdefault(str(key), value)
    elif oi_meta is not None:
        meta["metadata"] = oi_meta
    call["metadata"] = {k: v for k, v in meta.items() if v is not None}
    return call


# Identity: OTel enduser.id, OpenInference user.id / session.id (and `using_metadata`), Traceloop's
# association properties, GenAI conversation id. Consumed: a raw user id never reaches metadata.
TRACELOOP = "traceloop.association.properties."
USER_KEYS = ("enduser.id", "user.id", TRACELOOP + "user_id", TRACELOOP + "userId", TRACELOOP + "user",
             TRACELOOP + "enduser.id")
SESSION_KEYS = ("session.id", "gen_ai.conversation.id", TRACELOOP + "session_id", TRACELOOP + "sessionId",
                TRACELOOP + "conversation_id", TRACELOOP + "thread_id")
TENANT_KEYS = ("fireline.tenant", "tenant.id", "tenant", TRACELOOP + "tenant_id", TRACELOOP + "tenantId",
               TRACELOOP + "tenant")
META_USER = ("user_id", "userId", "user")
META_SESSION = ("session_id", "sessionId")
META_TENANT = ("tenant", "tenant_id", "tenant.id")

_USED = frozenset({*USER_KEYS, *SESSION_KEYS, *TENANT_KEYS, "openinference.project.name",
    "gen_ai.system_instructions", "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.request.model",
    "gen_ai.response.model", "llm.model_name", "fireline.tenant", "tenant.id", "tenant", "fireline.app",
    "fireline.environment", "deployment.environment.name", "deployment.environment", "session.id",
    "gen_ai.conversation.id", "enduser.id", "user.id", "gen_ai.provider.name", "gen_ai.system", "llm.provider",
    "llm.system", "fireline.prompt_version", "llm.prompt_template.version", "gen_ai.prompt.version",
    "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt", "llm.usage.prompt_tokens",
    "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion",
    "llm.usage.completion_tokens", "fireline.cost_usd", "llm.cost.total", "gen_ai.usage.cost",
    "gen_ai.retrieval.documents", "error.type",
})


def _input_value(value: Any) -> list[dict[str, Any]]:
    """OpenInference input.value without messages: a JSON request body or plain text."""
    if value is None or value == "":
        return []
    parsed = as_json(value)
    if isinstance(parsed, dict) and isinstance(parsed.get("messages"), list):
        return msgs.genai_messages(parsed["messages"])[0]
    return [{"role": "user", "content": as_str(value) or ""}]
