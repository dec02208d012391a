"""Bearer-token integrations: HTTP APIs with a token endpoint and a header, configured in YAML.

The provider side of the token mechanism for them (``client.BearerClient`` is a
``TokenSource``), the pure reading of their answers (``answers``, ``expiry``), and the call path
of ``integration.call`` (``calls``), which takes its token from ``worker.tokens`` exactly as
``paynet.call`` does. Imports ``tokens``, ``calls`` (the wait signal and its codecs), the HTTP
transport of ``paynet`` and ``core``; knows nothing of the ledger.
"""
