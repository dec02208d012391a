"""The redaction filter: secrets masked in every record of every logger, in every form."""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.support.leaks import log_lines, search
from worker import logs
from worker.core.redaction import (
    MASK,
    MAX_TOKENS,
    RedactingFilter,
    SecretRegistry,
    encodings,
    redact_value,
    register_secret,
    register_token,
)
from worker.settings import LoggingSettings

SECRET = "pw-Qx7/r+s p@ss=?"


def registry_of(*items: str) -> SecretRegistry:
    registry = SecretRegistry()
    for item in items:
        registry.add(item, pinned=True)
    return registry


def test_the_forms_of_a_secret_include_base64_and_url_encoding() -> None:
    raw = SECRET.encode()
    expected = {
        SECRET,
        quote(SECRET, safe=""),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }
    assert expected <= encodings(SECRET)


@pytest.mark.parametrize("before", range(6))
def test_base64_of_a_text_holding_the_secret_is_masked_at_any_offset(before: int) -> None:
    text = ("u" * before + ":" + SECRET + "-tail").encode()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encode(text).decode()
        redacted = registry_of(SECRET).redact(f"Authorization: Basic {encoded}")
        assert MASK in redacted
        assert not search([("line", redacted)], {"secret": SECRET})


def test_a_long_secret_among_many_is_masked_whole() -> None:
    long_secret = "pw-" + secrets.token_urlsafe(750)
    registry = registry_of(long_secret, *(secrets.token_urlsafe(24) for _ in range(MAX_TOKENS)))
    encoded = base64.b64encode(long_secret.encode()).decode()
    assert registry.redact(f"a {long_secret} b {encoded} c") == f"a {MASK} b {MASK} c"


def test_nothing_else_is_masked() -> None:
    line = "token refreshed: profile=default generation=3 duration=0.012s"
    assert registry_of(SECRET).redact(line) == line


def test_strings_shorter_than_four_characters_are_never_treated_as_secrets() -> None:
    assert registry_of("ab1").redact("ab1 ab1") == "ab1 ab1"


def test_the_newest_tokens_are_kept_and_passwords_never_dropped() -> None:
    registry = registry_of(SECRET)
    tokens = [f"tok-{i:04d}-{secrets.token_hex(8)}" for i in range(MAX_TOKENS + 1)]
    for token in tokens:
        registry.add(token)
    assert registry.redact(tokens[0]) == tokens[0]
    assert registry.redact(tokens[-1]) == MASK
    assert registry.redact(SECRET) == MASK


def test_data_from_paynet_is_redacted_however_deeply_nested() -> None:
    register_token("tok-echoed-back-Lk20")
    data = {"detail": ["bad token tok-echoed-back-Lk20"], "n": 1, "tok-echoed-back-Lk20": None}
    assert redact_value(data) == {"detail": [f"bad token {MASK}"], "n": 1, MASK: None}


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[Path]:
    """The workers' own handlers (``logs.handlers_for``) on the root logger, writing a file."""
    path = tmp_path / "worker.log"
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    for handler in saved_handlers:
        root.removeHandler(handler)
    handlers = logs.handlers_for(LoggingSettings(file=str(path)))
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield path
    for handler in handlers:
        root.removeHandler(handler)
        handler.close()
    for handler in saved_handlers:
        root.addHandler(handler)
    root.setLevel(saved_level)


LOGGERS = ["urllib3.connectionpool", "requests", "celery.worker.strategy", "kombu", "worker.x"]


def test_every_handler_carries_the_redaction_filter() -> None:
    handlers = logs.handlers_for(LoggingSettings(file="/dev/null"))
    assert len(handlers) == 2
    assert all(any(isinstance(f, RedactingFilter) for f in h.filters) for h in handlers)
    for handler in handlers:
        handler.close()


@pytest.mark.parametrize("name", LOGGERS)
def test_a_secret_logged_by_any_logger_in_any_form_is_masked(logged: Path, name: str) -> None:
    password, token = "pw-" + secrets.token_urlsafe(18), secrets.token_urlsafe(24)
    register_secret(password)
    register_token(token)
    log = logging.getLogger(name)
    log.debug("login params password=%s", password)
    log.debug(f"token in the message {token}")
    log.debug("args dict %s", {"token": token})
    log.debug("base64 %s url %s", base64.b64encode(token.encode()).decode(), quote(password))
    log.info("basic %s", base64.b64encode(f"user:{password}".encode()).decode())
    try:
        raise RuntimeError(f"the server said {token!r}")
    except RuntimeError:
        log.exception("failed with %s", password)
    log.error("broken format %s %s", token)

    text = logged.read_text()
    assert text.count(MASK) == 8
    assert search(log_lines([logged]), {"password": password, "token": token}) == []
    assert "Traceback" in text  # the exception kept, only the secret taken out of it


def test_string_extras_of_a_record_are_masked_for_formatters_that_show_them() -> None:
    record = logging.LogRecord("kombu", logging.DEBUG, __file__, 1, "sent", (), None)
    record.body = f"{{'token': '{SECRET}'}}"
    assert RedactingFilter(registry_of(SECRET)).filter(record) is True
    assert record.body == f"{{'token': '{MASK}'}}"


def test_arguments_that_do_not_fit_the_format_are_dropped_not_raised() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "a %s %s", (SECRET,), None)
    RedactingFilter(registry_of(SECRET)).filter(record)
    assert SECRET not in record.getMessage()
