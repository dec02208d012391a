"""The benchmark's arithmetic: percentiles and throughput from raw timings, the kinds of the
gateway's Redis commands, and a storm's profile from the moments the workers noted."""

from __future__ import annotations

import math

import pytest

from bench.counters import MARK, NOTE, REFRESHER, REQUEST, gateway_command
from bench.profile import profile
from bench.stats import percentile, summarize


@pytest.mark.parametrize(
    ("fraction", "expected"), [(0.5, 50.0), (0.99, 99.0), (1.0, 100.0), (0.001, 1.0)]
)
def test_percentile_is_the_nearest_rank(fraction: float, expected: float) -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, fraction) == expected


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 0.5))


def test_summary_measures_latency_per_task_and_throughput_over_the_whole_span() -> None:
    timing = summarize(sent=[0.0, 0.0, 1.0, 1.0], done=[0.5, 1.0, 1.5, 2.0])
    assert timing.count == 4
    assert timing.seconds == 2.0
    assert timing.per_second == 2.0
    assert timing.p50 == 0.5
    assert timing.maximum == 1.0


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        (("GET", "paynet:token-state:default"), MARK),
        (("SET", "paynet:token-state:default", "f00", "NX"), MARK),
        (("SET", "paynet:token-state:default", "f00"), REFRESHER),
        (("SET", "paynet:refresh-requested:default:3", "1", "EX", 30, "NX"), REQUEST),
        (("SET", "paynet:refresh-requested:default:3", "running", "EX", 6), REFRESHER),
        (("HSET", "paynet:token-rejected:default", "generation", 3), NOTE),
        (("EVALSHA", "abc", 1, "paynet:logins:default"), REFRESHER),
        ((b"GET", b"paynet:token-state:default"), MARK),
    ],
)
def test_the_gateways_redis_commands_are_told_apart_by_command_and_key(
    args: tuple[object, ...], kind: str
) -> None:
    assert gateway_command(args) == kind


def test_a_storm_profile_times_each_refresh_from_its_request_to_its_saved_token() -> None:
    events = {
        "requested:1": "10.0",
        "refresh:1": "10.02,10.1",
        "login:a": "10.03,10.08",
        "login:b": "20.0,20.05",  # another refresh's
    }
    found = profile(events, caught={}, ends={})
    assert found.pickup == pytest.approx([0.02])
    assert found.to_login == pytest.approx([0.01])
    assert found.login == pytest.approx([0.05])
    assert found.saving == pytest.approx([0.02])


def test_a_caught_task_is_timed_from_the_saved_token_to_its_next_run() -> None:
    events = {
        "refresh:1": "10.0,10.1",
        "run:t:1": "10.05,10.04",  # still waiting
        "run:t:2": "10.15,10.15",  # finds the token
        "run:u:1": "9.0,9.0",  # another task, before this one was caught
    }
    found = profile(events, caught={"t": (10.0, 1), "u": (10.0, 1)}, ends={"t": 10.2})
    assert sorted(found.retries) == [0, 2]
    assert found.resumed == pytest.approx([0.05])
    assert found.last_run == pytest.approx([0.05])
    assert found.late == pytest.approx([0.01, 0.0])


def test_a_refresh_run_without_a_login_has_no_login_phases() -> None:
    found = profile({"refresh:2": "1.0,1.01"}, caught={}, ends={})
    assert (found.pickup, found.login, found.saving) == ([], [], [])
