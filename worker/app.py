"""The Celery app; ``celeryconfig`` holds its settings, ``tasks`` its tasks."""

from __future__ import annotations

import sys

from celery import Celery

from worker import lifecycle, logs
from worker.config import ConfigError, get_settings

try:
    get_settings()  # a worker with a broken configuration stops here, naming the key
except ConfigError as exc:
    print(f"paynet-gateway: cannot start: {exc}", file=sys.stderr)
    raise SystemExit(2) from None

app = Celery("paynet-gateway", include=["tasks.paynet"])
app.config_from_object("celeryconfig")
logs.connect()
lifecycle.connect(app)
