"""Paynet on the wire: JSON-RPC framing and parsing, the HTTP client, judging what came back.

``jsonrpc``, ``failures``, ``stages`` and ``verdicts`` are pure; ``client`` does the I/O
(requests) and translates its errors once, judged by the stage each request reached, which the
connections of ``transport`` record. Imports only ``worker.core`` and the settings.
"""
