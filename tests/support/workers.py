"""Real Celery worker processes for tests (they live in devservices, shared with the bench)."""

from devservices.workers import REPO_ROOT, WorkerPool, WorkerProcess

__all__ = ["REPO_ROOT", "WorkerPool", "WorkerProcess"]
