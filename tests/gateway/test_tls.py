"""TLS to Paynet: verified by default, a private CA by setting, and "off" only loudly."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from urllib3.exceptions import InsecureRequestWarning

from simulator import Simulator
from tests.conftest import TERMINAL_ID, USERNAME
from tests.support.tls import Certificate, self_signed, serve_tls
from tests.support.workers import WorkerPool
from worker.config import load_settings
from worker.core.causes import Cause
from worker.lifecycle import transport_warnings
from worker.paynet.client import PaynetClient
from worker.paynet.failures import LoginFailure, TransportFailure
from worker.settings import ProfileSettings


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_url(simulator: Simulator, certificate: Certificate, clean: None) -> Iterator[str]:
    with serve_tls(simulator.state, certificate) as url:
        yield url


def client(url: str, password: str, **tls: object) -> PaynetClient:
    profile = ProfileSettings(
        base_url=url,
        username=USERNAME,
        password=password,  # type: ignore[arg-type]
        terminal_id=TERMINAL_ID,
        **tls,  # type: ignore[arg-type]
    )
    return PaynetClient(profile)


def test_verification_is_on_unless_a_setting_turns_it_off() -> None:
    profile = ProfileSettings(
        base_url="https://paynet.example",
        username=USERNAME,
        password="x",  # type: ignore[arg-type]
        terminal_id=TERMINAL_ID,
    )
    assert profile.verify_tls is True
    assert profile.ca_bundle is None


def test_a_login_to_a_server_with_an_untrusted_certificate_fails_as_unreachable(
    https_url: str, password: str, simulator: Simulator
) -> None:
    with pytest.raises(LoginFailure) as caught:
        client(https_url, password).login()
    assert caught.value.cause is Cause.UNREACHABLE
    assert "TLS" in caught.value.detail
    assert simulator.stats()["logins_attempted"] == 0


def test_a_call_to_a_server_with_an_untrusted_certificate_is_never_sent(
    https_url: str, password: str, simulator: Simulator
) -> None:
    with pytest.raises(TransportFailure) as caught:
        client(https_url, password).call("echo", {}, token="t" * 32)
    assert caught.value.cause is Cause.UNREACHABLE
    assert caught.value.maybe_sent is False
    assert simulator.stats()["calls"] == 0


def test_the_private_ca_bundle_setting_makes_the_certificate_trusted(
    https_url: str, password: str, certificate: Certificate, simulator: Simulator
) -> None:
    success = client(https_url, password, ca_bundle=str(certificate.cert)).login()
    assert success.token in simulator.issued_tokens()


def test_verification_switched_off_connects_to_an_untrusted_server(
    https_url: str, password: str, simulator: Simulator
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureRequestWarning)
        success = client(https_url, password, verify_tls=False).login()
    assert success.token in simulator.issued_tokens()


def test_a_worker_with_verification_off_says_so_in_a_warning_at_start_up(
    start_workers: Callable[..., WorkerPool],
) -> None:
    workers = start_workers(processes=1, concurrency=1, env={"PAYNET_VERIFY_TLS": "false"})
    warnings_logged = [line for line in workers.logs().splitlines() if " WARNING " in line]
    assert any("TLS verification is OFF" in line for line in warnings_logged)


def test_a_worker_with_verification_on_gives_no_tls_warning(
    start_workers: Callable[..., WorkerPool],
) -> None:
    workers = start_workers(processes=1, concurrency=1)
    assert "TLS verification is OFF" not in workers.logs()


def test_the_shipped_configuration_reads_the_ca_bundle_from_the_environment(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        env={"PAYNET_PASSWORD": "pw-1234567", "PAYNET_CA_BUNDLE": str(tmp_path / "ca.pem")}
    )
    assert settings.profile("default").ca_bundle == str(tmp_path / "ca.pem")
    assert settings.profile("default").verify_tls is True


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PAYNET_BASE_URL": "https://paynet.example"}, []),
        ({"PAYNET_BASE_URL": "http://127.0.0.1:8765"}, []),
        ({"PAYNET_BASE_URL": "https://paynet.example", "PAYNET_VERIFY_TLS": "false"}, ["OFF"]),
        ({"PAYNET_BASE_URL": "http://paynet.example", "PAYNET_ENV": "production"}, ["http://"]),
    ],
)
def test_start_up_warns_when_credentials_could_travel_unprotected(
    env: dict[str, str], expected: list[str]
) -> None:
    settings = load_settings(env={"PAYNET_PASSWORD": "pw-1234567", "PAYNET_TOKEN_KEY": "k", **env})
    warnings_given = transport_warnings(settings)
    assert len(warnings_given) == len(expected)
    assert all(word in line for word, line in zip(expected, warnings_given, strict=True))
