"""Embedded Redis and PostgreSQL for tests and the demo, or the machine's real ones.

Start here: ``devservices.stack.services``. Run ``python -m devservices up``
for a developer's long-lived servers.
"""

from devservices.isolated import create_scratch_database, drop_scratch_database, flush_redis
from devservices.postgres_server import PostgresServer, PostgresStartError
from devservices.redis_server import RedisServer, RedisStartError
from devservices.stack import Services, services

__all__ = [
    "PostgresServer",
    "PostgresStartError",
    "RedisServer",
    "RedisStartError",
    "Services",
    "create_scratch_database",
    "drop_scratch_database",
    "flush_redis",
    "services",
]
