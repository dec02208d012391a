"""A worker's liveness and readiness, as two small files a probe reads without the broker.

The worker writes them (``step.py``, a bootstep in its consumer, enabled by ``--probe-dir`` or
``PAYNET_PROBE_DIR``); a probe judges them (``verdict.py``, pure) after reading them
(``files.py``). ``python -m worker.probes live|ready`` and ``paynet-gateway probe`` are the two
ways to ask. Imports nothing of the gateway, and nothing but the standard library except in
``step.py`` (Celery), so the probe command starts in tens of milliseconds.
"""
