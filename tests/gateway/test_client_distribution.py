"""The producer's client as a producer installs it, and the raw message a producer without
Celery sends: both pay through real workers."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import venv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis

from devservices.stack import Services
from simulator import Simulator
from tests.support.waiting import wait_for
from tests.support.workers import REPO_ROOT, WorkerPool

GUIDE = (REPO_ROOT / "docs" / "producer-guide.md").read_text()

# Run in the fresh environment, outside the checkout: a chain of two payments, and a call that
# fails with its link_error run; prints what it got, as JSON.
PRODUCER = """
import importlib.util, json, sys
from celery import chain
from paynet_gateway_client import GatewayClient, producer_app
from paynet_gateway_client.kwargs import call_kwargs

url = sys.argv[1]
client = GatewayClient(producer_app(url))
first = client.signature(call_kwargs("echo", {"step": 1}))
second = client.signature(call_kwargs("echo", {"step": 2})).set(immutable=True)
done = chain(first, second).apply_async()
errback = client.signature(call_kwargs("echo", {"errback": True})).set(
    immutable=True, task_id="errback-1"
)
failed = client.send(call_kwargs("echo", {}, profile="no-such-profile"), link_error=errback)
try:
    failed.get(timeout=60)
except Exception as error:
    failure = type(error).__module__ + "." + type(error).__name__
server = [m for m in ("worker", "tasks", "simulator", "celeryconfig")
          if importlib.util.find_spec(m)]
print(json.dumps({
    "chain": [done.parent.get(timeout=60), done.get(timeout=60)],
    "failure": failure,
    "errback": client.app.AsyncResult("errback-1").get(timeout=60),
    "server_modules": server,
}))
"""


@pytest.fixture(scope="module")
def client_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtual environment with the client installed from clients/python (pip fetches
    Celery, from its cache where it can)."""
    where = tmp_path_factory.mktemp("client-venv")
    venv.create(where, with_pip=True)
    python = where / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", str(REPO_ROOT / "clients" / "python")],
        check=True,
        capture_output=True,
        timeout=300,
    )
    yield python


def test_the_client_installed_alone_pays_through_a_chain_and_a_link_error(
    client_python: Path, start_workers: Callable[..., WorkerPool], real_services: Services
) -> None:
    start_workers()
    ran = subprocess.run(
        [client_python, "-c", PRODUCER, real_services.redis_url],
        cwd=client_python.parent,  # not the checkout: nothing of the server on the path
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    got = json.loads(ran.stdout)
    assert got["server_modules"] == []
    assert got["chain"] == [{"step": 1}, {"step": 2}]
    assert got["failure"] == "paynet_gateway_client.errors.InvalidRequest"
    assert got["errback"] == {"errback": True}


def guide_block(marker: str) -> str:
    found = re.search(rf"<!-- {marker} -->\n```json\n(.*?)\n```", GUIDE, re.DOTALL)
    assert found, marker
    return found.group(1)


def test_the_raw_message_of_the_producer_guide_pays_without_celery(
    start_workers: Callable[..., WorkerPool], redis_client: Redis, simulator: Simulator
) -> None:
    envelope: dict[str, Any] = json.loads(guide_block("raw-message"))
    body = guide_block("raw-message-body")
    assert base64.b64decode(envelope["body"]).decode() == body  # the guide's two blocks agree
    start_workers()
    redis_client.lpush("paynet", guide_block("raw-message"))
    meta = f"celery-task-meta-{envelope['headers']['id']}"
    wait_for(lambda: json.loads(redis_client.get(meta) or "{}").get("status") == "SUCCESS")
    result = json.loads(redis_client.get(meta) or "{}")["result"]
    assert result["status"] == "0"
    assert simulator.transaction_ids("order-7731") == [result["transactionId"]]
