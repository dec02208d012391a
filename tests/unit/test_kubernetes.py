"""deploy/kubernetes, rendered by kustomize and checked offline against the Kubernetes schemas.

``kubectl kustomize`` renders the production overlay (skipped, saying so, where no kubectl is on
PATH); kubernetes-validate judges every object against the schemas of a Kubernetes release it
bundles, KEDA's ScaledObject against tests/support/keda_scaledobject.schema.json. The rest
checks what the manifests promise against the code: the queues, the time limits behind the
grace periods, the probe commands, secrets as files, the database connections at full scale.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from tests.support.workers import REPO_ROOT
from worker import queues
from worker.cli import cli as paynet_gateway
from worker.config import parse_operator_settings
from worker.probes.__main__ import main as probe_main
from worker.settings import OperatorSettings

KUBERNETES = "1.30.0"  # the oldest release the manifests support
BASE = REPO_ROOT / "deploy" / "kubernetes" / "base"
OVERLAY = REPO_ROOT / "deploy" / "kubernetes" / "overlays" / "production"
KEDA_SCHEMA = json.loads((REPO_ROOT / "tests/support/keda_scaledobject.schema.json").read_text())
SECRETS = "/run/secrets/paynet"
SECRET_FILES = {"PAYNET_PASSWORD_FILE", "PAYNET_TOKEN_KEY_FILE", "DATABASE_URL_FILE"}
# PostgreSQL's default max_connections (100) less its superuser_reserved_connections (3).
POSTGRES_CONNECTIONS = 97


def render() -> list[dict[str, Any]]:
    if shutil.which("kubectl") is None:
        pytest.skip("no kubectl on PATH: kustomize is built into it")
    done = subprocess.run(
        ["kubectl", "kustomize", str(OVERLAY)], capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [document for document in yaml.safe_load_all(done.stdout) if document]


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return render()


def one(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}"
    return found[0]


def container(workload: dict[str, Any]) -> dict[str, Any]:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return dict(only)


def environment(objects: list[dict[str, Any]], workload: dict[str, Any]) -> dict[str, str]:
    """The variables a container gets: its ConfigMaps', then its own plain values."""
    found: dict[str, str] = {}
    for source in container(workload).get("envFrom", []):
        found.update(one(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    for variable in container(workload).get("env", []):
        if "value" in variable:
            found[variable["name"]] = variable["value"]
    return found


def settings_of(objects: list[dict[str, Any]], workload: dict[str, Any]) -> OperatorSettings:
    """What the pod's worker computes its time limits from: config.yaml and the pod's variables
    (the secrets' values stand in: they change no limit)."""
    env = {**environment(objects, workload), "DATABASE_URL": "postgresql://db/paynet"}
    env = {name: value for name, value in env.items() if not name.endswith("_FILE")}
    return parse_operator_settings((BASE / "config.yaml").read_text(), env)


def queues_of(workload: dict[str, Any]) -> set[str]:
    command = container(workload)["command"]
    return set(command[command.index("--queues") + 1].split(","))


# Rendering and the schemas


def test_the_production_overlay_renders_every_part(objects: list[dict[str, Any]]) -> None:
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in objects if o["kind"] != "ConfigMap")
    assert kinds == [
        ("Deployment", "paynet-flower"),
        ("Deployment", "paynet-token-pool"),
        ("Deployment", "paynet-worker"),
        ("Job", "paynet-migrate"),
        ("Namespace", "paynet"),
        ("PodDisruptionBudget", "paynet-token-pool"),
        ("PodDisruptionBudget", "paynet-worker"),
        ("ScaledObject", "paynet-worker"),
        ("Service", "paynet-flower"),
        ("ServiceAccount", "paynet-gateway"),
    ]
    assert all(
        o["metadata"].get("namespace") == "paynet" for o in objects if o["kind"] != "Namespace"
    )


def test_every_kubernetes_object_validates_against_the_schemas(
    objects: list[dict[str, Any]],
) -> None:
    for document in objects:
        if document["kind"] != "ScaledObject":
            # strict: a field the schema does not know (a typo) is an error too.
            kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_the_scaled_object_validates_against_kedas_resource_and_its_hpa_behavior(
    objects: list[dict[str, Any]],
) -> None:
    scaled = one(objects, "ScaledObject", "paynet-worker")
    jsonschema.validate(scaled, KEDA_SCHEMA)
    behavior = scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    hpa = {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "check"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x"},
                 "maxReplicas": 2, "behavior": behavior},
    }  # fmt: skip
    kubernetes_validate.validate(hpa, KUBERNETES, strict=True)


def test_a_misspelt_field_is_refused_by_the_validation() -> None:
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "x"},
           "spec": {"maxUnavailabel": 1}}  # fmt: skip
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pdb, KUBERNETES, strict=True)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**KEDA_SCHEMA_EXAMPLE, "spec": {"scaleTargetRef": {"name": "x"},
                             "triggers": [], "maxReplicas": 3}}, KEDA_SCHEMA)  # fmt: skip


KEDA_SCHEMA_EXAMPLE = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
                       "metadata": {"name": "x"}}  # fmt: skip


def test_the_shipped_config_is_the_one_in_the_config_map() -> None:
    assert (BASE / "config.yaml").read_text() == (REPO_ROOT / "config.yaml").read_text()


# Pools, queues and scaling


def test_payments_and_the_refresh_each_have_a_pool_and_every_queue_a_consumer(
    objects: list[dict[str, Any]],
) -> None:
    worker = one(objects, "Deployment", "paynet-worker")
    token_pool = one(objects, "Deployment", "paynet-token-pool")
    assert queues_of(worker) == {queues.CALL_QUEUE, queues.WAIT_QUEUE}
    assert queues_of(token_pool) == {queues.TOKEN_QUEUE}
    assert token_pool["spec"]["replicas"] >= 2  # losing one leaves a consumer
    for workload in (worker, token_pool):
        command = container(workload)["command"]
        assert command[:4] == ["celery", "-A", "worker", "worker"]
        assert "--loglevel" not in command and "-l" not in command  # LOG_LEVEL holds
        assert command[command.index("--hostname") + 1].endswith("@%h")  # one node per pod
        assert int(environment(objects, workload)["CELERY_WORKER_CONCURRENCY"]) >= 1


def test_keda_scales_the_payment_workers_on_the_gateways_queue_depth(
    objects: list[dict[str, Any]],
) -> None:
    scaled = one(objects, "ScaledObject", "paynet-worker")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "paynet-worker"
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    assert {"serverAddress", "query", "threshold"} <= set(trigger["metadata"])
    query = trigger["metadata"]["query"]
    assert "paynet_queue_depth{queue=~" in query and "max by (queue)" in query
    named = query.split('queue=~"')[1].split('"')[0].split("|")
    assert set(named) == queues_of(one(objects, "Deployment", "paynet-worker"))
    assert float(trigger["metadata"]["threshold"]) > 0
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]


def test_the_database_connections_at_full_scale_fit_postgresql(
    objects: list[dict[str, Any]],
) -> None:
    """A prefork process holds one connection at a time; the main process one more (the
    metrics' ledger counts), and one spare: concurrency + 2 per pod."""
    scaled = one(objects, "ScaledObject", "paynet-worker")
    token_pool = one(objects, "Deployment", "paynet-token-pool")

    def per_pod(workload: dict[str, Any]) -> int:
        return int(environment(objects, workload)["CELERY_WORKER_CONCURRENCY"]) + 2

    workers = scaled["spec"]["maxReplicaCount"] * per_pod(
        one(objects, "Deployment", "paynet-worker")
    )
    tokens = token_pool["spec"]["replicas"] * per_pod(token_pool)
    migration = 1
    assert workers + tokens + migration <= POSTGRES_CONNECTIONS


# Shutdown and probes


def test_a_worker_pod_is_given_longer_to_stop_than_a_task_may_run(
    objects: list[dict[str, Any]],
) -> None:
    """SIGTERM is Celery's warm shutdown: running tasks finish, each within its hard time limit
    (computed as the worker computes it, from config.yaml and the pod's variables)."""
    worker = one(objects, "Deployment", "paynet-worker")
    token_pool = one(objects, "Deployment", "paynet-token-pool")
    margin = 30  # the results written, the acks sent, the connections closed
    grace = worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > settings_of(objects, worker).call_time_limit() + margin
    grace = token_pool["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > settings_of(objects, token_pool).refresh_time_limit() + margin
    # KEDA stops at most one pod a minute, each taking up to its grace period.
    policies = one(objects, "ScaledObject", "paynet-worker")["spec"]["advanced"][
        "horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]["policies"]  # fmt: skip
    assert policies == [{"type": "Pods", "value": 1, "periodSeconds": 60}]


@pytest.mark.parametrize("name", ["paynet-worker", "paynet-token-pool"])
def test_the_worker_probes_read_its_probe_files(objects: list[dict[str, Any]], name: str) -> None:
    workload = one(objects, "Deployment", name)
    spec = container(workload)
    env = environment(objects, workload)
    probe_dir = env["PAYNET_PROBE_DIR"]
    # The root file system is read-only: the files go to an emptyDir.
    (mount,) = [m for m in spec["volumeMounts"] if probe_dir.startswith(m["mountPath"] + "/")]
    volumes = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" in volumes[mount["name"]] and not mount.get("readOnly")
    for probe, kind in (("startupProbe", "live"), ("livenessProbe", "live"),
                        ("readinessProbe", "ready")):  # fmt: skip
        command = spec[probe]["exec"]["command"]
        assert command == ["python", "-m", "worker.probes", kind]
        with pytest.raises(SystemExit) as parsed:  # the command's own parser accepts it
            probe_main([*command[3:], "--help"])
        assert parsed.value.code == 0
    # Liveness gives a worker its heartbeat's max age and more before a restart.
    liveness = spec["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= 60


# Secrets, security, resources


@pytest.mark.parametrize("name", ["paynet-worker", "paynet-token-pool", "paynet-migrate"])
def test_secrets_reach_the_gateway_as_files_never_as_variables(
    objects: list[dict[str, Any]], name: str
) -> None:
    workload = next(o for o in objects if o["metadata"]["name"] == name)
    spec = container(workload)
    env = {v["name"]: v for v in spec.get("env", [])}
    assert not {"PAYNET_PASSWORD", "PAYNET_TOKEN_KEY", "DATABASE_URL"} & set(env)
    assert all("secretKeyRef" not in str(v) for v in env.values())
    (secret,) = [v for v in workload["spec"]["template"]["spec"]["volumes"] if "secret" in v]
    items = {item["path"] for item in secret["secret"]["items"]}
    assert {m["mountPath"] for m in spec["volumeMounts"] if m["name"] == secret["name"]} == {
        SECRETS
    }
    files = {n: v["value"] for n, v in env.items() if n.endswith("_FILE")}
    assert set(files) <= SECRET_FILES and "DATABASE_URL_FILE" in files
    for path in files.values():
        directory, _, item = path.rpartition("/")
        assert directory == SECRETS and item in items


def test_every_pod_runs_as_non_root_with_requests_and_no_privilege(
    objects: list[dict[str, Any]],
) -> None:
    for workload in (o for o in objects if o["kind"] in {"Deployment", "Job"}):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        for each in pod["containers"]:
            assert each["securityContext"]["allowPrivilegeEscalation"] is False
            assert each["securityContext"]["capabilities"]["drop"] == ["ALL"]
            assert {"cpu", "memory"} <= set(each["resources"]["requests"])
            assert "memory" in each["resources"]["limits"]


def test_the_migration_job_and_flower_run_commands_the_project_has(
    objects: list[dict[str, Any]],
) -> None:
    migrate = container(one(objects, "Job", "paynet-migrate"))["command"]
    assert migrate == ["paynet-gateway", "db", "upgrade"]
    done = CliRunner().invoke(paynet_gateway, [*migrate[1:], "--help"])
    assert done.exit_code == 0, done.output
    flower = container(one(objects, "Deployment", "paynet-flower"))
    assert shlex.join(flower["command"]) == "celery --broker '$(REDIS_URL)' flower --port=5555"
    assert {v["name"] for v in flower["env"]} == {"REDIS_URL", "PAYNET_CONFIG", "FLOWER_BASIC_AUTH"}
