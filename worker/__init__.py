"""paynet-gateway: a Celery worker gateway to the Paynet JSON-RPC API.

One package per mechanism, each importing only those below it::

    celery (the app) → lifecycle (start-up) → runtime (wiring)
        → calls (a paynet.call: arguments, the one send path, the keyed call)
        → tokens (policy, provider, store, refresher) · ledger (policy, store)
        → paynet (JSON-RPC, HTTP client, verdicts) · db (engine, tables, schema)
        → core (clock, backoff, causes, outages, redaction, metrics)

``celery -A worker worker`` finds the app in ``worker.celery``; importing this package or any
submodule needs no configuration.
"""
