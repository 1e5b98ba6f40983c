"""Secrets in prose: provider keys, private keys, JWTs, URLs and connection strings with passwords,
and `password=` / `token: ...` assignments are found and redacted; ordinary technical prose is not."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireline.pii import SECRET_TYPES, redact, scan

ALNUM = string.ascii_letters + string.digits


def secret_of(text: str) -> list[tuple[str, str]]:
    return [(e, text[s:x]) for e, s, x in scan(text) if e in SECRET_TYPES]


def token(alphabet: str, n: int) -> st.SearchStrategy[str]:
    # Generated keys mix letters and digits; force one of each so the draw looks like a real key.
    return st.text(alphabet, min_size=n - 2, max_size=n - 2).map(lambda s: "a" + s + "7")


PROVIDER_KEYS = {
    "AWS access key id": st.text(string.ascii_uppercase + string.digits, min_size=16, max_size=16).map(
        lambda s: "AKIA" + s),
    "OpenAI project key": token(ALNUM + "_-", 48).map(lambda s: "sk-proj-" + s),
    "Anthropic key": token(ALNUM + "_-", 90).map(lambda s: "sk-ant-api03-" + s),
    "GitHub token": token(ALNUM, 36).map(lambda s: "ghp_" + s),
    "GitHub fine-grained token": token(ALNUM + "_", 82).map(lambda s: "github_pat_" + s),
    "Slack bot token": token(ALNUM, 24).map(lambda s: "xoxb-1234567890-1234567890123-" + s),
    "Stripe secret key": token(ALNUM, 24).map(lambda s: "sk_live_" + s),
    "Stripe test key": token(ALNUM, 24).map(lambda s: "rk_test_" + s),
    "Google API key": token(ALNUM + "_-", 35).map(lambda s: "AIza" + s),
    "Google OAuth client secret": token(ALNUM + "_-", 28).map(lambda s: "GOCSPX-" + s),
    "Azure AD client secret": token(ALNUM + "_-", 34).map(lambda s: "abc8Q~" + s),
}


@pytest.mark.parametrize("kind", sorted(PROVIDER_KEYS))
@given(data=st.data(), before=st.sampled_from(["my key is ", "export KEY=", "use '", "(", "\n"]),
       after=st.sampled_from(["", " please", "'", ").", "\n"]))
def test_provider_keys_are_redacted_wherever_they_sit(kind: str, data: st.DataObject, before: str,
                                                      after: str) -> None:
    key = data.draw(PROVIDER_KEYS[kind])
    text = f"{before}{key}{after}"
    redacted, _ = redact(text)
    assert key not in redacted and key[-12:] not in redacted


@pytest.mark.parametrize("text, value", [
    ("my db password=hunter2 please", "hunter2"),
    ('config: {"password": "S3cr3t!", "user": "bob"}', "S3cr3t!"),
    ("passwd: letmein42", "letmein42"),
    ("PASSWORD='correct horse battery staple'", "correct horse battery staple"),
    ("Server=tcp:db.example.com;Database=app;User Id=sa;Password=Pa55w0rd!;", "Pa55w0rd!"),
    ("jdbc:mysql://db:3306/app?user=app&password=Tr0ub4dor", "Tr0ub4dor"),
    ("mysql -u root -p --password=rootpw99 app", "rootpw99"),
    ("my password is hunter2!", "hunter2!"),
    ("The Wi-Fi password for guests is 'open sesame'", "open sesame"),
    ("please set my PIN to 4921", "4921"),
    ("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50u"
     "SRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net",
     "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="),
    ("curl -H 'Authorization: Bearer abcdef0123456789abcdef0123' https://api", "abcdef0123456789abcdef0123"),
    ("GET https://api.example.com/v1/items?api_key=abcd1234efgh5678ijkl&page=2", "abcd1234efgh5678ijkl"),
    ("X-Api-Key: 9f8e7d6c5b4a39281706f5e4d3c2b1a0", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
    ("client_secret = \"Zx9YwV8uT7sR6qP5oN4mL3kJ2\"", "Zx9YwV8uT7sR6qP5oN4mL3kJ2"),
    ("https://acct.blob.core.windows.net/c/f?sv=2022-11-02&sig=Yx3kR8vWq2Lz%2Bm9Pn4Tt5Uu6Vv7Ww8Xx9Yy0Zz1Aa%3D",
     "Yx3kR8vWq2Lz%2Bm9Pn4Tt5Uu6Vv7Ww8Xx9Yy0Zz1Aa%3D"),
])  # fmt: skip
def test_assigned_passwords_and_tokens_are_redacted(text: str, value: str) -> None:
    redacted, spans = redact(text)
    assert value not in redacted, redacted
    assert any(e in SECRET_TYPES for e, _, _ in spans)


@pytest.mark.parametrize("url", [
    "postgres://app:hunter2@db.internal:5432/prod",
    "redis://:s3cret@cache:6379/0",
    "mongodb+srv://admin:Sup3rS3cret@cluster0.abcd.mongodb.net/test?retryWrites=true",
    "amqp://guest:gu3st@rabbit.local:5672/",
    "https://deploy:ghs_abcdefghijklmnopqrstuvwxyz0123456789@github.com/org/repo.git",
])  # fmt: skip
def test_urls_with_credentials_are_connection_strings(url: str) -> None:
    text = f"connect with {url} then retry"
    assert secret_of(text) == [("CONNECTION_STRING", url)]


def test_private_key_blocks_in_json_escapes_are_whole() -> None:
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
    text = '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n' + body + \
           '\\n-----END PRIVATE KEY-----\\n", "client_email": "x@p.iam.gserviceaccount.com"}'
    redacted, _ = redact(text)
    assert body not in redacted and "<PRIVATE_KEY>" in redacted


@pytest.mark.parametrize("text", [
    "the password is stored in the vault",
    "- password:     The password to use for authentication",
    "def login(user, password: str, token: Optional[str] = None):",
    "password=password_var",
    "Enter your password: ********",
    "password: <PASSWORD>",
    "Set password to ${DB_PASSWORD} in the environment",
    "sort(*, key=None, reverse=False) and key=str.lower",
    "The token NUMBER is defined in the grammar; key: value pairs within braces",
    "spinning up a shipping pipeline is fun",
    "https://www.python.org/download/releases/2.3/mro/ and http://user@example.com",
    "a bypass: the compass: true surpass: yes",
    "signature: def f(a, b) -> int",
    "api_key: short",
])  # fmt: skip
def test_technical_prose_without_secrets_is_left_alone(text: str) -> None:
    assert secret_of(text) == []


def test_no_false_secrets_in_pythons_own_reference_prose() -> None:
    """CPython's pydoc topics (65,000 words of technical prose and code) hold no credential."""
    from pydoc_data.topics import topics

    flagged = [(key, sp) for key, text in topics.items() for sp in secret_of(text)]
    assert flagged == []
