"""The Celery app; ``celeryconfig`` holds its settings, ``tasks`` its tasks."""

from __future__ import annotations

from celery import Celery

from worker import lifecycle, logs

app = Celery("paynet-gateway", include=["tasks.paynet"])
app.config_from_object("celeryconfig")
logs.connect()
lifecycle.connect(app)
