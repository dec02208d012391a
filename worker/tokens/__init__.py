"""The token: its pure policy, the per-process provider, the encrypted store, the refresher and
what the workers share through Redis (refresh requests, the lock, the login budget).

Imports ``paynet``, ``db`` and ``core``; knows nothing of the ledger or of calls.
"""
