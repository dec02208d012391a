"""monitoring/, read without Prometheus or Grafana: the files parse and name only what exists.

Every metric an alert, a recording rule or a dashboard panel selects must be a series the
workers serve, with the labels (and label values) it matches and groups on: a misspelt name
or label is no error to Prometheus, just a rule that never fires or a panel that stays empty.
The series are read from the metric objects of worker/core/metrics.py, with the suffixes
prometheus-client gives them. The files must also fit docker-compose.yml, which mounts them:
the scrape job finds the services that serve metrics, Grafana finds its dashboards and its
Prometheus.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any, NamedTuple

import pytest
import yaml
from prometheus_client import Counter, Histogram

from tests.support.workers import REPO_ROOT
from worker import errors, queues
from worker.core import metrics
from worker.core.causes import Cause
from worker.queue_depth import QueueDepthCollector

MONITORING = REPO_ROOT / "monitoring"
COMPOSE: dict[str, Any] = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PROMETHEUS: dict[str, Any] = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
ALERTS: dict[str, Any] = yaml.safe_load((MONITORING / "alerts.yml").read_text())
GRAFANA = MONITORING / "grafana"
DATASOURCES: dict[str, Any] = yaml.safe_load(
    (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
)
PROVIDERS: dict[str, Any] = yaml.safe_load(
    (GRAFANA / "provisioning" / "dashboards" / "paynet-gateway.yml").read_text()
)
DASHBOARDS = {
    path.name: json.loads(path.read_text()) for path in (GRAFANA / "dashboards").iterdir()
}
RULES = [rule for group in ALERTS["groups"] for rule in group["rules"]]
JOB = "paynet-worker"


# The series the workers serve


def exported_series() -> dict[str, frozenset[str]]:
    """Each series name the worker's endpoint serves, with its label names.

    Fresh metric objects, in no registry, each given one child: their samples carry the names
    prometheus-client serves (``_total`` for a counter; ``_bucket`` with ``le``, ``_sum`` and
    ``_count`` for a histogram). ``_created`` is left out: the worker serves its counts in
    multiprocess mode, which has none.
    """
    series: dict[str, frozenset[str]] = {}
    built = metrics._build()  # what the worker builds; private, as no caller needs the objects
    for field in dataclasses.fields(built):
        metric: Counter | Histogram = getattr(built, field.name)
        metric.labels(*("x" for _ in metric._labelnames))  # a child, so that samples exist
        for family in metric.collect():
            for sample in family.samples:
                if not sample.name.endswith("_created"):
                    series[sample.name] = frozenset(sample.labels)
    # Read at each scrape by a collector of its own (worker/core/metrics.py), not a metric object.
    series["paynet_ledger_keys"] = frozenset({"state"})
    # Computed at each scrape from the broker (worker/queue_depth.py).
    for family in QueueDepthCollector(lambda: {"paynet": 1}).collect():
        for sample in family.samples:
            series[sample.name] = frozenset(sample.labels)
    return series


EXPORTED = exported_series()
# The label values the gateway records, where a rule or panel matches on a value. The causes
# are worker/core/causes.py's; the other values are written where the metric is counted
# (worker/tokens/refresher.py, provider.py, coordination.py and worker/paynet/client.py).
CAUSES = {str(cause) for cause in Cause}
LABEL_VALUES = {
    ("paynet_logins_total", "outcome"): {"succeeded", *CAUSES},
    ("paynet_token_wait_seconds", "outcome"): {"token", "gave_up"},
    ("paynet_call_errors_total", "error"): set(errors.__all__),
    ("paynet_queue_depth", "queue"): {
        value for name, value in vars(queues).items() if name.endswith("_QUEUE")
    },
    ("paynet_refresh_requests_total", "result"): {"enqueued", "deduplicated"},
    ("paynet_call_duration_seconds", "outcome"): {"result", "rpc_error", *CAUSES},
    ("paynet_ledger_keys", "state"): {"received", "sent", "unknown"},
}
# Series Prometheus writes itself for every target of a scrape job.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


def target_labels() -> frozenset[str]:
    """The labels every scraped series gets: job, instance and those the job's relabelling sets."""
    (job,) = PROMETHEUS["scrape_configs"]
    return frozenset({"job", "instance"} | {r["target_label"] for r in job["relabel_configs"]})


def labels_of(name: str) -> frozenset[str]:
    if name in PROMETHEUS_SERIES:
        return target_labels()
    return EXPORTED[name] | target_labels()


# What an expression names: a PromQL reader just deep enough for that


class Selector(NamedTuple):
    metric: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, operator, value)


_TOKEN = re.compile(
    r"""
    (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<matchers>\{(?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[^{}"'])*\})
  | (?P<range>\[[^\]]*\])
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+\b)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<variable>\$\w+)
  | (?P<name>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<other>[^\s\w])
    """,
    re.VERBOSE,
)
_MATCHER = re.compile(r"""\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:\\.|[^"\\])*)"\s*,?""")
AGGREGATIONS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}  # fmt: skip
GROUPINGS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "Inf", "NaN"}


def tokens(expr: str) -> list[tuple[str, str]]:
    found = [(m.lastgroup or "", m.group()) for m in _TOKEN.finditer(expr)]
    assert not [text for kind, text in found if kind == "other" and text in "{}[]\"'`"], expr
    depth = 0
    for kind, _ in found:
        depth += {"open": 1, "close": -1}.get(kind, 0)
        assert depth >= 0, f"unbalanced parentheses: {expr}"
    assert depth == 0, f"unbalanced parentheses: {expr}"
    return found


def read(expr: str) -> tuple[list[Selector], set[str]]:
    """The selectors of a PromQL expression, and the labels it groups or matches on."""
    found = tokens(expr)
    selectors: list[Selector] = []
    grouped: set[str] = set()
    index = 0
    while index < len(found):
        kind, text = found[index]
        following = found[index + 1][0] if index + 1 < len(found) else ""
        if kind == "name" and text in GROUPINGS and following == "open":
            end = next(i for i in range(index, len(found)) if found[i][0] == "close")
            grouped |= {t for k, t in found[index + 2 : end] if k == "name"}
            index = end
        elif kind == "name" and not (
            text in AGGREGATIONS or text in GROUPINGS or text in KEYWORDS or following == "open"
        ):
            matchers = found[index + 1][1] if following == "matchers" else "{}"
            selectors.append(Selector(text, parse_matchers(matchers)))
        elif kind == "matchers" and (index == 0 or found[index - 1][0] != "name"):
            pytest.fail(f"a selector without a metric name: {expr}")
        index += 1
    return selectors, grouped


def parse_matchers(braces: str) -> tuple[tuple[str, str, str], ...]:
    inner = braces[1:-1]
    parsed = _MATCHER.findall(inner)
    assert "".join(m.group() for m in _MATCHER.finditer(inner)).strip() == inner.strip(), braces
    return tuple(parsed)


def unknown_names(expr: str) -> list[str]:
    """What an expression names that the gateway (or Prometheus, for a target) never serves."""
    selectors, grouped = read(expr)
    problems = []
    available: set[str] = set()
    for selector in selectors:
        if selector.metric not in EXPORTED and selector.metric not in PROMETHEUS_SERIES:
            problems.append(f"metric {selector.metric} is not exported")
            continue
        labels = labels_of(selector.metric)
        available |= labels
        for label, operator, value in selector.matchers:
            if label not in labels:
                problems.append(f"{selector.metric} has no label {label}")
            elif label == "job" and operator == "=" and value != JOB:
                problems.append(f"no scrape job is called {value}")
            else:
                problems += unknown_values(selector.metric, label, operator, value)
    problems += [f"no selected metric has the label {label}" for label in grouped - available]
    return problems


def unknown_values(metric: str, label: str, operator: str, value: str) -> list[str]:
    histogram = re.sub(r"_(bucket|sum|count)$", "", metric)
    known = LABEL_VALUES.get((metric, label)) or LABEL_VALUES.get((histogram, label))
    if known is None or "$" in value:
        return []  # a label whose values the gateway does not fix, or a dashboard variable
    asked = value.split("|") if operator in ("=~", "!~") else [value]
    return [f'{metric}{{{label}="{v}"}} is never recorded' for v in asked if v not in known]


def dashboard_exprs() -> Iterator[tuple[str, str]]:
    def walk(node: Any, where: str) -> Iterator[tuple[str, str]]:
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                yield where, node["expr"]
            for key, value in node.items():
                yield from walk(value, f"{where}/{node.get('title', key)}")
        elif isinstance(node, list):
            for item in node:
                yield from walk(item, where)

    for name, dashboard in DASHBOARDS.items():
        yield from walk(dashboard.get("panels", []), name)


DASHBOARD_EXPRS = list(dashboard_exprs())


def grafana_expr(expr: str) -> str:
    """Grafana's variables replaced as Grafana does before Prometheus sees the query."""
    return expr.replace("$__rate_interval", "1m").replace("$__interval", "1m")


# The reader, on expressions whose answer is known


@pytest.mark.parametrize(
    ("expr", "selected", "grouped"),
    [
        ('sum by (profile) (increase(paynet_logins_total{outcome="refused"}[10m])) > 0',
         [("paynet_logins_total", (("outcome", "=", "refused"),))], {"profile"}),
        ("histogram_quantile(0.95, sum(rate(x_bucket[5m])) by (le)) > 0.75 * 30",
         [("x_bucket", ())], {"le"}),
        ('a / on (instance) group_left b{job=~"p|q", le!="1"} offset 5m',
         [("a", ()), ("b", (("job", "=~", "p|q"), ("le", "!=", "1")))], {"instance"}),
    ],
)  # fmt: skip
def test_the_reader_finds_the_selectors_and_the_labels_an_expression_groups_by(
    expr: str, selected: list[tuple[str, tuple[tuple[str, str, str], ...]]], grouped: set[str]
) -> None:
    assert read(expr) == ([Selector(*s) for s in selected], grouped)


def test_the_exported_series_carry_prometheus_suffixes_and_their_labels() -> None:
    assert EXPORTED["paynet_logins_total"] == {"profile", "outcome"}
    assert EXPORTED["paynet_token_wait_seconds_bucket"] == {"profile", "outcome", "le"}
    assert EXPORTED["paynet_call_duration_seconds_count"] == {"method", "outcome"}
    assert "paynet_logins" not in EXPORTED  # a counter is only served with _total
    assert "paynet_token_wait_seconds" not in EXPORTED
    assert not [name for name in EXPORTED if name.endswith("_created")]


# The files parse, and are what their readers expect


def test_the_monitoring_files_parse_as_what_prometheus_and_grafana_read() -> None:
    assert PROMETHEUS["rule_files"] == ["alerts.yml"]
    assert [job["job_name"] for job in PROMETHEUS["scrape_configs"]] == [JOB]
    assert DATASOURCES["apiVersion"] == 1 and PROVIDERS["apiVersion"] == 1
    (datasource,) = DATASOURCES["datasources"]
    assert datasource["type"] == "prometheus"
    (provider,) = PROVIDERS["providers"]
    assert provider["type"] == "file"
    assert set(DASHBOARDS) == {"paynet-gateway.json"}


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.get("alert") or rule.get("record"))
def test_every_rule_is_a_well_formed_alert_or_recording_rule(rule: dict[str, Any]) -> None:
    assert isinstance(rule["expr"], str)
    if "record" in rule:
        assert set(rule) <= {"record", "expr", "labels"}
        assert re.fullmatch(r"[a-z_]+:[a-z_]+:[a-z0-9_]+", rule["record"])  # level:metric:ops
        return
    assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
    assert re.fullmatch(r"Paynet[A-Za-z]+", rule["alert"])
    assert re.fullmatch(r"\d+[smh]", rule.get("for", "0s"))
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert set(rule["annotations"]) == {"summary", "description"}
    for text in rule["annotations"].values():
        used = set(re.findall(r"\$labels\.(\w+)", text))
        _, grouped = read(rule["expr"])
        assert used <= grouped, f"{rule['alert']} writes labels its expression drops: {used}"


def test_every_alert_has_a_name_of_its_own() -> None:
    names = [rule["alert"] for rule in RULES if "alert" in rule]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    "rule", RULES, ids=lambda rule: rule.get("alert") or rule.get("record") or "?"
)
def test_every_metric_a_rule_names_is_exported_with_the_labels_it_uses(
    rule: dict[str, Any],
) -> None:
    assert unknown_names(rule["expr"]) == []


@pytest.mark.parametrize(("panel", "expr"), DASHBOARD_EXPRS, ids=[p for p, _ in DASHBOARD_EXPRS])
def test_every_metric_a_dashboard_panel_names_is_exported_with_the_labels_it_uses(
    panel: str, expr: str
) -> None:
    assert unknown_names(grafana_expr(expr)) == []


def test_the_dashboard_variables_read_labels_the_gateway_exports() -> None:
    for dashboard in DASHBOARDS.values():
        for variable in dashboard["templating"]["list"]:
            found = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", variable["definition"])
            assert found, variable["definition"]
            assert found[2] in labels_of(found[1])


def test_there_is_something_to_check() -> None:
    assert len(RULES) >= 5
    assert len(DASHBOARD_EXPRS) >= 10


# What the alerts are for, and the settings they mirror


def config_default(*keys: str) -> float:
    """The default config.yaml gives a setting (``${VAR:-default}``)."""
    node: Any = yaml.safe_load((REPO_ROOT / "config.yaml").read_text())
    for key in keys:
        node = node[key]
    found = re.fullmatch(r"\$\{\w+:-([^}]*)\}", str(node))
    return float(found[1] if found else node)


def alert(name: str) -> str:
    (expr,) = [rule["expr"] for rule in RULES if rule.get("alert") == name]
    return " ".join(expr.split())


def duration(text: str) -> int:
    """A PromQL duration of one unit (all these files write)."""
    found = re.fullmatch(r"(\d+)([smh])", text)
    assert found, text
    return int(found[1]) * {"s": 1, "m": 60, "h": 3600}[found[2]]


def test_the_refused_credentials_alert_outlasts_the_refusal_cool_down() -> None:
    expr = alert("PaynetCredentialsRefused")
    assert 'paynet_logins_total{outcome="refused"}' in expr
    (window,) = re.findall(r"\[(\w+)\]", expr)
    assert duration(window) >= 2 * config_default("token", "refused_cooldown")


def test_the_login_failures_alert_leaves_the_refusals_to_their_own() -> None:
    assert 'paynet_logins_total{outcome!~"succeeded|refused"}' in alert("PaynetLoginFailures")


def test_the_login_budget_alert_fires_on_a_deferred_refresh() -> None:
    assert "paynet_login_budget_deferrals_total" in alert("PaynetLoginBudgetUsedUp")


def test_unknown_ledger_keys_raise_an_alert_until_an_operator_settles_them() -> None:
    assert alert("PaynetLedgerUnknownKeys") == 'max(paynet_ledger_keys{state="unknown"}) > 0'


def test_the_worker_and_queue_alerts_watch_the_live_targets_and_the_queue_depth() -> None:
    assert 'absent(up{job="paynet-worker"})' in alert("PaynetNoLiveWorker")
    assert "max by (queue) (paynet_queue_depth)" in alert("PaynetQueueBacklog")


def test_the_outcome_unknown_and_provider_unavailable_rates_have_alerts() -> None:
    assert 'error="OutcomeUnknown"' in alert("PaynetOutcomeUnknown")
    assert 'error="ProviderUnavailable"' in alert("PaynetProviderUnavailable")


def test_the_token_wait_alerts_are_set_by_the_wait_bound() -> None:
    near = alert("PaynetTokenWaitsNearBound")
    assert 'paynet_token_wait_seconds_bucket{outcome="token"}' in near
    found = re.search(r"\) > 0\.75 \* (\d+)$", near)
    assert found, near
    bound = config_default("token", "wait_timeout")
    assert float(found[1]) == bound
    # The histogram has buckets on both sides of the threshold, or the percentile cannot tell.
    assert min(metrics.WAIT_BUCKETS) < 0.75 * bound <= bound <= max(metrics.WAIT_BUCKETS)
    assert 'paynet_token_wait_seconds_count{outcome="gave_up"}' in alert("PaynetTokenWaitsGaveUp")


# The files fit docker-compose.yml


def mounts(service: str) -> dict[str, PurePosixPath]:
    """The repository paths a compose service mounts, and where it mounts them."""
    found = {}
    for volume in SERVICES[service]["volumes"]:
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            assert (REPO_ROOT / source).exists(), source
            found[source[2:]] = PurePosixPath(target)
    return found


def test_prometheus_scrapes_every_compose_service_that_serves_metrics_on_its_port() -> None:
    (job,) = PROMETHEUS["scrape_configs"]
    (discovery,) = job["dns_sd_configs"]
    serving = {
        name: int(spec["environment"]["METRICS_PORT"])
        for name, spec in SERVICES.items()
        if "METRICS_PORT" in (spec.get("environment") or {})
    }
    assert set(discovery["names"]) == set(serving)
    assert discovery["type"] == "A"
    assert set(serving.values()) == {discovery["port"]}
    for name in serving:
        assert str(discovery["port"]) in SERVICES[name]["expose"]


def test_prometheus_in_compose_reads_this_configuration_and_these_rules() -> None:
    mounted = mounts("prometheus")
    config = mounted["monitoring/prometheus.yml"]
    assert config == PurePosixPath("/etc/prometheus/prometheus.yml")  # the image's default
    for rule_file in PROMETHEUS["rule_files"]:  # relative to the configuration file
        assert mounted[f"monitoring/{rule_file}"] == config.parent / rule_file


def test_grafana_in_compose_finds_its_provisioning_its_dashboards_and_prometheus() -> None:
    mounted = mounts("grafana")
    assert mounted["monitoring/grafana/provisioning"] == PurePosixPath("/etc/grafana/provisioning")
    (provider,) = PROVIDERS["providers"]
    assert mounted["monitoring/grafana/dashboards"] == PurePosixPath(provider["options"]["path"])
    (datasource,) = DATASOURCES["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    assert any(port.endswith(":9090") for port in SERVICES["prometheus"]["ports"])


# The dashboard itself


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_the_dashboard_asks_the_provisioned_datasource_and_its_panels_do_not_overlap(
    name: str,
) -> None:
    dashboard = DASHBOARDS[name]
    (datasource,) = DATASOURCES["datasources"]
    panels = dashboard["panels"]
    assert dashboard["uid"] and dashboard["title"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == datasource["uid"], panel["title"]
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        covered = {
            (x, y)
            for x in range(box["x"], box["x"] + box["w"])
            for y in range(box["y"], box["y"] + box["h"])
        }
        assert not covered & cells, f"{panel['title']} overlaps another panel"
        cells |= covered
