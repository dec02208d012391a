"""A payment-service producer: pay through the gateway, or look a payment up, and print the answer.

    REDIS_URL=redis://127.0.0.1:6379/0 python examples/producer.py pay order-1842 15000.00
    REDIS_URL=redis://127.0.0.1:6379/0 python examples/producer.py check order-1842

The producer needs Celery and the broker's address, nothing of the gateway's code: the task's
name, its keyword arguments and the error classes' names are the whole contract (README, "The
producer's contract"). Exit 0 with the JSON-RPC result on standard output, 1 with the error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from decimal import Decimal
from typing import Any

from celery import Celery


def gateway(redis_url: str) -> Celery:
    app = Celery("payment-service", broker=redis_url, backend=redis_url)
    app.conf.update(
        task_serializer="json",  # the gateway accepts JSON only
        result_serializer="json",
        accept_content=["json"],
        task_routes={"paynet.*": {"queue": "paynet"}},
    )
    return app


def call(app: Celery, method: str, params: dict[str, Any], key: str | None, timeout: float) -> Any:
    kwargs: dict[str, Any] = {"method": method, "params": params}
    if key is not None:
        kwargs["idempotency_key"] = key
    # What Flower and the worker's events show instead of the kwargs: no payment details.
    shown = {"method": method, "profile": "default", "idempotency_key": key}
    result = app.send_task("paynet.call", kwargs=kwargs, kwargsrepr=repr(shown))
    return result.get(timeout=timeout)


def describe(error: Exception) -> str:
    """Errors arrive rebuilt by class name; PaynetRpcError carries (code, message, data)."""
    if type(error).__name__ == "PaynetRpcError":
        code, message, _data = error.args
        return f"PaynetRpcError {code}: {message}"
    return f"{type(error).__name__}: {error}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["pay", "check"])
    parser.add_argument("order_id", help="the payment's own id, which is also its idempotency key")
    parser.add_argument("amount", nargs="?", default="1000", help="for pay (default 1000)")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    app = gateway(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    if args.action == "pay":
        params = {
            "id": args.order_id,
            "service_id": 101,
            "time": int(time.time() * 1000),
            "fields": {"phone": "998901234567"},
            "amount": Decimal(args.amount),  # kombu's JSON keeps it exact, digit for digit
        }
        method, key = "performTransaction", args.order_id
    else:
        params, method, key = {"id": args.order_id}, "checkTransactionByAgentId", None
    try:
        result = call(app, method, params, key, args.timeout)
    except Exception as error:
        print(describe(error), file=sys.stderr)
        return 1
    finally:
        app.close()
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
