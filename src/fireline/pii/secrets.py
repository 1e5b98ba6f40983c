"""Credentials in prose: provider keys, private-key blocks, JWTs, URLs with passwords, and
`password=` / `token: ...` assignments.

Cost model: nothing here scans the whole text with a regex that starts with a character class.
Provider keys start with a literal marker (found with `in`, then one anchored regex); URL
credentials are found from "://"; assignments from each '=' or ':' (single-character finds),
reading the name before it and the value after it by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

AWS_ACCESS_KEY = "AWS_ACCESS_KEY"
PRIVATE_KEY = "PRIVATE_KEY"
API_KEY = "API_KEY"
JWT = "JWT"
CONNECTION_STRING = "CONNECTION_STRING"
PASSWORD = "PASSWORD"

SECRET_TYPES: frozenset[str] = frozenset({AWS_ACCESS_KEY, PRIVATE_KEY, API_KEY, JWT, CONNECTION_STRING, PASSWORD})

# (gate character, marker substring, entity, compiled pattern). Both must be in every match: the
# gate is a single character (a memchr-fast `in`, ~30 ns per 2 KB) rare in prose, so the slower
# marker search runs only on texts that could hold the secret.
_RULES: tuple[tuple[str, str, str, re.Pattern[str]], ...] = (
    ("K", "AKIA", AWS_ACCESS_KEY, re.compile(r"AKIA[0-9A-Z]{16}(?![0-9A-Za-z])")),
    ("S", "ASIA", AWS_ACCESS_KEY, re.compile(r"ASIA[0-9A-Z]{16}(?![0-9A-Za-z])")),
    ("-", "-----BEGIN", PRIVATE_KEY,
     re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
                r"(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s:,-]*)")),
    # OpenAI (sk-, sk-proj-, sk-svcacct-) and Anthropic (sk-ant-api03-) keys share the prefix.
    ("-", "sk-", API_KEY, re.compile(r"sk-(?:ant-(?:api|admin)\d\d-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")),
    # Stripe secret, restricted and publishable keys (live and test), webhook signing secrets.
    ("_", "_live_", API_KEY, re.compile(r"[rsp]k_live_[0-9A-Za-z]{20,}")),
    ("_", "_test_", API_KEY, re.compile(r"[rs]k_test_[0-9A-Za-z]{20,}")),
    ("_", "whsec_", API_KEY, re.compile(r"whsec_[0-9A-Za-z+/=]{24,}")),
    ("_", "gh", API_KEY, re.compile(r"gh[pousr]_[A-Za-z0-9]{36,}")),
    ("_", "github_pat_", API_KEY, re.compile(r"github_pat_[A-Za-z0-9_]{40,}")),
    ("-", "xox", API_KEY, re.compile(r"xox[abposre]-[A-Za-z0-9-]{10,}")),
    ("-", "xapp-", API_KEY, re.compile(r"xapp-\d-[A-Za-z0-9-]{20,}")),
    ("/", "hooks.slack.com/", API_KEY,
     re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{20,}")),
    # Google: API keys, OAuth client secrets, OAuth access tokens.
    ("z", "AIza", API_KEY, re.compile(r"AIza[0-9A-Za-z_-]{35}")),
    ("X", "GOCSPX-", API_KEY, re.compile(r"GOCSPX-[0-9A-Za-z_-]{28}")),
    ("9", "ya29.", API_KEY, re.compile(r"ya29\.[0-9A-Za-z_-]{20,}")),
    # Azure AD client secrets ("xxx8Q~..."): the "Q~" at a fixed place is their mark.
    ("~", "Q~", API_KEY, re.compile(r"[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}")),
    # Header and payload are both base64url JSON objects, so both start with "eyJ".
    ("J", "eyJ", JWT, re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{10,}")),
)  # fmt: skip

# scheme://[user]:password@host; the password is what makes a URL a secret.
_DSN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{1,30}://[^\s:/@\"'<>]*:[^\s/@\"'<>]+@[^\s/\"'<>]+[^\s\"'<>]*")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")

# --- assignments: `password=...`, `"api_key": "..."`, `Authorization: Bearer ...` ---------------
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
# A name whose letters end with one of these holds a password: any value that is not a placeholder.
_PASSWORD_NAMES = ("password", "passwd", "passwort", "passphrase", "passcode", "pwd", "pass", "pw")
# A name ending with one of these holds a credential when the value looks generated.
_TOKEN_NAMES = ("secret", "token", "apikey", "accesskey", "secretkey", "privatekey", "accountkey",
                "sharedaccesskey", "signingkey", "masterkey", "authkey", "key", "sig", "signature",
                "credential", "credentials", "authorization", "auth")
_AUTH_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "apikey", "key"})
_VALUE_STOP = frozenset(" \t\r\n,;&)]}<>\"'`|")
_PLACEHOLDERS = frozenset({
    "", "none", "null", "nil", "true", "false", "undefined", "str", "string", "bytes", "int", "optional",
    "any", "required", "optional[str]", "str|none", "secretstr", "redacted", "hidden", "masked", "xxx",
    "xxxx", "xxxxxx", "xxxxxxxx", "...", "…", "*", "***", "****", "******", "********", "?", "-", "n/a", "na",
    "tbd", "todo", "empty", "yes", "no", "on", "off", "0", "1",
})  # fmt: skip
_CODE_PREFIXES = ("os.", "env.", "process.env", "self.", "settings.", "config.")
_MAX_NAME = 48
_MAX_VALUE = 512
# "my password is hunter2": a separator in words, for password names only (found from the word).
_PROSE_START = re.compile(r"p(?:ass(?:word|wd|phrase|code)|wd|in)")
_PROSE_TAIL = re.compile(r"s?(?: for [\w@.-]{1,40})?(?: is| was| are|\s+to|\s+set to)\s*[:=]?\s*")


def _token_boundary_before(text: str, start: int) -> bool:
    return start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "_-")


def _name_kind(name: str) -> str | None:
    """PASSWORD, API_KEY or None for an assignment's name ("db_password", "X-Api-Key", "sig")."""
    letters = "".join(ch for ch in name.lower() if ch.isalpha())
    if not letters:
        return None
    if letters.endswith(_PASSWORD_NAMES):
        # "compass", "bypass", "surpass" end with "pass" but are words, not names for a password.
        if letters.endswith("pass") and letters not in ("pass", "dbpass", "userpass", "mypass", "rootpass",
                                                        "adminpass", "smtppass", "ftppass", "mysqlpass"):
            return None
        return PASSWORD
    return API_KEY if letters.endswith(_TOKEN_NAMES) else None


def _looks_generated(value: str) -> bool:
    """A machine-made credential: long enough, one charset, letters mixed with digits or symbols."""
    if len(value) < 16 or len(value) > _MAX_VALUE:
        return False
    if any(ch.isspace() for ch in value):
        return False
    has_digit = any(ch.isdigit() for ch in value)
    has_alpha = any(ch.isalpha() for ch in value)
    if not has_alpha:
        return False
    if has_digit:
        return True
    # Letters only: long mixed case (base64 without digits is rare but real).
    return len(value) >= 24 and any(ch.isupper() for ch in value) and any(ch.islower() for ch in value)


def _is_placeholder(value: str, name: str) -> bool:
    low = value.lower()
    if low in _PLACEHOLDERS or low == name.lower():
        return True
    if value[0] in "<{$%[" or "[" in value or value.startswith(_CODE_PREFIXES):
        return True  # <PASSWORD>, {password}, ${PASSWORD}, %(password)s, [REDACTED], code references
    if set(low) <= set("x*•.#-_"):
        return True
    return "(" in value  # a call: getpass(), env("X")


def _value_at(text: str, i: int) -> tuple[int, int, bool] | None:
    """The value starting at i (after the separator and spaces): (start, end, quoted)."""
    n = len(text)
    if i >= n:
        return None
    quote = text[i] if text[i] in "\"'`" else None
    if quote:
        end = text.find(quote, i + 1, i + 1 + _MAX_VALUE)
        if end == -1:
            return None
        return i + 1, end, True
    j = i
    while j < n and j - i < _MAX_VALUE and text[j] not in _VALUE_STOP:
        j += 1
    while j > i and text[j - 1] in ".:" and (j == n or text[j] in " \t\r\n"):  # a sentence's end
        j -= 1
    return (i, j, False) if j > i else None


def _assignment(text: str, sep: int) -> tuple[str, int, int] | None:
    """A credential assigned at the separator text[sep] ('=' or ':'), or None."""
    # The name: identifier characters just before the separator (past a closing quote and spaces).
    j = sep
    while j > 0 and sep - j < 3 and text[j - 1] in " \t":
        j -= 1
    if j > 0 and text[j - 1] in "\"'":
        j -= 1
    name_end = j
    while j > 0 and name_end - j < _MAX_NAME and text[j - 1] in _NAME_CHARS:
        j -= 1
    name = text[j:name_end]
    kind = _name_kind(name) if name else None
    if kind is None:
        return None
    # The value: past "==", "=>", ":=" and spaces (not past a line end: "password:\n" is a label).
    k, n = sep + 1, len(text)
    if k < n and text[k] in "=>":
        k += 1
    while k < n and text[k] in " \t":
        k += 1
    got = _value_at(text, k)
    if got is None:
        return None
    vs, ve, quoted = got
    value = text[vs:ve]
    if kind == API_KEY and value.lower() in _AUTH_SCHEMES:
        # "Authorization: Bearer <token>": the credential is the word after the scheme.
        after = _value_at(text, ve + 1) if ve < n and text[ve] == " " else None
        if after is None:
            return None
        vs, ve, _ = after
        value = text[vs:ve]
        return (API_KEY, vs, ve) if len(value) >= 8 and not _is_placeholder(value, name) else None
    if _is_placeholder(value, name):
        return None
    if kind == PASSWORD:
        # Unquoted code such as `password=password_var` reads as a name, not a value.
        if not quoted and value.isidentifier() and "_" in value and not any(ch.isdigit() for ch in value):
            return None  # `password=password_var` is code
        if not quoted and value.isalpha() and ve + 1 < n and text[ve] == " " and text[ve + 1].isalpha():
            return None  # letters followed by words is prose: "- password:   The password to use"
        return (PASSWORD, vs, ve) if len(value) >= 3 else None
    if not _looks_generated(value):
        return None
    return (AWS_ACCESS_KEY if "aws" in name.lower() else API_KEY), vs, ve


def _assignments(text: str) -> Iterator[tuple[str, int, int]]:
    for sep_char in "=:":
        pos = text.find(sep_char)
        while pos != -1:
            hit = _assignment(text, pos)
            pos = text.find(sep_char, hit[2] if hit is not None else pos + 1)
            if hit is not None:
                yield hit


def _prose_passwords(text: str, low: str | None = None) -> Iterator[tuple[str, int, int]]:
    """ "my password is hunter2", "set the PIN to 4921": only with a value that has a digit or a
    symbol (or is quoted), so "the password is stored" is not one. `low`: text.lower(), when known."""
    if low is None:
        low = text.lower()  # then a regex with a literal first character: the fast search path
    for m in _PROSE_START.finditer(low):
        if m.start() and low[m.start() - 1].isalpha():
            continue
        tail = _PROSE_TAIL.match(low, m.end())
        if tail is None:
            continue
        got = _value_at(text, tail.end())
        if got is None:
            continue
        vs, ve, quoted = got
        value = text[vs:ve]
        if not _is_placeholder(value, "") and (quoted or (len(value) >= 4 and not value.isalpha())):
            yield PASSWORD, vs, ve


def find_secrets(text: str, low: str | None = None) -> list[tuple[str, int, int]]:
    """Every credential in text as (entity, start, end); overlaps are resolved by the caller.
    `low`: text.lower(), when the caller has it."""
    out: list[tuple[str, int, int]] = []
    gates: dict[str, bool] = {}
    for gate, marker, entity, pattern in _RULES:
        open_ = gates.get(gate)
        if open_ is None:
            open_ = gates[gate] = gate in text
        if not open_ or marker not in text:
            continue
        for hit in pattern.finditer(text):
            if entity == PRIVATE_KEY or _token_boundary_before(text, hit.start()):
                out.append((entity, hit.start(), hit.end()))
    colon = ":" in text
    if colon and "@" in text and "://" in text:
        pos = text.find("://")
        while pos != -1:
            start = pos
            # Walk back over the scheme by hand: a leading character class would scan all the text.
            while start > 0 and pos - start < 31 and text[start - 1] in _SCHEME_CHARS:
                start -= 1
            m = _DSN.match(text, start)
            if m:
                out.append((CONNECTION_STRING, m.start(), m.end()))
            pos = text.find("://", pos + 3)
    if colon or "=" in text:
        out.extend(_assignments(text))
    out.extend(_prose_passwords(text, low))
    return out
