"""Pseudonyms, encryption at rest and the PII redaction pass, all keyed from FIRELINE_SECRET."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from functools import lru_cache
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fireline import pii
from fireline.config import get_secret
from fireline.memo import TextMemo

Span = tuple[str, int, int]


def _derive(info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"fireline", info=info).derive(get_secret())


@lru_cache(maxsize=1)
def _pseudonym_key() -> bytes:
    return _derive(b"fireline pseudonym v1")


@lru_cache(maxsize=1)
def _aead() -> AESGCM:
    return AESGCM(_derive(b"fireline raw content v1"))


@lru_cache(maxsize=1)
def match_salt() -> str:
    """The deployment's public salt for user-scoped controls (published with the control state, so
    SDKs can match a user without the secret). Not the pseudonym key: it opens nothing else."""
    return _derive(b"fireline control match salt v1").hex()[:32]


def reset_keys() -> None:
    _pseudonym_key.cache_clear()
    _aead.cache_clear()
    match_salt.cache_clear()


def pseudonym(user: str) -> str:
    """Keyed HMAC-SHA256: stable per user, not reversible without FIRELINE_SECRET."""
    return "u_" + hmac.new(_pseudonym_key(), user.encode(), hashlib.sha256).hexdigest()[:40]


# Metadata keys that name a person (OTel enduser.id, OpenInference user.id, Traceloop's
# association properties user_id, an app's own customer_email...): their values are stored as the
# pseudonym, and the first one is the call's user when it names none, so erasure and the blast
# radius see it. Matched on the last dotted segment, case-insensitively.
_IDENTITY_KEY = re.compile(
    r"(?:end_?user|user|customer|member|person|patient)(?:[_-]?(?:id|name|email|e_?mail|login|handle"
    r"|key))?|(?:[a-z]+[_-]?)?e[_-]?mail(?:[_-]?address)?", re.IGNORECASE)
_IDENTITY_MAX_DEPTH = 4


_IDENTITY_HINT = re.compile(r"user|mail|customer|member|person|patient", re.IGNORECASE)


def is_identity_key(key: str) -> bool:
    """On the last dotted segment, or the last two joined (`enduser.id`, `user.id`)."""
    if not _IDENTITY_HINT.search(key):  # the common case, cheaply
        return False
    parts = key.rsplit(".", 2)
    return bool(_IDENTITY_KEY.fullmatch(parts[-1]) or (len(parts) > 1 and _IDENTITY_KEY.fullmatch(
        f"{parts[-2]}_{parts[-1]}")))


def pseudonymise_identities(metadata: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """`metadata` with every identity value (string or number, under an identity key, nested up to
    a few levels) replaced by its pseudonym, and the first such value (raw), or None."""
    first: list[str] = []

    def walk(value: Any, depth: int) -> Any:
        if not isinstance(value, dict) or depth > _IDENTITY_MAX_DEPTH:
            return value
        if not any(isinstance(item, dict) for item in value.values()) and \
                not _IDENTITY_HINT.search(" ".join(str(k) for k in value)):
            return value  # no identity key here and nothing nested: the common case
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, str | int) and not isinstance(item, bool) and is_identity_key(str(key)):
                raw = str(item)
                if not raw or raw.startswith("u_"):  # empty, or a pseudonym already
                    out[key] = item
                    continue
                first.append(raw)
                out[key] = pseudonym(raw)
            else:
                out[key] = walk(item, depth + 1)
        return out

    result = walk(metadata, 0)
    return result, first[0] if first else None


def encrypt(data: dict[str, Any]) -> bytes:
    nonce = os.urandom(12)
    return nonce + _aead().encrypt(nonce, orjson.dumps(data), b"fireline-raw")


def decrypt(blob: bytes) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(_aead().decrypt(blob[:12], blob[12:], b"fireline-raw"))
    return result


# Sealed evidence members start with this marker; the AAD binds each to its digest, so a blob
# cannot be swapped for another. Members written before encryption (plain JSON) still read.
SEALED = b"FLE1"


def seal(data: bytes, label: str) -> bytes:
    """AES-GCM with the raw-content key, bound to `label` (an evidence member's digest)."""
    nonce = os.urandom(12)
    return SEALED + nonce + _aead().encrypt(nonce, data, b"fireline-evidence:" + label.encode())


def unseal(blob: bytes, label: str) -> bytes:
    if not blob.startswith(SEALED):
        return blob
    body = blob[len(SEALED):]
    return _aead().decrypt(body[:12], body[12:], b"fireline-evidence:" + label.encode())


def scrub(text: str) -> str:
    """Free text we keep outside the prompt log (incident titles, notes, reasons) without the
    personal data and secrets the pass finds."""
    return pii.redact(text)[0] if text and len(text) >= 6 else text


def scrub_value(value: Any) -> Any:
    """`scrub` over every string nested in JSON-like data."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_value(v) for v in value]
    return value


# System prompts, retrieved documents and metadata values (span attributes: service, provider,
# model, operation, finish reasons) repeat across calls: remember their redaction, by the text's keyed
# digest (fireline.memo) so that no raw text is held; what is kept is already redacted.
_REPEATS: TextMemo[tuple[str, list[Span]]] = TextMemo()
_REPEATING = frozenset({"system", "retrieval", "metadata"})


def redact_repeating(value: str) -> tuple[str, list[Span]]:
    key = _REPEATS.key(value)
    hit = _REPEATS.get(key)
    if hit is None:
        hit = pii.redact(value)
        _REPEATS.put(key, hit)
    return hit


# Every other text by its digest (fireline.memo: no text kept): a conversation's earlier turns are
# re-sent with every call, answers and questions repeat. What is kept is the pass's spans and whether
# they are the plain scan; the redacted text is rebuilt from them.
SEEN: TextMemo[tuple[tuple[Span, ...], bool]] = TextMemo()


def redact_seen(value: str) -> tuple[str, list[Span], bool]:
    """`pii.redact_scanned(value)`, answered from the memo when the same text was redacted lately."""
    key = SEEN.key(value)
    hit = SEEN.get(key)
    if hit is None:
        redacted, spans, exact = pii.redact_scanned(value)
        SEEN.put(key, (tuple(spans), exact))
        return redacted, spans, exact
    spans = list(hit[0])
    return (pii.replace_spans(value, spans) if spans else value), spans, hit[1]


class Redactor:
    """Redacts every text field of a call's content and remembers what it found where."""

    __slots__ = ("changed", "scanned", "spans")

    def __init__(self) -> None:
        self.changed = False
        self.spans: list[tuple[str, int | None, str, Span]] = []  # (location, item, field, span)
        # This call's texts whose spans are exactly `pii.scan` of them (no second look added any): the
        # detectors' view of the call reuses them instead of scanning the same text again.
        self.scanned: dict[str, list[Span]] = {}

    def text(self, value: str | None, location: str, item: int | None = None, field: str = "") -> str | None:
        # Nothing we redact fits in under 6 characters (the shortest is an e-mail like a@b.co).
        if not value or len(value) < 6:
            return value
        if location in _REPEATING:
            redacted, spans = redact_repeating(value)
        else:
            redacted, spans, exact = redact_seen(value)
            if exact:
                self.scanned[value] = spans
        if spans:
            self.changed = True
            for span in spans:
                self.spans.append((location, item, field, span))
        return redacted

    def value(self, value: Any, location: str, item: int | None = None) -> Any:
        """Redact strings nested anywhere inside JSON-like data (tool arguments, metadata)."""
        if isinstance(value, str):
            return self.text(value, location, item)
        if isinstance(value, dict):
            return {k: self.value(v, location, item) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, location, item) for v in value]
        return value


def redact_message(msg: dict[str, Any], red: Redactor, item: int) -> dict[str, Any]:
    content = msg.get("content")
    out = dict(msg)
    if isinstance(content, str):
        out["content"] = red.text(content, "input", item)
    elif isinstance(content, list):
        out["content"] = [
            {**part, "text": red.text(part["text"], "input", item)} if isinstance(part.get("text"), str) else part
            for part in content
        ]
    return out


def redact_tool_call(tc: dict[str, Any], red: Redactor, item: int) -> dict[str, Any]:
    out = {**tc, "arguments": red.value(tc.get("arguments"), "tool", item)}
    if "result" in tc:  # no null keys for what the call did not carry
        out["result"] = red.text(tc["result"], "tool", item)
    return out


def redact_content(content: dict[str, Any]) -> tuple[dict[str, Any], Redactor]:
    """The viewer-visible copy of a call's content, and what the pass found."""
    red = Redactor()
    out: dict[str, Any] = {
        "system_prompt": red.text(content.get("system_prompt"), "system"),
        "input": None,
        "output": red.text(content.get("output"), "output"),
        "user_visible_output": red.text(content.get("user_visible_output"), "output", field="visible"),
        "retrieval": [],
        "tool_calls": [],
        "guardrails": red.value(content.get("guardrails") or [], "guardrail"),
        "metadata": red.value(content.get("metadata") or {}, "metadata"),
    }
    if content.get("input") is not None:
        out["input"] = [redact_message(m, red, i) for i, m in enumerate(content["input"])]
    out["retrieval"] = [
        {**doc, "text": red.text(doc.get("text"), "retrieval", i)}
        for i, doc in enumerate(content.get("retrieval") or [])
    ]
    out["tool_calls"] = [redact_tool_call(tc, red, i) for i, tc in enumerate(content.get("tool_calls") or [])]
    return out, red


def key_problem(db: Any, *, made_now: bool = False) -> str | None:
    """One line when the database holds encrypted data (raw content, sealed evidence) that the
    configured key cannot open, else None. `serve` refuses to start on it: a server with another
    key would write content nobody can read back and erase by pseudonyms that match nothing.
    `made_now`: the key file did not exist before this start (it was just made)."""
    from cryptography.exceptions import InvalidTag
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from fireline.calls.models import CallRaw
    from fireline.config import secret_source
    from fireline.incidents.models import EvidenceBlob

    try:
        with db.session() as session:
            raw = session.scalar(select(CallRaw.blob).limit(1))
            member = session.execute(select(EvidenceBlob.digest, EvidenceBlob.data).limit(1)).first()
    except SQLAlchemyError:  # a database without the tables yet holds nothing to open
        return None
    try:
        if raw is not None:
            decrypt(raw)
        if member is not None:
            unseal(bytes(member.data), member.digest)
    except InvalidTag:
        if made_now:
            return (f"no key file was at {secret_source()} and FIRELINE_SECRET is unset, but this database holds "
                    "encrypted content; put the key it was written with there (or set FIRELINE_SECRET)")
        return (f"the key from {secret_source()} cannot open the encrypted content in this database; "
                "start with the key it was written with (FIRELINE_SECRET or FIRELINE_SECRET_FILE)")
    return None
