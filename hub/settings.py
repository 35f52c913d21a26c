"""Settings: every option declared once, with its environment variable, type and default.

Values come from (highest first) ``HUB_*`` environment variables, then ``hub.toml`` (or the file
``HUB_CONFIG`` names), then the defaults below, which are chosen so the demo works with no file.
"""

from __future__ import annotations

import difflib
import functools
import os
import tomllib
import typing
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from aggregates import PaymentTolerance
from hub.contracts import Plausibility
from hub.identity.model import MatchModel, configured
from projections.ddmrp import BufferProfile
from projections.planning import PlanningPolicy

__all__ = [
    "BufferProfileSettings",
    "ConfigError",
    "CustomerSettings",
    "HubSettings",
    "PlanningSettings",
    "PrivacySettings",
    "StreamingSettings",
    "Survivorship",
    "SystemConfig",
    "TrackingThresholds",
    "load_settings",
]

BUNDLED_MAPPINGS = Path(__file__).resolve().parent.parent / "mappings"


class Section(BaseModel):
    """A table of hub.toml: a key it does not declare is an error (naming the nearest one it
    does), never silently ignored - a misspelt ``initial_curser`` would otherwise fall back to a
    default without a word."""

    model_config = ConfigDict(extra="forbid")


class ConfigError(Exception):
    """Configuration that cannot be used; the message names the file, the key and the value."""


class TrackingThresholds(Section):
    """When an order counts as stuck; anomalies are evaluated against these at query time."""

    paid_not_shipped_hours: float = Field(48, gt=0, description="paid, nothing shipped after")
    shipped_not_paid_hours: float = Field(24, gt=0, description="shipped, not fully paid after")
    delivered_unconfirmed_days: float = Field(7, gt=0, description="delivered, no confirmation")
    parked_timeout_hours: float = Field(
        24, gt=0, description="a message waiting for an unknown order becomes a dead letter after"
    )
    payment_tolerance: dict[str, Decimal] = Field(
        default_factory=dict,
        description='currency -> shortfall per payment row still paid in full, e.g. {EUR = "0.01"} '
        "(default: half a minor unit); rebuild order_tracking after a change",
    )

    @field_validator("payment_tolerance")
    @classmethod
    def _tolerances(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for currency, amount in value.items():
            if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
                raise ValueError(f"{currency!r} is not an ISO 4217 currency code (like EUR)")
            if not amount.is_finite() or amount < 0:
                raise ValueError(f"tolerance {amount} for {currency} must be a number of 0 or more")
        return value

    def tolerance(self) -> PaymentTolerance:
        return PaymentTolerance(dict(self.payment_tolerance))


class StreamingSettings(Section):
    """Distributed mode: adapters publish to Kafka, ``hub worker`` processes, ``hub project`` follows."""

    brokers: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers, comma separated")
    app_id: str = Field("hub", description="faust app id = Kafka consumer group of the workers")
    topic_prefix: str = Field("hub", description="topics are <prefix>.raw.<system>, <prefix>.events, …")
    partitions: int = Field(8, ge=1, le=1024, description="partitions of each topic the hub creates")
    replication_factor: int = Field(1, ge=1, le=16, description="replicas of each topic the hub creates")
    retention_hours: float = Field(168, gt=0, description="how long Kafka keeps raw messages")
    session_timeout_seconds: float = Field(10, gt=0, description="consumer session timeout")
    batch_size: int = Field(500, ge=1, le=50_000, description="messages per worker transaction")
    batch_wait_seconds: float = Field(0.05, gt=0, description="longest wait to fill a worker batch")
    relay_batch_size: int = Field(1000, ge=1, le=50_000, description="events per relay publish")
    stall_after_seconds: float = Field(
        60, gt=0, description="a process with a backlog that made no progress for this long is stalled"
    )
    metrics_port: int = Field(9100, ge=0, le=65535, description="/metrics and /health of workers/runners")

    def raw_topic(self, system: str) -> str:
        return f"{self.topic_prefix}.raw.{system}"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.topic_prefix}.deadletters"

    @property
    def events_topic(self) -> str:
        return f"{self.topic_prefix}.events"


class PrivacySettings(Section):
    """Personal fields are encrypted with a key per data subject; ``hub privacy erase`` shreds it."""

    key_store_url: str | None = Field(
        None,
        description="where subject keys live; default: a file next to the SQLite database "
        "(hub.keys.db), or the PostgreSQL database itself",
    )
    kek_env: str = Field(
        "HUB_KEY_ENCRYPTION_KEY", description="environment variable with the key-encryption key (base64)"
    )
    kek_file: Path | None = Field(
        None,
        description="a file holding the key-encryption key (base64), e.g. a mounted secret; before kek_env",
    )
    kek_command: str | None = Field(
        None,
        description=(
            "a command printing the key-encryption key (base64), e.g. a KMS or vault CLI; run "
            "without a shell at start; before kek_file and kek_env"
        ),
    )
    previous_kek_env: str | None = Field(
        None,
        description=(
            "environment variable with the key-encryption key being rotated out: keys it wrapped "
            "are still read, and `hub privacy rotate-kek` wraps them with the current one"
        ),
    )


class BufferProfileSettings(Section):
    """A DDMRP buffer profile: what a group of parts shares (Ptak & Smith, ch. 24)."""

    lead_time_factor: Decimal = Field(gt=0, le=2, description="green and red base, share of lead-time usage")
    variability_factor: Decimal = Field(ge=0, le=2, description="red safety, share of red base")
    spike_threshold: Decimal = Field(Decimal("0.5"), gt=0, le=5, description="order spike, share of red")


# The book's examples as starting points: B11 = bought, medium lead time, low variability (part
# 403P), M21 = made (707), D22 = distributed, long lead time, medium-high variability (501D).
DEFAULT_PROFILES = {
    "B11": BufferProfileSettings(lead_time_factor=Decimal("0.5"), variability_factor=Decimal("0.3")),
    "M21": BufferProfileSettings(lead_time_factor=Decimal("0.45"), variability_factor=Decimal("0.5")),
    "D22": BufferProfileSettings(lead_time_factor=Decimal("0.3"), variability_factor=Decimal("0.6")),
}


class PlanningSettings(Section):
    """Demand-driven planning (DDMRP): how usage is averaged and which buffer profiles exist."""

    adu_window_days: int = Field(28, ge=1, le=730, description="days of the rolling ADU window")
    adu_method: Literal["past", "forward", "blended"] = Field(
        "blended", description="ADU from the window before today, from today on, or the mean of both"
    )
    spike_horizon_days: int | None = Field(
        None, ge=0, le=365, description="order spike horizon; default: each item's lead time"
    )
    schedule_days: int = Field(28, ge=1, le=366, description="days the load chart shows")
    profiles: dict[str, BufferProfileSettings] = Field(
        default_factory=lambda: dict(DEFAULT_PROFILES),
        description="buffer profiles by name; a [planning.profiles] table replaces them all",
    )

    def policy(self) -> PlanningPolicy:
        return PlanningPolicy(
            adu_window_days=self.adu_window_days,
            adu_method=self.adu_method,
            spike_horizon_days=self.spike_horizon_days,
            profiles={
                name: BufferProfile(p.lead_time_factor, p.variability_factor, p.spike_threshold)
                for name, p in self.profiles.items()
            },
        )


class Survivorship(Section):
    """How one golden attribute is chosen among a customer's source records."""

    rule: Literal["source_priority", "most_recent", "most_frequent", "most_complete", "never_blank"]
    systems: list[str] = Field(default_factory=list, description="source_priority: systems, best first")


_NAMES_FIRST = ["crm", "shopify", "woocommerce", "phone", "erp"]  # a legacy ERP's Name1 holds the whole name


def _default_survivorship() -> dict[str, Survivorship]:
    rules: dict[str, dict[str, Any]] = {
        "kind": {"rule": "most_frequent"},
        "given_name": {"rule": "source_priority", "systems": _NAMES_FIRST},
        "family_name": {"rule": "source_priority", "systems": _NAMES_FIRST},
        "organisation_name": {"rule": "most_complete"},
        "birth_date": {"rule": "most_frequent"},
        "emails": {"rule": "most_recent"},
        "phones": {"rule": "most_recent"},
        "addresses": {"rule": "source_priority", "systems": ["erp", "crm", "shopify", "woocommerce"]},
        "tax_id": {"rule": "source_priority", "systems": ["erp", "crm"]},
        "marketing_consent": {"rule": "most_recent"},
    }
    return {attribute: Survivorship(**rule) for attribute, rule in rules.items()}


class Matching(Section):
    """The identity matcher's thresholds (on the Fellegi-Sunter score, in bits). A change takes
    effect for records resolved from then on; `hub customers rematch` replays every record through it."""

    link: float = Field(12.0, description="at or above: the same customer")
    review: float = Field(6.0, description="at or above, below link: a steward decides")
    veto: float = Field(0.0, description="below: a member that keeps a record out of its customer")
    # a trained model (``hub customers train``) states its thresholds as probabilities that two
    # records are one person; its prior, learned from the data, turns them into bits
    link_probability: float = Field(0.9, gt=0, lt=1, description="trained model: link at or above")
    review_probability: float = Field(0.1, gt=0, lt=1, description="trained model: review at or above")
    veto_probability: float = Field(0.001, gt=0, lt=1, description="trained model: evidence against below")
    duplicate_free: list[str] = Field(
        default_factory=list,
        description="systems free of duplicates: two of their records need an e-mail or tax id in common",
    )
    attributes: dict[str, Literal["exact", "fuzzy", "numeric"]] = Field(
        default_factory=dict, description="open attributes (CustomerRecord.attributes) to compare, and how"
    )
    train_after: int = Field(
        1000,
        ge=0,
        description="train the model and re-match once this many records are held (0: only by command)",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Matching:
        if not self.veto <= self.review <= self.link:
            raise ValueError(f"needs veto <= review <= link, got {self.veto}, {self.review}, {self.link}")
        if not self.veto_probability <= self.review_probability <= self.link_probability:
            raise ValueError(
                "needs veto_probability <= review_probability <= link_probability, got "
                f"{self.veto_probability}, {self.review_probability}, {self.link_probability}"
            )
        return self

    def configure(self, base: MatchModel) -> MatchModel:
        """The base model (the default, or the one trained last) as this configuration says."""
        return configured(
            base,
            link=self.link,
            review=self.review,
            veto=self.veto,
            link_probability=self.link_probability,
            review_probability=self.review_probability,
            veto_probability=self.veto_probability,
            duplicate_free=frozenset(self.duplicate_free),
            attributes=self.attributes,
        )


class CustomerSettings(Section):
    """The single customer view: golden-record survivorship per attribute, matching thresholds."""

    survivorship: dict[str, Survivorship] = Field(
        default_factory=_default_survivorship,
        description="golden-record rule per attribute (see docs/IDENTITY.md)",
    )
    matching: Matching = Field(default_factory=Matching)

    def rules(self) -> dict[str, dict[str, Any]]:
        return {attribute: rule.model_dump() for attribute, rule in self.survivorship.items()}


class SystemConfig(Section):
    """One source system: how its messages arrive and how to read them."""

    adapter: Literal["shopify", "woocommerce", "carrier", "file", "soap"] = Field(
        "file", description="shopify | woocommerce | carrier (webhooks), file (ingest, drop folder), soap"
    )
    drop_folder: Path | None = Field(
        None, description="folder this system drops files into (adapter = 'file'); watched by `hub run`"
    )
    settle_seconds: float = Field(
        2.0, ge=0, description="a dropped file is complete once unchanged for this long (.part files never)"
    )
    mappings: Path | None = Field(None, description="mapping folder; default mappings/<name>")
    timezone: str = Field("UTC", description="zone of local times without an offset")
    secret_env: str | None = Field(None, description="environment variable holding the secret")
    phone_region: str = Field("US", description="region for phone numbers without a country code")

    @model_validator(mode="before")
    @classmethod
    def _a_table_without_adapter_tables(cls, value: Any) -> Any:
        # A system built as the core's SystemConfig (no adapter tables) is a valid system of
        # settings put together with them (``with_system_tables``): re-read by its keys.
        if isinstance(value, SystemConfig) and not isinstance(value, cls):
            return value.model_dump(exclude_unset=True)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known IANA time zone") from None
        return value


class LimitSettings(Section):
    """Plausibility bounds: a value beyond them is a parsing accident or an attack, not business
    data; the message is dead-lettered naming the field and can be replayed once fixed."""

    max_text_length: int = Field(2000, ge=1, description="characters of one text value (a name, a line)")
    max_quantity: Decimal = Field(Decimal("1000000"), gt=0, description="units on one line or in one count")
    max_amount: Decimal = Field(Decimal("1000000000"), gt=0, description="money in one figure")
    earliest: date = Field(date(1900, 1, 1), description="no event time or date before this day")
    event_ahead_hours: float = Field(
        48, ge=0, description="an event time (placed, paid, shipped) at most this far past the hub's clock"
    )
    date_ahead_days: int = Field(3660, ge=0, description="a due or requested date at most this far ahead")

    def plausibility(self) -> Plausibility:
        return Plausibility(
            max_text=self.max_text_length,
            max_quantity=self.max_quantity,
            max_amount=self.max_amount,
            earliest=datetime(self.earliest.year, self.earliest.month, self.earliest.day, tzinfo=UTC),
            event_ahead=timedelta(hours=self.event_ahead_hours),
            date_ahead=timedelta(days=self.date_ahead_days),
        )


class HubSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", env_nested_delimiter="__", extra="forbid")

    database_url: str = Field(
        "sqlite:///hub.db", description="sqlite:///path/hub.db or postgresql://user@host/db"
    )
    mappings_dir: Path = Field(BUNDLED_MAPPINGS, description="folder with one folder per system")
    batch_size: int = Field(500, ge=1, le=50_000, description="messages per processing commit")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="largest accepted webhook body")
    http_host: str = Field("127.0.0.1", description="address the HTTP server binds")
    http_port: int = Field(8080, ge=0, le=65535, description="port of the HTTP server")
    http_searches_per_minute: int = Field(
        120,
        ge=1,
        le=100_000,
        description="customer searches one client address may make a minute (429 beyond)",
    )
    http_allowed_hosts: list[str] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1"],
        min_length=1,
        description=(
            "host names the HTTP API answers to (the Host header; '*.example.com' for subdomains, "
            "'*' for any): add the names your clients and webhook senders use. Others get 400, "
            "which stops DNS rebinding; /health and /metrics answer any"
        ),
    )
    transport: Literal["inbox", "kafka"] = Field(
        "inbox", description="inbox: process in this process; kafka: publish, `hub worker` processes"
    )
    tracking: TrackingThresholds = TrackingThresholds()
    streaming: StreamingSettings = StreamingSettings()
    privacy: PrivacySettings = PrivacySettings()
    planning: PlanningSettings = PlanningSettings()
    customers: CustomerSettings = CustomerSettings()
    limits: LimitSettings = LimitSettings()
    systems: dict[str, SystemConfig] = Field(default_factory=dict)

    _reads_environment: ClassVar[bool] = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only explicit values: ``load_settings`` layers file and environment itself, so code
        # that builds settings (tests, the demo) is never changed by the caller's environment.
        return (env_settings,) if cls._reads_environment else (init_settings,)

    @classmethod
    def with_system_tables(cls, *tables: type[Section]) -> type[HubSettings]:
        """These settings with the adapters' own tables in every ``[systems.NAME]`` (the SOAP
        adapter's ``soap``, ``outbound``, ...). The core declares what every source has and an
        adapter what only its sources have; the entry points put them together, so one pass
        still validates the whole file and names every error by its place in it."""
        system = create_model("SystemConfig", __base__=(SystemConfig, *tables))
        return create_model(
            cls.__name__,
            __base__=cls,
            systems=(dict[str, system], Field(default_factory=dict)),  # type: ignore[valid-type]
        )

    @classmethod
    def system_model(cls) -> type[SystemConfig]:
        """The model of one ``[systems.NAME]`` table, with the tables these settings were given."""
        return typing.get_args(cls.model_fields["systems"].annotation)[1]  # type: ignore[no-any-return]

    def system(self, name: str) -> SystemConfig:
        """The named system's settings; a system absent from the file gets the defaults."""
        return self.systems.get(name) or self.system_model()()

    def mapping_folder(self, name: str) -> Path:
        configured = self.system(name).mappings
        return configured if configured is not None else self.mappings_dir / name


@functools.cache
def _environment(model: type[HubSettings]) -> type[HubSettings]:
    """The ``HUB_*`` variables alone (nested keys as ``HUB_TRACKING__PAID_NOT_SHIPPED_HOURS``)."""

    class Environment(model):  # type: ignore[valid-type, misc]
        _reads_environment: ClassVar[bool] = True

    return Environment


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(config_path: Path | None = None, model: type[HubSettings] = HubSettings) -> HubSettings:
    """Read the config file (if any) and the environment into validated settings of ``model``
    (the core's alone, or with the adapters' tables: ``entrypoints.settings``)."""
    path = config_path or Path(os.environ.get("HUB_CONFIG", "hub.toml"))
    values: dict[str, Any] = {}
    if path.exists():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path}: not valid TOML: {error}") from None
    elif config_path is not None:
        raise ConfigError(f"{path}: config file not found")
    try:
        environment = _environment(model)().model_dump(exclude_unset=True)
    except ValidationError as error:
        raise ConfigError(f"environment: {_problems(model, error, lambda loc: True)}") from None
    try:
        return model(**_merge(values, environment))
    except ValidationError as error:
        raise ConfigError(_problems(model, error, lambda loc: _holds(environment, loc), path)) from None


def _keys_at(settings: type[HubSettings], loc: tuple[Any, ...]) -> list[str]:
    """The keys the table at ``loc`` declares (through named tables such as ``systems.<name>``)."""
    model: Any = settings
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        field = model.model_fields.get(str(part)) if isinstance(model, type) else None
        if field is None:
            return []
        annotation = _model_in(field.annotation)
        if annotation is None:
            return []
        named, model = annotation
        if named and parts:
            parts.pop(0)  # the name of the system, entity, profile ...
    return sorted(model.model_fields)


def _model_in(annotation: Any) -> tuple[bool, type[BaseModel]] | None:
    """(whether under a named table, the model) of a field's annotation, if it holds one."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return False, annotation
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is dict and len(arguments) == 2:
        inner = _model_in(arguments[1])
        return (True, inner[1]) if inner else None
    for argument in arguments:  # X | None
        inner = _model_in(argument)
        if inner is not None:
            return inner
    return None


def _holds(values: dict[str, Any], loc: tuple[Any, ...]) -> bool:
    """Whether a nested value at ``loc`` was given (by the environment)."""
    for part in loc:
        if not isinstance(values, dict) or part not in values:
            return False
        values = values[part]
    return True


def _problems(
    model: type[HubSettings], error: ValidationError, from_environment: Any, path: Path | None = None
) -> str:
    """Each problem named by where its value came from: a ``HUB_*`` variable or the file."""
    problems = []
    for e in error.errors():
        loc = [str(p) for p in e["loc"]]
        if from_environment(tuple(e["loc"])):
            where = "HUB_" + "__".join(loc).upper()
        elif path is not None and path.exists():
            where = f"{path}: {'.'.join(loc)}"
        else:
            where = ".".join(loc)
        if e["type"] == "extra_forbidden":
            known = _keys_at(model, tuple(e["loc"][:-1]))
            nearest = difflib.get_close_matches(str(e["loc"][-1]), known, n=1, cutoff=0.6)
            hint = f"; did you mean {nearest[0]!r}?" if nearest else f"; known here: {', '.join(known)}"
            problems.append(f"{where}: unknown key{hint}")
            continue
        problems.append(f"{where}: {e['msg']} (got {e.get('input')!r})")
    return "; ".join(problems)
