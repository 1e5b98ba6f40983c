"""The distribution features of a call, measured once at ingest.

The categorical ones (answer language and script, question language, topic bucket) are also
stored on the call's row (`calls.output_language`, `output_script`, `input_language`,
`input_topic`: a language code, a script name, a bucket number; no content), so the startup
rebuild refills their histograms with one aggregate query, like the length histograms, and a
redelivered batch (read back from the database) carries them too.
"""

from __future__ import annotations

from typing import Any

from fireline.calls.service import PreparedCall
from fireline.detect import distribution
from fireline.detect.distribution import category, length_bin, script_bin

# feature -> the calls column that holds its label (categorical features)
COLUMNS = {"output_language": "output_language", "output_script": "output_script",
           "input_language": "input_language", "input_topic": "input_topic"}


def last_user(raw: dict[str, Any]) -> str:
    for m in reversed(raw.get("input") or []):
        if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str):
            return str(m["content"])
    return ""


def labels_of(p: PreparedCall) -> dict[str, Any]:
    """The categorical features of a prepared call as stored labels (absent when not measured)."""
    prof = p.extras.get("profile")
    out: dict[str, Any] = {}
    if prof is not None:
        out["output_language"] = str(prof.output_language)[:16] if prof.output_confidence >= 0.5 else "und"
        out["output_script"] = str(prof.output_script)[:16]
        if prof.input_language:
            out["input_language"] = str(prof.input_language)[:16]
    if p.extras.get("topic") is not None:  # the semantic detector's embedding bucket
        out["input_topic"] = int(p.extras["topic"])
        return out
    user = last_user(p.raw)
    if user:
        topic = distribution.topic_bucket(user)
        if topic is not None:
            out["input_topic"] = topic
    return out


def bin_of(feature: str, label: Any) -> int:
    """The histogram bin of a stored label."""
    if feature == "input_topic":
        return int(label)
    if feature == "output_script":
        return distribution.script_bin(str(label))
    return distribution.category(str(label))


def categorical(labels: dict[str, Any]) -> dict[str, tuple[int, float]]:
    return {f: (bin_of(f, v), 0.0) for f, v in labels.items() if v is not None and f in COLUMNS}


def lengths(output_tokens: float | None, input_tokens: float | None) -> dict[str, tuple[int, float]]:
    out: dict[str, tuple[int, float]] = {}
    if output_tokens is not None:
        out["output_tokens"] = (distribution.length_bin(output_tokens), float(output_tokens))
    if input_tokens is not None:
        out["input_tokens"] = (distribution.length_bin(input_tokens), float(input_tokens))
    return out


def features_of(p: PreparedCall) -> dict[str, tuple[int, float]]:
    """The distribution features of a call: (histogram bin, value) per feature (on every call's ingest
    path: `lengths` and `categorical` inlined)."""
    row, extras = p.row, p.extras
    out_tokens = row.get("output_tokens")
    if out_tokens is None:
        prof = extras.get("profile")
        if prof is not None:
            out_tokens = prof.output_tokens_estimate
    in_tokens = row.get("input_tokens")
    if in_tokens is None:
        user = last_user(p.raw)
        in_tokens = (len(user) + 3) // 4 if user else None
    labels = extras.get("labels")
    if labels is None:
        labels = labels_of(p)
    out: dict[str, tuple[int, float]] = {}
    if out_tokens is not None:
        out["output_tokens"] = (length_bin(out_tokens), float(out_tokens))
    if in_tokens is not None:
        out["input_tokens"] = (length_bin(in_tokens), float(in_tokens))
    for f, v in labels.items():
        if v is not None and f in COLUMNS:
            out[f] = (int(v) if f == "input_topic" else script_bin(str(v)) if f == "output_script"
                      else category(str(v)), 0.0)
    return out
