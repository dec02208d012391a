"""The settings of a bearer-token integration: an HTTP API with a token endpoint and a header.

One YAML block under ``integrations:`` each (docs/integrations.md); parsed once, immutable. The
token mechanism is the one Paynet's profiles use (``worker/tokens``): each integration is a
profile of its own there, with its own token row, lock, budget and cool-down
(``token_policy``), its own queues, metrics labels and log fields.
"""

from __future__ import annotations

import re
from datetime import timedelta, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator, model_validator

from worker.settings_base import Timeouts, absolute_path, http_base_url

# An integration's name is its profile in the token store, Redis keys and metrics, and the
# stem of its queue names: letters, digits, dashes and underscores.
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
# An HTTP header's name (RFC 9110 section 5.1: a token) and an auth scheme (also a token).
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class Expiry(_Frozen):
    """Where the token's expiry is read from a token answer, tried in this order: a lifetime
    in seconds (``expires_in``, RFC 6749 section 5.1), an absolute time (a member, its
    ``strptime`` format and the UTC offset it is written in when it carries none), the JWT's
    ``exp`` claim; last, the integration's configured ``policy.ttl``. None of them: the token
    lives until it is rejected."""

    expires_in_field: str | None = "expires_in"
    at_field: str | None = None
    at_format: str = "%Y-%m-%d %H:%M:%S"
    at_utc_offset: str = "+00:00"
    jwt_exp: bool = True

    @field_validator("at_utc_offset")
    @classmethod
    def _offset(cls, value: str) -> str:
        found = _OFFSET.match(value)
        if found is None or int(found.group(2)) > 23 or int(found.group(3)) > 59:
            raise ValueError('must be an offset such as "+05:00", less than a day')
        return value

    def zone(self) -> timezone:
        found = _OFFSET.match(self.at_utc_offset)
        if found is None:  # validated on load: cannot happen
            raise ValueError(f"at_utc_offset {self.at_utc_offset!r} is not an offset")
        sign = -1 if found.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(found.group(2)), minutes=int(found.group(3))))


class TokenEndpoint(_Frozen):
    """How a token is obtained: a POST of ``fields`` and ``secret_fields`` (JSON or a form)."""

    path: str = "/oauth/token"
    format: Literal["form", "json"] = "form"
    fields: dict[str, str] = {}
    # Sent like ``fields``, never logged: put every credential here, from the environment.
    secret_fields: dict[str, SecretStr] = {}
    token_field: str = "access_token"  # noqa: S105 - a member's name; dotted for nesting
    expiry: Expiry = Expiry()

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        return absolute_path(value)

    @field_validator("secret_fields")
    @classmethod
    def _non_empty(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, secret in value.items():
            if not secret.get_secret_value():
                raise ValueError(f"{name} must not be empty")
        return value

    @model_validator(mode="after")
    def _one_meaning_each(self) -> TokenEndpoint:
        both = set(self.fields) & set(self.secret_fields)
        if both:
            raise ValueError(f"{sorted(both)} in both fields and secret_fields")
        return self


class Rejection(_Frozen):
    """How an answer says the token was refused: an HTTP status, or a member's value."""

    statuses: tuple[int, ...] = (401,)
    member: str | None = None  # dotted, e.g. error.code
    codes: tuple[str, ...] = ()  # values of ``member`` that mean rejected (as text)

    @field_validator("statuses")
    @classmethod
    def _client_errors(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        # A rejected call is sent again: a 2xx "rejection" would repeat a call that ran.
        if any(not 400 <= status <= 499 for status in value):
            raise ValueError("HTTP statuses from 400 to 499 only (a rejected call is sent again)")
        return value

    @field_validator("codes", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return [str(item) for item in value]
        return value


_OURS = frozenset({"content-type", "content-length"})  # headers the client sets itself


class IntegrationSettings(_Frozen):
    """An HTTP API called with a bearer token; ``kind`` names the provider."""

    kind: Literal["bearer"] = "bearer"
    base_url: str
    token: TokenEndpoint = TokenEndpoint()
    header: str = "Authorization"
    scheme: str = "Bearer"  # the header's value is "<scheme> <token>", or the token alone if ""
    rejection: Rejection = Rejection()
    idempotency_header: str | None = None  # where a call's idempotency key goes, if anywhere
    verify_tls: bool = True
    ca_bundle: str | None = None
    timeouts: Timeouts = Timeouts()

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_base_url(value)

    @field_validator("header", "idempotency_header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        if value is not None and (_TOKEN.match(value) is None or value.lower() in _OURS):
            raise ValueError("must be an HTTP header name, not Content-Type or Content-Length")
        return value

    @field_validator("scheme")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if value and _TOKEN.match(value) is None:
            raise ValueError('must be an authentication scheme such as "Bearer", or ""')
        return value

    @model_validator(mode="after")
    def _two_headers(self) -> IntegrationSettings:
        if self.idempotency_header and self.idempotency_header.lower() == self.header.lower():
            raise ValueError("idempotency_header must differ from header, which carries the token")
        return self

    def url(self, path: str) -> str:
        return self.base_url + path

    def secrets(self) -> list[str]:
        return [secret.get_secret_value() for secret in self.token.secret_fields.values()]
