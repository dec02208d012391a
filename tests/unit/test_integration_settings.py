"""An integration's block: what it may say, what it refuses by key, and what it derives (time
limits, redelivery, start-up warnings, the arguments of a call)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from worker.config import ConfigError, parse_settings
from worker.core.logins import Issued
from worker.errors import InvalidRequest
from worker.integrations.request import parse_request
from worker.lifecycle import transport_warnings
from worker.limits import worker_limits
from worker.queues import INTEGRATION_TASK
from worker.settings import Settings, TokenTiming
from worker.tokens.refresher import _ttl

SHIPPED = Path(__file__).resolve().parents[2] / "config.yaml"
ENV = {"PAYNET_PASSWORD": "pw-x", "ACQ_SECRET": "cs-secret-value"}


def block(**changes: Any) -> dict[str, Any]:
    return {
        "base_url": "https://acquiring.example",
        "token": {"secret_fields": {"client_secret": "${ACQ_SECRET}"}},
        "idempotency_header": "Idempotency-Key",
        **changes,
    }


def settings_with(env: dict[str, str] | None = None, **integrations: Any) -> Settings:
    config = yaml.safe_load(SHIPPED.read_text())
    config["integrations"] = integrations
    return parse_settings(yaml.safe_dump(config), {**ENV, **(env or {})})


@pytest.mark.parametrize(
    ("name", "changes", "named"),
    [
        ("celeryev", {}, "integrations.celeryev"),  # Celery's event exchange
        ("paynet", {}, "integrations.paynet"),
        ("default", {}, "integrations.default"),  # Paynet's profile
        ("acq", {"header": "X Token"}, "header"),
        ("acq", {"idempotency_header": "content-type"}, "idempotency_header"),
        ("acq", {"idempotency_header": "authorization"}, "idempotency_header must differ"),
        ("acq", {"scheme": "Bearer token"}, "scheme"),
        ("acq", {"rejection": {"statuses": [200]}}, "rejection.statuses"),
        ("acq", {"token": {"expiry": {"at_utc_offset": "+25:00"}}}, "at_utc_offset"),
    ],
)
def test_a_block_that_cannot_work_is_refused_naming_what(
    name: str, changes: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_with(**{name: block(**changes)})
    assert named in str(caught.value)
    assert "cs-secret-value" not in str(caught.value)


def test_no_gateway_task_is_delivered_again_while_it_may_still_run() -> None:
    slow = block(timeouts={"read": 200})
    settings = settings_with(acq=slow)
    limits = worker_limits(settings)
    hard = limits.time_limits[INTEGRATION_TASK]
    assert hard >= 4 * 200  # every send a run may make
    assert limits.soft_time_limits[INTEGRATION_TASK] < hard  # ends OutcomeUnknown, no resend
    assert limits.broker_transport_options["visibility_timeout"] > hard
    plain = worker_limits(settings_with())  # Paynet alone: as before
    assert plain.broker_transport_options["visibility_timeout"] == 300


def test_an_integration_without_tls_is_warned_about_at_start() -> None:
    settings = settings_with(
        {"PAYNET_ENV": "production", "PAYNET_TOKEN_KEY": "k" * 44},
        acq=block(base_url="http://acquiring.example", verify_tls=False),
    )
    warnings = transport_warnings(settings)
    assert any("TLS verification is OFF for integration acq" in w for w in warnings)
    assert any("integration acq is reached over plain http://" in w for w in warnings)


@pytest.mark.parametrize("key", ["order\r\nX-Evil: 1", "заказ-1", " padded", ""])
def test_an_idempotency_key_that_cannot_go_in_a_header_is_refused_before_anything_is_sent(
    key: str,
) -> None:
    settings = settings_with(acq=block())
    with pytest.raises(InvalidRequest) as caught:
        parse_request(
            {"integration": "acq", "path": "/v1/x", "idempotency_key": key}, settings.integrations
        )
    assert str(caught.value).startswith("idempotency_key:")


def test_a_token_is_kept_for_its_life_less_the_time_its_save_waited() -> None:
    answered = time.monotonic() - 12.0  # the database was out for 12 s after the answer
    life = _ttl(Issued("t", 0.1, 600.0), TokenTiming(), answered)
    assert life is not None and 587.0 < life <= 588.0
    assert _ttl(Issued("t", 0.1, None), TokenTiming(ttl=60), answered) == 60
