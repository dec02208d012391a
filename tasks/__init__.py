"""Celery tasks of the gateway; thin wrappers over ``worker``."""
