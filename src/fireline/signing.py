"""Signatures for tamper evidence: timeline entries, exported evidence bundles, chain heads.

The key is Ed25519: FIRELINE_SIGNING_KEY (a base64 32-byte seed) when set, else derived from
FIRELINE_SECRET with HKDF (info "fireline signing key v1"), so the server needs no new secret.
Someone with write access to the database but not the secret cannot produce a signature, and
an auditor verifies with the public key alone (`fireline keys signing` prints it; bundles carry
it, and `evidence verify --public-key` pins it). Messages are domain-separated by kind.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fireline.config import ConfigError, get_secret, secret_path

ALGORITHM = "Ed25519"


@lru_cache(maxsize=4)
def _key_from(seed_source: bytes, derived: bool) -> Ed25519PrivateKey:
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"fireline",
                info=b"fireline signing key v1").derive(seed_source) if derived else seed_source
    return Ed25519PrivateKey.from_private_bytes(seed)


_current: Ed25519PrivateKey | None = None


def private_key() -> Ed25519PrivateKey:
    """The signing key, loaded once per process (appends sign on the hot path of every incident
    change; reading the settings again there would race `config.reset()` in other threads)."""
    global _current
    if _current is None:
        _current = _load()
    return _current


def reset_keys() -> None:
    """Forget the loaded key (tests that change FIRELINE_SECRET or FIRELINE_SIGNING_KEY)."""
    global _current
    _current = None


def _load() -> Ed25519PrivateKey:
    configured = os.environ.get("FIRELINE_SIGNING_KEY")
    if configured:
        try:
            seed = base64.b64decode(configured.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ConfigError("FIRELINE_SIGNING_KEY: not base64") from exc
        if len(seed) != 32:
            raise ConfigError("FIRELINE_SIGNING_KEY: must be a base64 32-byte Ed25519 seed")
        return _key_from(seed, False)
    return _key_from(get_secret(), True)


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_b64() -> str:
    return base64.b64encode(public_bytes(private_key().public_key())).decode()


def key_id(public_b64: str | None = None) -> str:
    """A short name of a public key: the first 16 hex digits of its SHA-256."""
    raw = base64.b64decode(public_b64 or public_key_b64())
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(message: bytes) -> str:
    return base64.b64encode(private_key().sign(message)).decode()


def verify(public_b64: str, message: bytes, signature: str | None) -> bool:
    if not signature:
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64))
        key.verify(base64.b64decode(signature), message)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def timeline_message(incident_id: str, seq: int, entry_hash: str) -> bytes:
    return f"fireline-timeline-v1\n{incident_id}\n{seq}\n{entry_hash}".encode()


def bundle_message(statement: bytes) -> bytes:
    return b"fireline-evidence-v1\n" + statement


def local_public_key() -> str | None:
    """This machine's public key when one is configured (FIRELINE_SIGNING_KEY, FIRELINE_SECRET or an
    existing secret file), without creating one: what offline verification pins by default."""
    if os.environ.get("FIRELINE_SIGNING_KEY") or os.environ.get("FIRELINE_SECRET"):
        return public_key_b64()
    return public_key_b64() if secret_path().exists() else None
