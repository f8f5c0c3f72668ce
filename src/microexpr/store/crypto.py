"""Encryption at rest: master key loading, AES-256-GCM sealing, key wrapping and keyed pseudonyms.

Every blob is ``nonce (12 bytes) || ciphertext || tag (16 bytes)`` with an associated-data string that binds
it to its place (subject, kind), so a blob moved to another row fails the tag check instead of decrypting.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from pathlib import Path

from microexpr.errors import MicroexprError

KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ENV = "MICROEXPR_KEY"


class MasterKeyError(MicroexprError):
    """The master key is missing, malformed, or does not open this store."""


def _aesgcm(key: bytes):  # noqa: ANN202
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise MasterKeyError(
            "encryption needs the 'cryptography' package: pip install 'microexpr[store]'"
        ) from None
    return AESGCM(key)


def new_key() -> bytes:
    """32 random bytes from the OS."""
    return os.urandom(KEY_BYTES)


def encode_key(key: bytes) -> str:
    """The key as written in key files and ``MICROEXPR_KEY``: base64 of the 32 bytes."""
    return base64.b64encode(key).decode("ascii")


def parse_key(text: str, *, origin: str) -> bytes:
    """Decode a base64 master key; ``origin`` names where it came from for the error message."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(f"{origin} is not base64 (expected base64 of 32 random bytes)") from None
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{origin} must decode to {KEY_BYTES} bytes, but decodes to {len(key)}")
    return key


def load_master_key(key_file: Path | None = None) -> bytes:
    """The master key from ``key_file`` or else ``$MICROEXPR_KEY``; a one-line error when neither is set."""
    if key_file is not None:
        p = Path(key_file)
        try:
            if p.stat().st_size > 4096:
                raise MasterKeyError(f"key file {p} is too large to be a key (expected base64 of 32 bytes)")
            text = p.read_text(encoding="ascii")
        except FileNotFoundError:
            raise MasterKeyError(f"key file {p} not found") from None
        except (OSError, UnicodeDecodeError) as e:
            raise MasterKeyError(f"cannot read key file {p}: {getattr(e, 'strerror', None) or e}") from None
        return parse_key(text, origin=f"key file {p}")
    env = os.environ.get(KEY_ENV)
    if not env:
        raise MasterKeyError(
            f"no master key: give --key-file FILE or set {KEY_ENV} (make one with 'microexpr store keygen')"
        )
    return parse_key(env, origin=KEY_ENV)


def seal(key: bytes, plaintext: bytes, aad: str) -> bytes:
    """Encrypt and authenticate ``plaintext`` (AES-256-GCM, random nonce); ``aad`` binds it to its place."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + _aesgcm(key).encrypt(nonce, plaintext, aad.encode("utf-8"))


def open_sealed(key: bytes, blob: bytes, aad: str, *, what: str) -> bytes:
    """Decrypt a :func:`seal` blob; a wrong key or any altered byte raises a clear error, never garbage."""
    from cryptography.exceptions import InvalidTag

    if len(blob) < NONCE_BYTES + 16:
        raise MasterKeyError(f"{what} is damaged (too short to be encrypted data)")
    try:
        return _aesgcm(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad.encode("utf-8"))
    except InvalidTag:
        raise MasterKeyError(
            f"cannot decrypt {what}: wrong key or altered data (AES-GCM tag check failed)"
        ) from None


def pseudonym(index_key: bytes, subject_id: str) -> str:
    """The stored name of a subject: ``s_`` + 24 hex digits of HMAC-SHA256(index key, id)."""
    return "s_" + hmac.new(index_key, subject_id.encode("utf-8"), hashlib.sha256).hexdigest()[:24]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
