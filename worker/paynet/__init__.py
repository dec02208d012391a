"""Paynet on the wire: JSON-RPC framing and parsing, the HTTP client, judging what came back.

``jsonrpc``, ``failures`` and ``verdicts`` are pure; ``client`` does the I/O (requests) and
translates its errors once. Imports only ``worker.core`` and the settings.
"""
