"""The token at rest: Fernet (AES-128-CBC with HMAC-SHA256), several keys for rotation.

The first key encrypts, every key decrypts: a new key goes in second everywhere before it goes
first anywhere (docs/security.md, "Rotating the keys"). In development a key is generated once
into a file readable by its owner only; in production a missing key stops start-up.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from worker.core.redaction import register_secret
from worker.core.seal import Seal
from worker.settings import SecuritySettings

KEY_VARIABLE = "PAYNET_TOKEN_KEY"

log = logging.getLogger("worker.crypto")


class TokenKeyError(Exception):
    """The token keys are missing or malformed; the message names the variable, not the key."""


class Undecryptable(Exception):
    """No configured key decrypts the stored token."""


class TokenCipher:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise TokenKeyError(f"{KEY_VARIABLE}: no key given")
        for key in keys:
            register_secret(key.decode("ascii", errors="replace"))
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except (ValueError, TypeError):
            raise TokenKeyError(
                f"{KEY_VARIABLE}: every key must be 32 url-safe base64-encoded bytes "
                "(make one with: paynet-gateway token new-key)"
            ) from None

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError, UnicodeError):
            raise Undecryptable("no configured key decrypts the stored token") from None

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt under the first key."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, ValueError, UnicodeError):
            raise Undecryptable("no configured key decrypts the stored token") from None


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def _development_key(path: Path) -> bytes:
    """Read, or create once with mode 0600, the local development key."""
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            log.warning(
                "token key file %s can be read by others (mode %03o): chmod 600 it", path, mode
            )
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key


def token_keys(security: SecuritySettings, base: Path) -> list[bytes]:
    """The configured keys (``PAYNET_TOKEN_KEY``), or in development the key file's."""
    if security.token_keys is not None:
        raw = security.token_keys.get_secret_value()
        return [part.strip().encode("ascii") for part in raw.split(",") if part.strip()]
    if security.environment == "production":
        raise TokenKeyError(f"{KEY_VARIABLE} is not set: production needs a token encryption key")
    path = Path(security.key_file)
    if not path.is_absolute():
        path = base / path
    try:
        return [_development_key(path)]
    except FileExistsError:
        return [path.read_bytes().strip()]


def cipher_from_settings(security: SecuritySettings, base: Path) -> TokenCipher:
    return TokenCipher(token_keys(security, base))


def seal_from_settings(security: SecuritySettings, base: Path) -> Seal:
    """The seal of internal task state: keys derived from the token keys, so whoever may read
    tokens (workers, the operator's CLI) may seal, and nobody else."""
    return Seal(token_keys(security, base))
