"""Paynet simulator: a real JSON-RPC HTTP server on loopback that tests steer and count.

It issues, expires and revokes tokens, records payments and injects faults on command, so the
gateway's token handling is tested against real sockets instead of mocks.
"""

from .accounts import DEFAULT_ACCOUNT, Account
from .config import Config
from .control import SimulatorControl, SimulatorControlError
from .faults import FAULT_KINDS, TARGETS
from .handler import DEFAULT_RESOURCE_PATH, LOGIN_PATH
from .server import Simulator
from .tokens import fingerprint
from .transactions import STATUS_CANCELLED

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_RESOURCE_PATH",
    "FAULT_KINDS",
    "LOGIN_PATH",
    "STATUS_CANCELLED",
    "TARGETS",
    "Account",
    "Config",
    "Simulator",
    "SimulatorControl",
    "SimulatorControlError",
    "fingerprint",
]
