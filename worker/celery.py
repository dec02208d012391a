"""The Celery app: ``celery -A worker worker`` finds it here (Celery looks up ``worker.celery``).

``worker.celeryconfig`` holds its settings and ``tasks`` its tasks; ``lifecycle`` wires the signals
and the per-process runtime. Importing this module only defines things: the configuration is
read, and checked, when the worker starts.
"""

from __future__ import annotations

from celery import Celery

from worker import lifecycle, logs
from worker.probes import step as probes

app = Celery("paynet-gateway", include=["tasks.paynet", "tasks.ledger", "tasks.integrations"])
app.config_from_object("worker.celeryconfig")
logs.connect()
lifecycle.connect(app)
probes.install(app)
