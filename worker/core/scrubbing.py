"""What leaves the process besides log lines, scrubbed: span attributes and error reports.

The log handlers' filter (``worker/core/redaction.py``) masks the secrets the process knows in
every log record. Spans and error reports leave by other ways (an OpenTelemetry exporter, an
error reporter's hook), so the same masking is applied to them here, and more: an attribute
whose name says it may hold a task's arguments, a payment's fields or a credential is dropped
whole, and a URL loses its user, password and query. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from worker.core.redaction import redact, redact_value

# A part of an attribute's name that says its value may be an argument, a payment's detail or
# a credential: such an attribute is dropped, whatever its value looks like.
_SECRET_NAME = re.compile(
    r"(^|[._-])(args?|kwargs?|params?|fields?|amounts?|body|payload|phone|password|secret"
    r"|token|authorization|cookie|credentials?)($|[._-])",
    re.IGNORECASE,
)
_URL_NAMES = frozenset({"http.url", "url.full", "http.target", "url.query", "url.original"})


def secret_name(name: str) -> bool:
    """Whether an attribute's name says it may carry an argument or a credential."""
    return bool(_SECRET_NAME.search(name))


def scrub_url(url: str) -> str:
    """``url`` without user, password, query or fragment: the scheme, host, port and path."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "[unparsable URL]"
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return redact(urlunsplit((parts.scheme, host + port, parts.path, "", "")))


def scrub_value(value: Any) -> Any:
    """A string (or each string of a sequence) with the known secrets masked."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | tuple):
        return tuple(scrub_value(item) for item in value)
    return value


def scrub_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Span or event attributes fit to export."""
    kept: dict[str, Any] = {}
    for name, value in (attributes or {}).items():
        if secret_name(name):
            continue
        if name in _URL_NAMES and isinstance(value, str):
            kept[name] = scrub_url(value)
        else:
            kept[name] = scrub_value(value)
    return kept


def before_send(event: dict[str, Any], hint: Any = None) -> dict[str, Any]:
    """An error reporter's hook (Sentry's ``before_send`` shape): the event with every string in
    it masked. ``sentry_sdk.init(before_send=before_send)``: docs/operations.md."""
    scrubbed: dict[str, Any] = redact_value(event)
    return scrubbed
