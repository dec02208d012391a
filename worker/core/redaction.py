"""The second defence: mask every secret the process knows in whatever a log record carries.

The first defence is never to log a secret. This filter catches what slips through: it sits on
every handler (a filter on a logger would miss its children's records) and masks the configured
passwords, the token keys and the tokens the process has seen (the newest 64: older ones were
long replaced), raw and in the encodings a secret travels in (base64 and URL-encoded, JSON-escaped).

Secrets enter the registry where they enter the process: the configuration loader (passwords,
keys), the token cipher (keys, the development key file too), the Paynet client (login) and the
token store (load and save).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "[REDACTED]"
MIN_LENGTH = 4  # shorter strings would shred ordinary text; no real secret is that short
_CORE_MIN_LENGTH = 8
MAX_TOKENS = 64  # the newest tokens seen; the pinned secrets (passwords, keys) are never dropped

_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
}


def _base64_cores(raw: bytes, alphabet: str) -> set[str]:
    """The part of the base64 of *any* text holding ``raw`` that only ``raw`` decides.

    Base64 works on groups of three bytes, so the encoding of ``raw`` inside a longer text
    depends on its offset modulo 3; for each offset, keep the groups made of ``raw`` alone.
    """
    cores = set()
    for offset in range(3):
        lead = (3 - offset) % 3
        body = raw[lead:]
        body = body[: len(body) - len(body) % 3]
        core = _b64(body, alphabet)
        if len(core) >= _CORE_MIN_LENGTH:
            cores.add(core)
    return cores


def _b64(raw: bytes, alphabet: str) -> str:
    encode = base64.urlsafe_b64encode if alphabet == "urlsafe" else base64.b64encode
    return encode(raw).decode("ascii")


def encodings(secret: str) -> frozenset[str]:
    """The secret as written and as it appears base64-encoded, URL-encoded or JSON-escaped."""
    raw = secret.encode("utf-8")
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    for alphabet in ("standard", "urlsafe"):
        padded = _b64(raw, alphabet)
        forms |= {padded, padded.rstrip("=")}
        forms |= _base64_cores(raw, alphabet)
    return frozenset(form for form in forms if len(form) >= MIN_LENGTH)


class SecretRegistry:
    """The secrets this process knows; thread-safe, the pattern rebuilt only when one is added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pinned: set[str] = set()
        self._tokens: OrderedDict[str, None] = OrderedDict()
        self._pattern: re.Pattern[str] | None = None

    def add(self, secret: str | None, pinned: bool = False) -> None:
        if not secret or len(secret) < MIN_LENGTH:
            return
        with self._lock:
            if secret in self._pinned:
                return
            if pinned:
                self._tokens.pop(secret, None)
                self._pinned.add(secret)
            elif secret in self._tokens:
                self._tokens.move_to_end(secret)
                return
            else:
                self._tokens[secret] = None
                while len(self._tokens) > MAX_TOKENS:
                    self._tokens.popitem(last=False)
            self._pattern = _compile(self._pinned | set(self._tokens))

    def redact(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def __len__(self) -> int:
        return len(self._pinned) + len(self._tokens)


def _compile(secrets: Iterable[str]) -> re.Pattern[str] | None:
    forms = {form for secret in secrets for form in encodings(secret)}
    return re.compile(_trie_pattern(forms)) if forms else None


def _trie_pattern(words: Iterable[str]) -> str:
    """One regex for many literals, branching character by character.

    A flat ``a|b|c...`` makes the regex engine try every secret at every position (300 us a
    line with a few hundred tokens); a trie rejects a position at its first character. Optional
    tails are greedy, so the longest form matches and a base64 form is masked whole.
    """
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = []
        for char, child in sorted(node.items()):
            if not char:
                continue
            run = char  # a chain without branches is one literal: recursion only at forks
            while len(child) == 1 and "" not in child:
                ((following, child),) = child.items()
                run += following
            branches.append(re.escape(run) + build(child))
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


registry = SecretRegistry()


def register_secret(secret: str | None) -> None:
    """A secret for the life of the process: a password, a token key."""
    registry.add(secret, pinned=True)


def register_token(token: str | None) -> None:
    """A token the process has seen; the most recent ``MAX_TOKENS`` are kept."""
    registry.add(token)


def redact(text: str) -> str:
    return registry.redact(text)


def redact_value(value: Any) -> Any:
    """``value`` with every string in it redacted (for data from Paynet that may echo a token)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(key): redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    return value


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message, arguments, exception and stack text, and extras.

    Never drops a record: a log line with a hole in it is better than a missing one.
    """

    def __init__(self, secrets: SecretRegistry | None = None) -> None:
        super().__init__()
        self.secrets = secrets or registry

    def filter(self, record: logging.LogRecord) -> bool:
        if not len(self.secrets):
            return True
        self._message(record)
        self._exception(record)
        if record.stack_info:
            record.stack_info = self.secrets.redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRIBUTES and isinstance(value, str):
                setattr(record, name, self.secrets.redact(value))
        return True

    def _message(self, record: logging.LogRecord) -> None:
        broken = False
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: keep the template alone
            message = f"{record.msg} (log arguments dropped: they did not fit the format)"
            broken = True
        redacted = self.secrets.redact(message)
        if broken or redacted != message:
            record.msg, record.args = redacted, ()

    def _exception(self, record: logging.LogRecord) -> None:
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            redacted = self.secrets.redact(record.exc_text)
            if redacted != record.exc_text:
                # Without exc_info no formatter can render the raw exception again.
                record.exc_text, record.exc_info = redacted, None
