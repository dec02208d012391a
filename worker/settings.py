"""Typed, immutable settings: parsed once, so every later read is a plain attribute.

Three views of one configuration file, each a process loads only as much of as it needs
(``worker/config.py`` loads them)::

    Infrastructure       database, redis, celery, logging, metrics: no Paynet setting at all
      └─ OperatorSettings + paynet (profiles without their passwords), token, ledger, security
      └─ Settings         + paynet with the passwords: what a worker runs on
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from worker.integration_settings import NAME, IntegrationSettings
from worker.queues import RESERVED_NAMES
from worker.settings_base import Timeouts, absolute_path, http_base_url


class _Frozen(BaseModel):
    # hide_input_in_errors: a validation error never quotes a value, which may be a password.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class PaynetEndpoint(_Frozen):
    """A profile without its password: where and as whom to log in, and how to call."""

    base_url: str
    username: str = Field(min_length=1)
    terminal_id: int
    login_path: str = "/v2/user"
    resource_path: str = "/v2/gw/transaction"
    token_placement: Literal["top_level", "params"] = "top_level"  # noqa: S105 - a place
    verify_tls: bool = True
    ca_bundle: str | None = None
    timeouts: Timeouts = Timeouts()

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_base_url(value)

    @field_validator("login_path", "resource_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        return absolute_path(value)

    def url(self, path: str) -> str:
        return self.base_url + path


class ProfileSettings(PaynetEndpoint):
    """One set of Paynet credentials; each profile has a token of its own."""

    password: SecretStr

    @field_validator("password")
    @classmethod
    def _non_empty_secret(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value():
            raise ValueError("must not be empty")
        return value


Profile = TypeVar("Profile", bound=PaynetEndpoint)


class PaynetSettings(_Frozen, Generic[Profile]):
    profiles: dict[str, Profile]

    @field_validator("profiles")
    @classmethod
    def _at_least_one(cls, value: dict[str, Profile]) -> dict[str, Profile]:
        if not value:
            raise ValueError("define at least one profile")
        return value


class LoginBudget(_Frozen):
    """At most ``max_logins`` login attempts per profile per ``window`` seconds, cluster-wide."""

    max_logins: int = Field(10, ge=1)
    window: float = Field(60.0, gt=0)


# A token this close to its expiry counts as expired: a call sent with it must not arrive late.
EXPIRY_LEEWAY = 5.0
# The sends one run of integration.call may make: a rejection, then newer tokens already stored
# rejected too, up to the mechanism's bound of fresh tokens rejected in a row (three), plus one.
SENDS_PER_RUN = 4


class TokenTiming(_Frozen):
    """How a token is kept, waited for and renewed; all durations in seconds. The rest of the
    mechanism's timing is fixed (``worker/tokens/policy.py``, ``refresher.py``). Paynet's
    profiles share ``token``; each integration has its own (``integrations.<name>.policy``)."""

    ttl: float | None = Field(None, gt=0)
    wait_timeout: float = Field(30.0, gt=0)
    refresh_request_ttl: float = Field(10.0, gt=0)  # a published request, until one takes it
    refresh_liveness: float = Field(6.0, gt=0)  # how soon a dead refresher's lock lapses
    refused_cooldown: float = Field(300.0, ge=0)
    login_budget: LoginBudget = LoginBudget()

    @field_validator("ttl")
    @classmethod
    def _outlives_the_leeway(cls, value: float | None) -> float | None:
        if value is not None and value <= 2 * EXPIRY_LEEWAY:
            raise ValueError(
                f"must exceed {2 * EXPIRY_LEEWAY:g} s: a token within {EXPIRY_LEEWAY:g} s of "
                "its expiry is not used, and every login would be wasted"
            )
        return value


class TokenSettings(TokenTiming):
    """Paynet's token: its timing, and which JSON-RPC codes mean a rejected token or a login
    failure worth retrying."""

    unauthorized_codes: tuple[int, ...] = (-9999,)
    transient_login_codes: tuple[int, ...] = ()


class Integration(IntegrationSettings):
    """A bearer-token integration (``worker/integration_settings.py``) and its token timing."""

    policy: TokenTiming = TokenTiming()


class StatusMethod(_Frozen):
    """How to ask Paynet whether a payment executed, after its answer was lost."""

    method: str
    id_param: str = "id"
    not_found_codes: tuple[int, ...] = (-12007,)
    # "Not found" counts as "not executed" only this long after the last send: until then
    # Paynet may still be processing it (worker/ledger/policy.py).
    max_processing: float = Field(240.0, gt=0)
    # How a found transaction is judged (worker/ledger/policy.py): by the member holding its
    # status (the public trace shows ``status``, "0" meaning OK) and the values that mean
    # executed, failed or still in progress. Statuses are strings, as the trace writes them; an
    # integer in these lists or in an answer counts as its decimal text. A missing member, or
    # a value in no list, cannot be judged: asked again, then left unknown, never guessed.
    status_field: str = Field("status", min_length=1)
    succeeded_statuses: tuple[str, ...] = ("0",)
    failed_statuses: tuple[str, ...] = ()
    in_progress_statuses: tuple[str, ...] = ()

    @field_validator("succeeded_statuses", "failed_statuses", "in_progress_statuses", mode="before")
    @classmethod
    def _statuses_as_text(cls, value: object) -> object:
        """``[0]`` in YAML means the status "0"; true/false are no status at all."""
        if not isinstance(value, list | tuple):
            return value
        if any(isinstance(item, bool) for item in value):
            raise ValueError("a status is a string (or an integer), never true or false")
        return [str(item) if isinstance(item, int) else item for item in value]

    @model_validator(mode="after")
    def _each_status_means_one_thing(self) -> StatusMethod:
        lists = {
            "succeeded_statuses": self.succeeded_statuses,
            "failed_statuses": self.failed_statuses,
            "in_progress_statuses": self.in_progress_statuses,
        }
        seen: dict[str, str] = {}
        for name, statuses in lists.items():
            for value in statuses:
                if value in seen and seen[value] != name:
                    raise ValueError(f"status {value!r} is in both {seen[value]} and {name}")
                seen[value] = name
        return self


class LedgerSettings(_Frozen):
    """The idempotency ledger; durations in seconds (see worker/ledger/policy.py for timing)."""

    settle_delay: float = Field(2.0, ge=0)
    # Status calls that cannot tell are repeated for this long after the processing window,
    # then the key is left ``unknown`` and the task ends OutcomeUnknown.
    reconcile_timeout: float = Field(120.0, gt=0)
    # How often the workers look for keys left sent past their lease with no task reconciling
    # them (killed by a time limit, message lost), one worker at a time; 0: never.
    sweep_interval: float = Field(60.0, ge=0)
    # Finished keys (succeeded, failed) older than this are deleted by the sweep; 0: never. A
    # key deleted is forgotten: the same key sent again after it is a new payment.
    retention: float = Field(30 * 86400.0, ge=0)
    status_methods: dict[str, StatusMethod] = {}


class DatabaseSettings(_Frozen):
    url: str

    @field_validator("url")
    @classmethod
    def _psycopg2_for_bare_postgres(cls, value: str) -> str:
        for bare in ("postgresql://", "postgres://"):
            if value.startswith(bare):
                return "postgresql+psycopg2://" + value[len(bare) :]
        return value


class RedisSettings(_Frozen):
    url: str

    @field_validator("url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value


class CelerySettings(_Frozen):
    broker_url: str | None = None
    result_backend: str | None = None
    visibility_timeout: float | None = Field(None, gt=0)
    result_expires: float = Field(86400.0, gt=0)
    # Hard limit of one run of paynet.call; derived from the timeouts when unset.
    call_time_limit: float | None = Field(None, gt=0)


class SecuritySettings(_Frozen):
    environment: Literal["development", "production"] = "development"
    token_keys: SecretStr | None = None
    key_file: str = ".paynet-token-key"


class LoggingSettings(_Frozen):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"
    file: str | None = None


class MetricsSettings(_Frozen):
    port: int | None = Field(None, ge=1, le=65535)


class Infrastructure(_Frozen):
    """The servers, the broker and the logs: what every process needs, Flower and a producer
    too, and no Paynet setting (``celeryconfig`` and the CLI's database commands load this)."""

    database: DatabaseSettings
    redis: RedisSettings
    celery: CelerySettings = CelerySettings()
    logging: LoggingSettings = LoggingSettings()
    metrics: MetricsSettings = MetricsSettings()
    # Each key's environment variables, as the file names them: what a message tells the
    # operator to fix ("database.url (DATABASE_URL)"). Filled in by the loader.
    _variables: dict[str, tuple[str, ...]] = PrivateAttr(default_factory=dict)
    # The names under ``integrations:`` (their queues), filled in by the loader.
    _integration_names: tuple[str, ...] = PrivateAttr(default=())

    def integration_names(self) -> tuple[str, ...]:
        return self._integration_names

    def named(self, key: str) -> str:
        """A setting as an operator knows it: the key, and the variables it is read from."""
        variables = self._variables.get(key, ())
        return f"{key} ({', '.join(variables)})" if variables else key

    def broker_key(self) -> str:
        return "celery.broker_url" if self.celery.broker_url else "redis.url"

    def backend_key(self) -> str:
        return "celery.result_backend" if self.celery.result_backend else "redis.url"

    def broker_url(self) -> str:
        return self.celery.broker_url or self.redis.url

    def result_backend(self) -> str:
        return self.celery.result_backend or self.redis.url


class _Gateway(Infrastructure, Generic[Profile]):
    """Everything but what the profiles hold; ``Profile`` says whether that includes the
    passwords."""

    paynet: PaynetSettings[Profile]
    token: TokenSettings = TokenSettings()
    ledger: LedgerSettings = LedgerSettings()
    security: SecuritySettings = SecuritySettings()
    integrations: dict[str, Integration] = {}

    @model_validator(mode="after")
    def _valid_integration_names(self) -> _Gateway[Profile]:
        for name in self.integrations:
            if NAME.match(name) is None:
                raise ValueError(
                    f"integrations.{name}: a name is lower-case letters, digits, - and _ "
                    "(it names queues, Redis keys and metrics labels)"
                )
            if name in RESERVED_NAMES:
                raise ValueError(f"integrations.{name}: the name of one of the gateway's queues")
            if name in self.paynet.profiles:
                raise ValueError(
                    f"integrations.{name}: also the name of a Paynet profile; each token "
                    "needs a name of its own"
                )
        return self

    def token_policy(self, profile: str) -> TokenTiming:
        """The token timing of a Paynet profile or of an integration."""
        integration = self.integrations.get(profile)
        return integration.policy if integration is not None else self.token

    @model_validator(mode="after")
    def _window_outlives_a_run(self) -> _Gateway[Profile]:
        """A run is killed by ``call_time_limit``: only after that may "not found" be believed."""
        limit = self.call_time_limit()
        for name, status in self.ledger.status_methods.items():
            if status.max_processing < limit:
                raise ValueError(
                    f"ledger.status_methods.{name}.max_processing ({status.max_processing:g}) "
                    f"must be at least the hard time limit of a call ({limit:g} s: "
                    "celery.call_time_limit, or two send deadlines plus the database bound)"
                )
        return self

    def profile(self, name: str) -> Profile:
        return self.paynet.profiles[name]

    def agent_ids(self) -> dict[str, str]:
        """Each method with a status method, and the param that holds the agent's own id."""
        return {name: status.id_param for name, status in self.ledger.status_methods.items()}

    def send_deadline(self) -> float:
        """The longest one request to a resource may take, connect and read together."""
        return max(p.timeouts.connect + p.timeouts.read for p in self.paynet.profiles.values())

    def refresh_time_limit(self) -> float:
        """Hard limit of one run of ``paynet.refresh_token``: a login (connect and read), its
        token saved through a database outage (``token.wait_timeout``, the two statements
        together), and a margin for their last attempts (a statement timeout of 15 s)."""
        logins = [p.timeouts.connect + p.timeouts.login for p in self.paynet.profiles.values()]
        logins += [i.timeouts.connect + i.timeouts.login for i in self.integrations.values()]
        waits = [self.token.wait_timeout] + [
            i.policy.wait_timeout for i in self.integrations.values()
        ]
        return max(logins) + max(waits) + 30

    def integration_time_limit(self) -> float:
        """Hard limit of one run of ``integration.call``: as many sends as a run may make (a
        token rejected three times in a row, newer ones already stored), connect and read each,
        and the token path's Redis and database bounds (``wait_timeout``), with a margin."""
        runs = [
            SENDS_PER_RUN * (i.timeouts.connect + i.timeouts.read) + i.policy.wait_timeout
            for i in self.integrations.values()
        ]
        return max(runs, default=0.0) + 10

    def integration_soft_time_limit(self) -> float:
        """Where a run of ``integration.call`` is stopped and ends ``OutcomeUnknown`` (it may
        have sent): a fifth of the hard limit ahead of it, never a resend."""
        return round(0.8 * self.integration_time_limit(), 3)

    def visibility_floor(self) -> float:
        """The longest one delivery of any gateway task stays unacknowledged: its hard limit."""
        limits = [self.call_time_limit(), self.refresh_time_limit()]
        if self.integrations:
            limits.append(self.integration_time_limit())
        return max(limits)

    def call_soft_time_limit(self) -> float:
        """Where a run of ``paynet.call`` is stopped where it stands and retried: a fifth of
        the hard limit ahead of it, for recording a send in doubt and publishing the retry."""
        return round(0.8 * self.call_time_limit(), 3)

    def call_time_limit(self) -> float:
        """Hard limit of one run of ``paynet.call``: a status call and a send, and the ledger's
        database retries around them (``token.wait_timeout`` each), with a margin."""
        if self.celery.call_time_limit is not None:
            return self.celery.call_time_limit
        return 2 * self.send_deadline() + 2 * self.token.wait_timeout + 10


class OperatorSettings(_Gateway[PaynetEndpoint]):
    """Everything but the Paynet passwords: what the operator's commands and a producer need
    (profile names, token and ledger policy, the token keys), so none of them asks for one."""


class Settings(_Gateway[ProfileSettings]):
    """The whole configuration, passwords included: what a worker loads, and checks at start."""
