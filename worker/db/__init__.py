"""The database: the engine (one per process), the tables, the schema versions (Alembic).

Imports nothing of the gateway but ``worker.core``.
"""
