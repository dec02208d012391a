"""The gateway's Celery app with this host's clock off by ``PAYNET_TEST_CLOCK_OFFSET`` seconds.

``celery -A tests.support.skewed_worker worker`` is the real worker, its runtime built with a
clock that runs ahead (or behind): how the tests give two hosts clocks that disagree. Only the
clock the gateway is handed moves; that is the one every decision of the gateway reads.
"""

from __future__ import annotations

import os
from datetime import timedelta

from worker import lifecycle, runtime
from worker.celery import app
from worker.core.clock import utcnow

OFFSET = timedelta(seconds=float(os.environ.get("PAYNET_TEST_CLOCK_OFFSET", "0")))

runtime.configure(lifecycle.default_factory(app, clock=lambda: utcnow() + OFFSET))

__all__ = ["app"]
