"""Credential patterns: cloud keys, provider API keys, private-key blocks, JWTs, DSNs with passwords.

Each pattern starts with a literal marker, so CPython's `re` finds it with its fast literal
search, and the whole family is skipped by a substring test when the marker is absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

AWS_ACCESS_KEY = "AWS_ACCESS_KEY"
PRIVATE_KEY = "PRIVATE_KEY"
API_KEY = "API_KEY"
JWT = "JWT"
CONNECTION_STRING = "CONNECTION_STRING"

SECRET_TYPES: frozenset[str] = frozenset({AWS_ACCESS_KEY, PRIVATE_KEY, API_KEY, JWT, CONNECTION_STRING})

# (marker substring, entity, compiled pattern). The marker must be a substring of every match.
_RULES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    ("AKIA", AWS_ACCESS_KEY, re.compile(r"AKIA[0-9A-Z]{16}(?![0-9A-Za-z])")),
    ("ASIA", AWS_ACCESS_KEY, re.compile(r"ASIA[0-9A-Z]{16}(?![0-9A-Za-z])")),
    ("aws_secret_access_key", AWS_ACCESS_KEY,
     re.compile(r"aws_secret_access_key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])", re.I)),
    ("-----BEGIN", PRIVATE_KEY,
     re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
                r"(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s:,-]*)")),
    # OpenAI (sk-, sk-proj-, sk-svcacct-) and Anthropic (sk-ant-api03-) keys share the prefix.
    ("sk-", API_KEY, re.compile(r"sk-(?:ant-(?:api|admin)\d\d-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")),
    ("_live_", API_KEY, re.compile(r"[rsp]k_live_[0-9A-Za-z]{20,}")),
    ("gh", API_KEY, re.compile(r"gh[pousr]_[A-Za-z0-9]{36,}")),
    ("github_pat_", API_KEY, re.compile(r"github_pat_[A-Za-z0-9_]{40,}")),
    ("xox", API_KEY, re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}")),
    ("AIza", API_KEY, re.compile(r"AIza[0-9A-Za-z_-]{35}")),
    # Header and payload are both base64url JSON objects, so both start with "eyJ".
    ("eyJ", JWT, re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}")),
)  # fmt: skip

# scheme://user:password@host; the password is what makes a DSN a secret.
_DSN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{1,30}://[^\s:/@\"'<>]+:[^\s/@\"'<>]+@[^\s/\"'<>]+[^\s\"'<>]*")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")


def _token_boundary_before(text: str, start: int) -> bool:
    return start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "_-")


def find_secrets(text: str) -> Iterator[tuple[str, int, int]]:
    """Yield (entity, start, end) for every credential in text; overlaps are resolved by the caller."""
    for marker, entity, pattern in _RULES:
        if marker not in text:
            continue
        for hit in pattern.finditer(text):
            if entity == PRIVATE_KEY or _token_boundary_before(text, hit.start()):
                yield entity, hit.start(), hit.end()
    if "://" in text and "@" in text:
        pos = text.find("://")
        while pos != -1:
            start = pos
            # Walk back over the scheme by hand: a leading character class would scan all the text.
            while start > 0 and pos - start < 31 and text[start - 1] in _SCHEME_CHARS:
                start -= 1
            m = _DSN.match(text, start)
            if m:
                yield CONNECTION_STRING, m.start(), m.end()
            pos = text.find("://", pos + 3)
