"""A payment-service producer: pay an order through the gateway, or look a payment up.

    REDIS_URL=redis://127.0.0.1:6379/0 python examples/producer.py \\
        pay order-1842 15000.00 --ordered-at 2025-11-26T17:00:00+05:00
    REDIS_URL=redis://127.0.0.1:6379/0 python examples/producer.py check order-1842

It uses the producer client (``paynet_gateway_client``, installed from clients/python), which
needs the broker's address and no Paynet setting. A payment's ``time`` is its order's
(``--ordered-at``, stored with the order), never the clock: running the same ``pay`` again
resubmits the same payment, which is what to do after a timeout, ``ProviderUnavailable`` or
``TokenUnavailable``, and prints the same result, executed once (after ``OutcomeUnknown`` it
prints the operator's decision once made).
Exit 0 with the JSON-RPC result on standard output, 1 with the error on standard error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime
from decimal import Decimal
from typing import Any

from celery.exceptions import TimeoutError as NoAnswerYet
from paynet_gateway_client import CallHandle, GatewayClient, producer_app
from paynet_gateway_client.errors import PaynetGatewayError, PaynetRpcError


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    # A payment whose answer was lost settles within Paynet's processing window plus the
    # reconcile timeout (about six minutes at the defaults): wait a little longer than that.
    parser.add_argument("--timeout", type=float, default=420.0)
    actions = parser.add_subparsers(dest="action", required=True)
    pay = actions.add_parser("pay", help="pay an order (again: the same payment, once)")
    pay.add_argument("order_id", help="the payment's own id, which is also its idempotency key")
    pay.add_argument("amount", type=Decimal)
    pay.add_argument(
        "--ordered-at",
        required=True,
        type=datetime.fromisoformat,
        help="when the order was made, with its zone, as stored with the order",
    )
    check = actions.add_parser("check", help="look a payment up by its order id")
    check.add_argument("order_id")
    return parser.parse_args(argv)


def send(client: GatewayClient, args: argparse.Namespace) -> CallHandle:
    if args.action == "pay":
        fields = {"phone": "998901234567"}
        return client.perform_transaction(
            args.order_id, 101, fields, args.amount, ordered_at=args.ordered_at
        )
    return client.check_transaction_by_agent_id(args.order_id)


def describe(error: Exception) -> str:
    if isinstance(error, PaynetRpcError):
        return f"PaynetRpcError {error.code}: {error.message}"
    if isinstance(error, NoAnswerYet):
        return "no answer yet: run the same command again (a payment is resubmitted, not repaid)"
    return f"{type(error).__name__}: {error}"


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    app = producer_app(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    try:
        result: Any = send(GatewayClient(app), args).get(timeout=args.timeout)
    except (PaynetGatewayError, NoAnswerYet) as error:
        print(describe(error), file=sys.stderr)
        return 1
    finally:
        app.close()
    print(json.dumps(result, default=str))  # a Decimal printed as its digits
    return 0


if __name__ == "__main__":
    sys.exit(main())
