"""The idempotency ledger: the pure policy of a key, its row, its store, request fingerprints.

Imports ``paynet`` (its pure answers and verdicts), ``db`` and ``core``; nothing of tokens.
"""
