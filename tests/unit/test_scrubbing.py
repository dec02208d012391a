"""What leaves the process besides log lines: span attributes and error reports, scrubbed."""

from __future__ import annotations

import pytest

from worker import tracing
from worker.config import ConfigError
from worker.core.redaction import MASK, register_token
from worker.core.scrubbing import before_send, scrub_attributes, scrub_url

TOKEN = "RV5LwDHwB1ZJUBEfDbRNNaA64LynT5VG-scrub"


@pytest.mark.parametrize(
    "name",
    [
        "celery.args",
        "celery.kwargs",
        "paynet.params",
        "payment.fields",
        "amount",
        "http.request.header.authorization",
        "db.password",
        "refresh.token",
        "http.request.body",
    ],
)
def test_an_attribute_whose_name_says_argument_or_credential_is_dropped(name: str) -> None:
    assert scrub_attributes({name: "anything", "celery.task_name": "paynet.call"}) == {
        "celery.task_name": "paynet.call"
    }


def test_a_url_keeps_its_host_and_path_and_loses_its_user_password_and_query() -> None:
    url = "https://user:pa55word@paynet.example:8443/api/v2/user?token=abc#x"
    assert scrub_url(url) == "https://paynet.example:8443/api/v2/user"
    assert scrub_attributes({"url.full": url}) == {"url.full": scrub_url(url)}


def test_a_known_token_is_masked_in_any_attribute_value_and_in_an_error_report() -> None:
    register_token(TOKEN)
    attributes = scrub_attributes({"exception.message": f"bad {TOKEN}", "n": 3})
    assert attributes == {"exception.message": f"bad {MASK}", "n": 3}
    event = {"exception": {"values": [{"value": f"token {TOKEN} refused"}]}, "level": "error"}
    assert TOKEN not in str(before_send(event, None))


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({}, None),
        ({"OTEL_TRACES_EXPORTER": "none"}, None),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, None),
        ({"OTEL_TRACES_EXPORTER": "OTLP"}, "otlp"),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console"),
    ],
)
def test_tracing_is_off_unless_the_standard_variables_name_an_exporter(
    environ: dict[str, str], wanted: str | None
) -> None:
    assert tracing.wanted(environ) == wanted


def test_an_unknown_exporter_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="OTEL_TRACES_EXPORTER: 'zipkin'"):
        tracing.wanted({"OTEL_TRACES_EXPORTER": "zipkin"})
