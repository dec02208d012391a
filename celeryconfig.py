"""Celery's default loader looks for a top-level ``celeryconfig`` (Flower and ``celery inspect``
started without ``-A`` in a checkout): the settings live in ``worker/celeryconfig.py``, which
the app reads and the wheel ships."""

from worker.celeryconfig import *  # noqa: F403
