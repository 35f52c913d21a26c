"""The SOAP adapter's settings: the tables a system with ``adapter = "soap"`` adds to its
``[systems.NAME]`` - the source and its entities, the outbound sync, the planned-order push.

They live beside the adapter that reads them; the core declares only what every source has, and
the process's settings are put together in ``entrypoints/settings.py``, so a file is still
validated in one pass, with one set of error locations and the same "did you mean" hints.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from hub.settings import Section, SystemConfig

__all__ = [
    "OutboundSync",
    "PlannedOrders",
    "SoapEntity",
    "SoapFollowUp",
    "SoapSession",
    "SoapSource",
    "SoapTables",
    "soap_tables",
]


class SoapFollowUp(Section):
    """The second operation of a two-step read: the next batch by locator, or records by id."""

    operation: str = Field(description="WSDL operation of the second step (queryMore, retrieve)")
    request: dict[str, Any] = Field(
        default_factory=dict, description="arguments; strings may use {locator} or {ids}"
    )
    records: str = Field("@", description="JMESPath from its answer to the record list")
    batch_size: int = Field(2000, ge=1, le=10_000, description="changes: ids per call")


class SoapSession(Section):
    """A login operation that opens a session (``auth = "session"``), as Salesforce's ``login``:
    its answer names the session id, sent in a SOAP header, and the server to talk to."""

    operation: str = Field("login", description="WSDL operation that opens the session")
    request: dict[str, Any] = Field(
        default_factory=lambda: {"username": "{username}", "password": "{password}"},
        description="login arguments; strings may use {username} and {password}",
    )
    session_id: str = Field("sessionId", description="JMESPath to the session id in the login answer")
    server_url: str | None = Field("serverUrl", description="JMESPath to the endpoint to use from then on")
    header: dict[str, Any] = Field(
        default_factory=lambda: {"SessionHeader": {"sessionId": "{session}"}},
        description="SOAP header sent with every call; strings may use {session}",
    )
    expired_faults: list[str] = Field(
        default_factory=lambda: ["INVALID_SESSION_ID"],
        description=(
            "faults meaning the session ended (log in again and retry): a fault code, or text "
            "the fault message contains (case-insensitive)"
        ),
    )


class SoapEntity(Section):
    """One entity a SOAP source serves: which operation, how it pages, where its cursor is."""

    operation: str = Field(description="WSDL operation that lists changed records")
    request: dict[str, Any] = Field(
        default_factory=dict,
        description="request arguments; strings may use {since}, {page}, {page_size}, {bookmark}",
    )
    records: str = Field("@", description="JMESPath from the serialized response to the record list")
    paging: Literal["page", "bookmark", "none", "locator", "changes"] = Field(
        "page",
        description=(
            "page: page numbers; bookmark: key of the last record; none: one call; locator: the "
            "answer names the next batch (query/queryMore); changes: a list of changed ids, then "
            "the records by id (getUpdated/retrieve)"
        ),
    )
    page_size: int = Field(500, ge=1, le=10_000, description="records asked per page ({page_size})")
    cursor_field: str | None = Field(
        None, description="record field holding its change time (the next 'since'); None: full scans"
    )
    cursor_format: str | None = Field(
        None, description="strptime format of cursor values; None: compare the values zeep returns"
    )
    initial_cursor: str = Field("", description="'since' of the very first poll")
    bookmark_field: str | None = Field(None, description="record field passed back as {bookmark}")
    more: SoapFollowUp | None = Field(
        None, description="locator: the operation reading the next batch; changes: fetching records by id"
    )
    locator: str = Field("queryLocator", description="locator: JMESPath to the next batch's locator")
    finished: str = Field("done", description="locator: JMESPath to 'no more batches'")
    covered: str = Field(
        "latestDateCovered", description="changes: JMESPath to the time the change list is complete up to"
    )
    lookback_days: float | None = Field(
        None,
        gt=0,
        description=(
            "changes: how far back the first poll asks, when initial_cursor is not set (a change "
            "list reaches back only as far as the source keeps changes: Salesforce 30 days, so 29)"
        ),
    )
    overlap_seconds: float | None = Field(
        None,
        ge=0,
        description=(
            "each poll asks again from this long before its cursor, so a change committed late or "
            "stamped by a clock behind the hub's is still read; the inbox drops what it already "
            "has. Default: 300 for paging = 'changes' (its window ends at the hub's clock when the "
            "answer names no covered time), 0 otherwise"
        ),
    )

    @model_validator(mode="after")
    def _two_steps_need_the_second(self) -> SoapEntity:
        if self.paging in ("locator", "changes") and self.more is None:
            raise ValueError(f"paging = {self.paging!r} needs [more] (the operation of the second step)")
        return self

    @model_validator(mode="after")
    def _a_change_list_needs_a_start(self) -> SoapEntity:
        # A change list cannot reach back to the first record: a silent default window would
        # load what changed lately, report "ok" and move the cursor past everything older.
        if self.paging == "changes" and not self.initial_cursor and self.lookback_days is None:
            raise ValueError(
                "paging = 'changes' lists only what changed within the source's window: set "
                "initial_cursor (the first poll's start) or lookback_days (how far back the source "
                "keeps changes, e.g. 29 for Salesforce's 30 days); records changed before it need a "
                "full read (an entity with paging = 'locator')"
            )
        return self

    def overlap(self) -> float:
        if self.overlap_seconds is not None:
            return self.overlap_seconds
        return 300.0 if self.paging == "changes" else 0.0


class SoapSource(Section):
    """A WSDL-described source polled by the hub (``adapter = "soap"``)."""

    wsdl: str = Field(description="URL or file path of the WSDL")
    address: str | None = Field(None, description="endpoint URL overriding the WSDL's own")
    service: str | None = Field(None, description="service name, when the WSDL has several")
    port: str | None = Field(None, description="port name, when the service has several")
    timeout_seconds: float = Field(10, gt=0, description="connect/read timeout of WSDL and calls")
    operation_timeout_seconds: float = Field(30, gt=0, description="longest wait for one operation")
    auth: Literal["none", "basic", "wsse", "session"] = Field(
        "none",
        description=(
            "basic: HTTP basic auth; wsse: a WS-Security UsernameToken; session: a login operation "
            "([session]); the credentials come from username_env and password_env"
        ),
    )
    session: SoapSession = Field(default_factory=SoapSession, description="the login of auth = 'session'")
    permanent_faults: list[str] = Field(
        default_factory=list,
        description=(
            "faults that name a wrong request or login (not retried): a fault code such as "
            "MALFORMED_QUERY, or text the fault message contains (case-insensitive); faults whose "
            "code starts with Client are never retried"
        ),
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "extra HTTP headers of every request, the WSDL's too; a value env:NAME is read from "
            "the environment variable NAME (API tokens)"
        ),
    )
    username_env: str | None = Field(None, description="environment variable with the user name")
    password_env: str | None = Field(None, description="environment variable with the password")
    poll_interval_seconds: float = Field(30, gt=0, description="pause between polls in `hub run`")
    retry_attempts: int = Field(4, ge=1, le=20, description="tries per call before it counts as failed")
    backoff_seconds: float = Field(0.5, gt=0, description="first retry delay (doubles, with jitter)")
    backoff_max_seconds: float = Field(30, gt=0, description="longest retry delay")
    circuit_failures: int = Field(3, ge=1, description="failed polls in a row that open the circuit")
    circuit_reset_seconds: float = Field(60, gt=0, description="open circuit waits this long")
    entities: dict[str, SoapEntity] = Field(default_factory=dict, description="what is polled, by name")


class OutboundSync(Section):
    """Orders from other channels created in this system (an ERP) through its SOAP interface."""

    enabled: bool = Field(False, description="the kill switch: false stops all creation at once")
    channels: list[str] = Field(default_factory=lambda: ["web", "crm"], description="channels to sync")
    spec: str = Field(
        "outbound/create_sales_order.yaml",
        description="request/response spec, relative to the system's mapping folder",
    )
    batch_size: int = Field(50, ge=1, le=5000, description="orders per outbound round")


class PlannedOrders(Section):
    """Planning recommendations handed to an ERP as planned production orders (`hub plan push`)."""

    enabled: bool = Field(False, description="false: recommendations stay in the hub")
    spec: str = Field(
        "outbound/create_planned_order.yaml",
        description="create/lookup requests, relative to the system's mapping folder",
    )
    work_centres: list[str] = Field(
        default_factory=list, description="only items made at these work centres; empty: every item"
    )


class SoapTables(Section):
    """What a SOAP system adds to ``[systems.NAME]``."""

    soap: SoapSource | None = Field(None, description="the SOAP source (adapter = 'soap')")
    outbound: OutboundSync | None = Field(None, description="create orders here (needs soap)")
    planned_orders: PlannedOrders | None = Field(
        None, description="push planning recommendations here as planned orders (needs soap)"
    )


_NONE = SoapTables()


def soap_tables(config: SystemConfig) -> SoapTables:
    """The system's SOAP tables; none when the settings were put together without them (a
    file with a ``soap`` table then fails to load, so nothing configured is ignored)."""
    return config if isinstance(config, SoapTables) else _NONE
