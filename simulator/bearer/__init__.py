"""A bearer-token API stand-in: a token endpoint and protected resources, on a real HTTP server.

It answers as the configured form of token answer says (OAuth2's ``expires_in``, a Multicard
style ``/auth`` with a local ``expiry`` and no offset, a JWT with ``exp``, or no expiry at all),
rejects an expired or revoked token with 401, and takes the same faults as the Paynet simulator
(``simulator.faults``) on its ``login`` and ``resource`` targets.
"""

from .server import BearerSimulator
from .state import EXPIRY_FORMS, BearerConfig

__all__ = ["EXPIRY_FORMS", "BearerConfig", "BearerSimulator"]
