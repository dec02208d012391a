"""The JSON Schema of ``paynet.call`` (``paynet.call.json`` beside this file), for producers
written in any language: the task's kwargs at its root, its result under ``$defs/result``.

Package data, read here; imports nothing of the gateway.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

CALL_SCHEMA = "paynet.call.json"


def call_schema() -> dict[str, Any]:
    """The schema as a mapping; a fresh copy each time, so a caller may change its own."""
    text = resources.files(__name__).joinpath(CALL_SCHEMA).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
