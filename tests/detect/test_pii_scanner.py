"""Unit cases of the scanner: each type found, the known false positives not."""

from __future__ import annotations

import pytest

from fireline.detectors import pii_spans
from fireline.pii import CONTEXT_TYPES, SECRET_TYPES, redact, scan


def found(text: str) -> list[tuple[str, str]]:
    """Validated identifiers and secrets only: names, places and dates have their own tests."""
    return [(entity, text[s:e]) for entity, s, e in scan(text) if entity not in CONTEXT_TYPES]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail a.b+tag@sub.example.co.uk.", [("EMAIL_ADDRESS", "a.b+tag@sub.example.co.uk")]),
        ("card 4111 1111 1111 1111 ok", [("CREDIT_CARD", "4111 1111 1111 1111")]),
        ("IBAN DE89 3704 0044 0532 0130 00 thanks", [("IBAN_CODE", "DE89 3704 0044 0532 0130 00")]),
        ("ssn 078-05-1120.", [("US_SSN", "078-05-1120")]),
        ("host 192.168.1.1 and 2001:db8::ff00:42:8329", [("IP_ADDRESS", "192.168.1.1"),
                                                        ("IP_ADDRESS", "2001:db8::ff00:42:8329")]),
        ("call me at (415) 555-2671", [("PHONE_NUMBER", "(415) 555-2671")]),
        ("or +44 20 7946 0958 today", [("PHONE_NUMBER", "+44 20 7946 0958")]),
        ("key AKIAIOSFODNN7EXAMPLE", [("AWS_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE")]),
        ("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz012345",
         [("API_KEY", "sk-proj-abcdefghijklmnopqrstuvwxyz012345")]),
        ("ghp_abcdefghijklmnopqrstuvwxyz0123456789AB", [("API_KEY", "ghp_abcdefghijklmnopqrstuvwxyz0123456789AB")]),
        ("db postgresql://admin:s3cret@db.example.com:5432/prod ok",
         [("CONNECTION_STRING", "postgresql://admin:s3cret@db.example.com:5432/prod")]),
    ],
)  # fmt: skip
def test_each_entity_type_is_found_with_exact_offsets(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "bad ssn 666-12-3456, 000-12-3456, 900-12-3456, 123-00-4567, 123-45-0000",
        "card 4111 1111 1111 1112 fails Luhn",
        "IBAN DE89 3704 0044 0532 0130 01 fails mod-97",
        "not an ip 999.1.1.1, a time 12:30:45",
        "dated 2024-01-15, order 12345678, room 1208",
        "Our office is at 17031 2202 Rissik St",
        "https://example.com/path and user@ without domain",
        "placeholder 0000 0000 0000 0000",
    ],
)
def test_known_look_alikes_are_not_pii(text: str) -> None:
    assert found(text) == []


def test_jwt_and_private_key_blocks_are_secrets() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
    assert found(f"token {jwt} and\n{key}") == [("JWT", jwt), ("PRIVATE_KEY", key)]
    assert {"JWT", "PRIVATE_KEY"} <= SECRET_TYPES


def test_a_dsn_wins_over_the_email_like_text_inside_it() -> None:
    assert [e for e, _, _ in scan("redis://bob:pw@cache.example.com:6379")] == ["CONNECTION_STRING"]


def test_redact_replaces_each_span_with_its_type() -> None:
    text = "Mail bob@example.com or call +1-202-555-0143"
    assert redact(text) == (
        "Mail <EMAIL_ADDRESS> or call <PHONE_NUMBER>",
        [("EMAIL_ADDRESS", 5, 20), ("PHONE_NUMBER", 29, 44)],
    )


def test_contract_entry_point_returns_presidio_named_spans() -> None:
    assert pii_spans("write to a@b.io") == [("EMAIL_ADDRESS", 9, 15)]
