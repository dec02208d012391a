"""Configuration: interpolation, validation, and errors that name the key but not the secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from worker.config import (
    ConfigError,
    load_infrastructure,
    load_operator_settings,
    load_settings,
    out_of_reach,
    parse_infrastructure,
    parse_settings,
    shown_url,
)
from worker.settings import Infrastructure, OperatorSettings

SHIPPED = Path(__file__).resolve().parents[2] / "config.yaml"
SECRET = "pw-very-secret-Zx81"
ENV = {"PAYNET_PASSWORD": SECRET}


def test_the_shipped_file_loads_with_only_the_password_set() -> None:
    settings = load_settings(SHIPPED, ENV)
    profile = settings.profile("default")
    assert profile.password.get_secret_value() == SECRET
    assert profile.terminal_id == 4027096
    assert settings.token.ttl is None
    assert profile.token_placement == "top_level"


def test_variables_override_the_defaults_with_their_types() -> None:
    env = {**ENV, "PAYNET_TERMINAL_ID": "77", "PAYNET_TOKEN_TTL": "600", "REDIS_URL": "redis://h/1"}
    settings = load_settings(SHIPPED, env)
    assert settings.profile("default").terminal_id == 77
    assert settings.token.ttl == 600
    assert settings.redis.url == "redis://h/1"


def test_a_bare_postgresql_url_means_psycopg2() -> None:
    settings = load_settings(SHIPPED, {**ENV, "DATABASE_URL": "postgresql://db:5432/pay"})
    assert settings.database.url == "postgresql+psycopg2://db:5432/pay"


def test_a_missing_password_names_the_variable_and_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(SHIPPED, {})
    assert "PAYNET_PASSWORD" in str(caught.value)
    assert "paynet.profiles.default.password" in str(caught.value)


def test_a_wrong_type_names_the_key_without_echoing_values() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(SHIPPED, {**ENV, "PAYNET_TERMINAL_ID": "abc"})
    assert "paynet.profiles.default.terminal_id" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert "abc" not in str(caught.value)


def test_an_unknown_key_is_refused_by_name() -> None:
    text = SHIPPED.read_text() + "\nsurprise: 1\n"
    with pytest.raises(ConfigError, match="surprise: unknown key"):
        parse_settings(text, ENV)


def test_a_secret_in_an_invalid_place_is_not_printed() -> None:
    text = SHIPPED.read_text().replace("login_path: /v2/user", "login_path: ${PAYNET_PASSWORD}")
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, ENV)
    assert "login_path" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value.__context__)


def test_settings_never_show_the_password() -> None:
    settings = load_settings(SHIPPED, ENV)
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.profile("default"))


def test_a_processing_window_shorter_than_a_run_of_a_call_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"status_methods\.performTransaction\.max_processing"):
        load_settings(SHIPPED, {**ENV, "PAYNET_MAX_PROCESSING": "60"})


def test_the_shipped_status_method_judges_a_found_transaction_by_its_traced_status() -> None:
    status = load_settings(SHIPPED, ENV).ledger.status_methods["performTransaction"]
    assert status.status_field == "status"
    assert status.succeeded_statuses == ("0",)
    assert status.failed_statuses == status.in_progress_statuses == ()


def with_status_method(**changes: Any) -> str:
    """The shipped file with ``performTransaction``'s status method changed (None: removed)."""
    raw = yaml.safe_load(SHIPPED.read_text())
    status = raw["ledger"]["status_methods"]["performTransaction"]
    status.update(changes)
    raw["ledger"]["status_methods"]["performTransaction"] = {
        key: value for key, value in status.items() if value is not None
    }
    return yaml.safe_dump(raw)


def test_an_old_file_judging_by_state_is_refused_naming_each_key_and_its_replacement() -> None:
    old = with_status_method(
        status_field=None, succeeded_statuses=None, state_field="state", succeeded_states=[1]
    )
    with pytest.raises(ConfigError) as caught:
        parse_settings(old, ENV)
    message = str(caught.value)
    key = "ledger.status_methods.performTransaction"
    assert f"{key}.state_field: unknown key, replaced by status_field" in message
    assert f"{key}.succeeded_states: unknown key, replaced by succeeded_statuses" in message


@pytest.mark.parametrize(
    ("changes", "succeeded", "failed"),
    [
        ({"succeeded_statuses": ["0"]}, ("0",), ()),
        ({"succeeded_statuses": [0], "failed_statuses": [-2, "5"]}, ("0",), ("-2", "5")),
    ],
)
def test_statuses_are_strings_and_an_integer_counts_as_its_decimal_text(
    changes: dict[str, Any], succeeded: tuple[str, ...], failed: tuple[str, ...]
) -> None:
    settings = parse_settings(with_status_method(**changes), ENV)
    status = settings.ledger.status_methods["performTransaction"]
    assert (status.succeeded_statuses, status.failed_statuses) == (succeeded, failed)


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"succeeded_statuses": [True]}, r"succeeded_statuses: .*never true or false"),
        ({"failed_statuses": [0.5]}, r"failed_statuses\.0: "),
        (
            {"succeeded_statuses": ["0"], "in_progress_statuses": [0]},
            r"performTransaction: .*'0' is in both succeeded_statuses and in_progress_statuses",
        ),
        ({"status_field": ""}, r"status_field: "),
    ],
)
def test_a_status_that_could_mean_two_things_or_is_no_status_is_refused_by_key(
    changes: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ConfigError, match=complaint):
        parse_settings(with_status_method(**changes), ENV)


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(ConfigError, match="line"):
        parse_settings("paynet: [\n", ENV)


def test_the_infrastructure_loads_with_no_paynet_variable_set() -> None:
    settings = load_infrastructure(SHIPPED, {"REDIS_URL": "redis://h:1/0"})
    assert type(settings) is Infrastructure
    assert settings.broker_url() == settings.result_backend() == "redis://h:1/0"
    assert settings.database.url == "sqlite:///paynet-gateway.db"


def test_the_infrastructure_does_not_even_read_the_paynet_sections() -> None:
    settings = load_infrastructure(SHIPPED, {"PAYNET_TERMINAL_ID": "abc", "PAYNET_ENV": "x"})
    assert settings.logging.level == "INFO"


def test_the_infrastructure_still_refuses_its_own_mistakes_by_key() -> None:
    with pytest.raises(ConfigError, match=r"redis\.url: .*must start with redis://"):
        load_infrastructure(SHIPPED, {"REDIS_URL": "localhost:6379"})
    with pytest.raises(ConfigError, match=r"metrics\.surprise: unknown key"):
        parse_infrastructure(SHIPPED.read_text() + "  surprise: 1\n", {})


def test_the_operator_settings_load_without_the_password_and_hold_none() -> None:
    settings = load_operator_settings(SHIPPED, {})
    assert type(settings) is OperatorSettings
    assert list(settings.paynet.profiles) == ["default"]
    assert not hasattr(settings.profile("default"), "password")
    assert settings.agent_ids() == {"performTransaction": "id"}


def test_the_operator_settings_validate_the_profiles_like_the_worker() -> None:
    with pytest.raises(ConfigError, match=r"paynet\.profiles\.default\.terminal_id"):
        load_operator_settings(SHIPPED, {"PAYNET_TERMINAL_ID": "abc"})


def test_a_setting_is_named_with_the_variables_the_file_reads_it_from() -> None:
    settings = load_infrastructure(SHIPPED, {})
    assert settings.named("database.url") == "database.url (DATABASE_URL)"
    assert settings.named(settings.broker_key()) == "redis.url (REDIS_URL)"
    written = parse_infrastructure("database: {url: 'sqlite://'}\nredis: {url: 'redis://h'}", {})
    assert written.named("database.url") == "database.url"
    overridden = load_infrastructure(SHIPPED, {"CELERY_BROKER_URL": "redis://b:1/0"})
    assert overridden.named(overridden.broker_key()) == "celery.broker_url (CELERY_BROKER_URL)"


def test_a_server_out_of_reach_is_named_without_its_password() -> None:
    url = "postgresql://paynet:pw-db-Q81@db:5432/pay"
    settings = load_infrastructure(SHIPPED, {"DATABASE_URL": url})
    assert shown_url(url) == "postgresql://paynet:***@db:5432/pay"
    line = out_of_reach(settings, "database.url", url, OSError(f"cannot use {url}"))
    assert line == (
        "database.url (DATABASE_URL) postgresql://paynet:***@db:5432/pay: "
        "OSError: cannot use postgresql://paynet:***@db:5432/pay"
    )


def test_an_old_file_with_token_settings_that_are_gone_is_refused_naming_each_key() -> None:
    raw = yaml.safe_load(SHIPPED.read_text())
    raw["token"] = {**raw["token"], "lock_ttl": 30, "wait_step": 0.1, "max_refresh_cycles": 3}
    raw["token"].pop("refresh_request_ttl")
    with pytest.raises(ConfigError) as caught:
        parse_settings(yaml.safe_dump(raw), ENV)
    message = str(caught.value)
    assert "token.lock_ttl: unknown key, replaced by refresh_request_ttl" in message
    assert "token.wait_step: unknown key: no longer a setting" in message
    assert "token.max_refresh_cycles: unknown key: no longer a setting" in message


def test_a_token_lifetime_within_the_expiry_leeway_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"token\.ttl"):
        load_settings(SHIPPED, {**ENV, "PAYNET_TOKEN_TTL": "4"})
