"""Outbound sync: orders placed in other channels become orders in the ERP, exactly once.

Driven from the event log with a tracking position, like a projection, so no order is missed
or sent twice by the hub itself. The ERP call is the part no transaction covers: before the
call the order is marked ``sending``; an order found in that state (a timeout, a crash, a
restart) is first looked up by its external reference, and created only if the ERP does not
have it. The ERP's answer — its order number or its reason for refusing — is stored raw in the
inbox and mapped like any other message, in the transaction that advances the position.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from adapters.soap.client import SoapCallFailed, SoapClient
from adapters.soap.poller import ENTITY_HEADER, OPERATION_HEADER
from adapters.soap.settings import OutboundSync, PlannedOrders, SoapSource
from adapters.soap.state import AdapterState, lease_owner
from aggregates import Order, customer_id
from hub.mapping.paths import compile_path
from hub.mapping.transforms import comma_text
from hub.ports import AdapterPorts, Receive
from hub.settings import ConfigError
from hub.store import Store

__all__ = ["OUTBOUND_ENTITY", "OutboundReport", "OutboundSpec", "OutboundSyncer", "outbound_status"]

OUTBOUND_ENTITY = "*outbound"  # its state row (entity names of sources never start with *)
_PLACED = ":Order.Placed"


@dataclass
class OutboundReport:
    target: str
    created: int = 0
    found: int = 0
    rejected: int = 0
    skipped: int = 0
    retries: int = 0
    error: str | None = None
    paused: str | None = None
    orders: list[dict[str, Any]] = field(default_factory=list)

    def add(self, external_ref: str, outcome: dict[str, Any]) -> None:
        self.orders.append({"order": external_ref, **outcome})
        if outcome["state"] == "created":
            self.created += 1
        elif outcome["state"] == "found":
            self.found += 1
        else:
            self.rejected += 1


class _Request:
    """A request template: JMESPath strings over the order, ``{path, format}``, ``{value}``,
    ``{each, fields}`` for lists, and nested tables for the request's structure."""

    def __init__(self, spec: Any, file: Path, zone: ZoneInfo) -> None:
        self.spec, self.file, self.zone = spec, file, zone
        self._paths: dict[str, Any] = {}

    def render(self, document: dict[str, Any]) -> Any:
        return self._render(self.spec, document)

    def _path(self, expression: str) -> Any:
        if expression not in self._paths:
            self._paths[expression] = compile_path(expression)
        return self._paths[expression]

    def _render(self, spec: Any, document: Any) -> Any:
        if isinstance(spec, str):
            return self._path(spec)(document)
        if not isinstance(spec, dict):
            return spec
        if "value" in spec:
            return spec["value"]
        if "each" in spec:
            return [self._render(spec["fields"], item) for item in self._path(spec["each"])(document) or []]
        if "path" in spec:
            return self._format(self._path(spec["path"])(document), spec.get("format"))
        return {key: self._render(value, document) for key, value in spec.items()}

    def _format(self, value: Any, fmt: str | None) -> Any:
        if value is None or fmt is None:
            return value
        if fmt == "comma":  # 1234.5 -> 1.234,50 (legacy ERPs)
            return comma_text(value)
        if fmt.startswith("local:"):
            moment = datetime.fromisoformat(str(value)).astimezone(self.zone)
            return moment.strftime(fmt.removeprefix("local:"))
        if fmt == "str":
            return str(value)
        raise ConfigError(f"{self.file}: unknown format {fmt!r} (use comma, local:FORMAT or str)")


@dataclass
class OutboundSpec:
    """How to create an order in the target and how to ask for it by external reference."""

    create_operation: str
    create_request: _Request
    create_ref: Any
    lookup_operation: str
    lookup_request: _Request
    lookup_ref: Any

    @classmethod
    def load(cls, file: Path, zone: ZoneInfo) -> OutboundSpec:
        try:
            spec = yaml.safe_load(file.read_text(encoding="utf-8"))
            create, lookup = spec["create"], spec["lookup"]
            return cls(
                create_operation=create["operation"],
                create_request=_Request(create["request"], file, zone),
                create_ref=compile_path(create.get("ref", "@")),
                lookup_operation=lookup["operation"],
                lookup_request=_Request(lookup["request"], file, zone),
                lookup_ref=compile_path(lookup.get("ref", "@")),
            )
        except FileNotFoundError:
            raise ConfigError(f"{file}: outbound spec not found") from None
        except (yaml.YAMLError, KeyError, TypeError) as error:
            raise ConfigError(
                f"{file}: not a usable outbound spec ({error!r}); needs create and lookup"
            ) from None


TABLES = (
    """CREATE TABLE IF NOT EXISTS hub_outbound (
        target TEXT NOT NULL,
        order_id TEXT NOT NULL,
        order_system TEXT NOT NULL,
        order_ref TEXT NOT NULL,
        external_ref TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        target_ref TEXT,
        reason TEXT,
        position BIGINT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (target, order_id))""",
)


class OutboundSyncer:
    lease_entity = OUTBOUND_ENTITY  # its lease and last outcome; the kill switch is always this row's
    config_key = "outbound"

    def __init__(
        self,
        ports: AdapterPorts,
        target: str,
        config: OutboundSync | PlannedOrders,
        source: SoapSource,
        client: SoapClient | None = None,
        receive: Receive | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.ports, self.target, self.config, self.source = ports, target, config, source
        self.receive = receive or ports.receive
        self.client = client or SoapClient(target, source)
        self.state = AdapterState(ports.store)
        ports.store.ensure(*TABLES)
        self.tracking = f"outbound:{target}"
        system = ports.settings.system(target)
        self.spec = OutboundSpec.load(
            ports.settings.mapping_folder(target) / config.spec, ZoneInfo(system.timezone)
        )
        self.sleep = sleep
        self.owner = lease_owner(self)
        # Long enough for one order's every attempt: the lease is renewed before each order.
        self.lease_seconds = 60 + source.retry_attempts * (
            source.operation_timeout_seconds + source.timeout_seconds + source.backoff_max_seconds
        )

    # -- control -------------------------------------------------------------------------------

    def paused(self) -> str | None:
        """Why nothing is sent now: the configured kill switch or ``hub outbound pause``."""
        if not self.config.enabled:
            return f"disabled in configuration (systems.{self.target}.{self.config_key}.enabled = false)"
        state = self.state.load(self.target, OUTBOUND_ENTITY)
        return f"paused since {state.opened_at}" if state.circuit == "paused" else None

    def pause(self, paused: bool) -> None:
        """The operator's kill switch: stops sending at the next order, in every running hub."""
        self.state.set_circuit(self.target, OUTBOUND_ENTITY, "paused" if paused else "closed")

    def status(self) -> dict[str, Any]:
        return outbound_status(self.ports, self.target, self)

    # -- sync ----------------------------------------------------------------------------------

    def run_once(self, on_order: Callable[[OutboundReport], None] | None = None) -> OutboundReport:
        """Send every order placed since the last round (until the log's head or a failure)."""
        report = OutboundReport(self.target)
        report.paused = self.paused()
        if report.paused:
            return report
        held = self.state.lease(self.target, self.lease_entity, self.owner, self.lease_seconds)
        if held is not None:
            report.paused = f"another hub is sending to {self.target} ({held})"
            return report
        try:
            return self._run(report, on_order)
        finally:
            self.state.release(self.target, self.lease_entity, self.owner)

    def _run(
        self, report: OutboundReport, on_order: Callable[[OutboundReport], None] | None
    ) -> OutboundReport:
        position = self.ports.store.position(self.tracking)
        try:
            while True:
                notifications = self.ports.store.notifications(position, self.config.batch_size)
                if not notifications:
                    break
                for notification in notifications:
                    if notification.topic.endswith(_PLACED):
                        event = self.ports.store.decode(notification)
                        if self._wanted(event):
                            if not self._may_go_on(report):
                                return report
                            self._sync(event, notification.id, position, report)
                            position = notification.id
                            if on_order is not None:
                                on_order(report)
                            continue
                    report.skipped += 1
                self._track(position, notifications[-1].id)
                position = notifications[-1].id
        except SoapCallFailed as error:
            report.error = str(error)
            self.state.failed(self.target, self.lease_entity, report.error)
            return report
        self.state.succeeded(self.target, self.lease_entity)
        return report

    def _may_go_on(self, report: OutboundReport) -> bool:
        """Asked before each order: an operator may have pulled the switch, or our lease ran out
        while the ERP was slow and another hub took over."""
        report.paused = self.paused()
        if report.paused:
            return False
        held = self.state.lease(self.target, self.lease_entity, self.owner, self.lease_seconds)
        if held is not None:
            report.paused = f"another hub took over sending to {self.target} ({held})"
            return False
        return True

    def _wanted(self, event: Any) -> bool:
        return (
            isinstance(event, Order.Placed)
            and event.system != self.target
            and event.channel in self.config.channels
        )

    def _track(self, current: int, reached: int) -> None:
        if reached > current:
            with self.ports.store.transaction() as cursor:
                self.ports.store.track(cursor, self.tracking, reached)

    def _sync(self, event: Any, position: int, tracked: int, report: OutboundReport) -> None:
        order_key = str(event.originator_id)
        external_ref = f"{event.system}:{event.order_ref}"
        rows = self.ports.store.query(
            "SELECT state, attempts FROM hub_outbound WHERE target = ? AND order_id = ?",
            (self.target, order_key),
        )
        if rows and rows[0]["state"] in ("created", "found", "rejected"):
            self._track(tracked, position)  # answered before a crash kept the position behind
            return
        uncertain = bool(rows)  # an earlier attempt may have reached the ERP
        if not rows:
            with self.ports.store.transaction() as cursor:
                self.ports.store.execute(
                    cursor,
                    "INSERT INTO hub_outbound (target, order_id, order_system, order_ref, external_ref, "
                    "state, attempts, position, updated_at) VALUES (?, ?, ?, ?, ?, 'sending', 0, ?, ?)",
                    (self.target, order_key, event.system, event.order_ref, external_ref, position, _now()),
                )
        document = self._document(event, external_ref)
        outcome = self._deliver(document, order_key, uncertain, report)
        self._record(event, order_key, external_ref, position, outcome)
        report.add(external_ref, outcome)

    def _deliver(
        self, document: dict[str, Any], order_key: str, uncertain: bool, report: OutboundReport
    ) -> dict[str, Any]:
        """Create the order, asking first whenever an earlier attempt may have got through."""
        last: SoapCallFailed | None = None
        for attempt in range(self.source.retry_attempts):
            if attempt:
                report.retries += 1
                delay = min(self.source.backoff_max_seconds, self.source.backoff_seconds * 2 ** (attempt - 1))
                self.sleep(random.uniform(0, delay))
            with self.ports.store.transaction() as cursor:
                self.ports.store.execute(
                    cursor,
                    "UPDATE hub_outbound SET attempts = attempts + 1, updated_at = ? "
                    "WHERE target = ? AND order_id = ?",
                    (_now(), self.target, order_key),
                )
            try:
                if uncertain:
                    found = self.spec.lookup_ref(
                        self.client.call(
                            self.spec.lookup_operation, self.spec.lookup_request.render(document)
                        )
                    )
                    if found:
                        return {"state": "found", "target_ref": str(found), "reason": None}
                uncertain = True  # from here on, a failed create may still have been carried out
                answer = self.client.call(
                    self.spec.create_operation, self.spec.create_request.render(document)
                )
                created = self.spec.create_ref(answer)
                if not created:
                    raise SoapCallFailed(
                        self.spec.create_operation,
                        "unexpected response",
                        f"no order number in {answer!r}",
                        transient=False,
                    )
                return {"state": "created", "target_ref": str(created), "reason": None}
            except SoapCallFailed as error:
                if not error.transient:
                    return {
                        "state": "rejected",
                        "target_ref": None,
                        "reason": f"{error.kind}: {error.detail}",
                    }
                last = error
        assert last is not None
        raise last

    def _record(
        self, event: Any, order_key: str, external_ref: str, position: int, outcome: dict[str, Any]
    ) -> None:
        envelope = {
            "headers": {ENTITY_HEADER: "outbound", OPERATION_HEADER: self.spec.create_operation},
            "body": {
                "ExternalRef": external_ref,
                "OrderSystem": event.system,
                "OrderRef": event.order_ref,
                "Status": outcome["state"],
                "OrderNo": outcome["target_ref"],
                "Reason": outcome["reason"],
                "At": _now(),
            },
        }

        def settle(cursor: Any) -> None:
            self.ports.store.execute(
                cursor,
                "UPDATE hub_outbound SET state = ?, target_ref = ?, reason = ?, updated_at = ? "
                "WHERE target = ? AND order_id = ?",
                (outcome["state"], outcome["target_ref"], outcome["reason"], _now(), self.target, order_key),
            )
            self.ports.store.track(cursor, self.tracking, position)

        self.receive(self.target, [envelope], settle)

    def _document(self, event: Any, external_ref: str) -> dict[str, Any]:
        """What a request template can use: the order as placed and the customer's name and e-mail."""
        customer: dict[str, Any] = {}
        if event.customer_ref:
            key = customer_id(event.system, event.customer_ref)
            known = self.ports.store.replay([key]).get(key)
            customer = known.fields if known is not None else {}
        names = [customer.get("given_name"), customer.get("family_name")]
        return {
            "system": event.system,
            "order_ref": event.order_ref,
            "external_ref": external_ref,
            "channel": event.channel,
            "customer_ref": event.customer_ref,
            "customer_name": " ".join(n for n in names if n) or customer.get("organisation_name"),
            "customer_email": (customer.get("emails") or [None])[0],
            "currency": event.currency,
            "total_amount": str(event.total_amount),
            "placed_at": event.placed_at.isoformat(),
            "lines": event.lines,
        }


def recorded_targets(store: Store) -> list[str]:
    """Targets with outcomes on record, configured now or not."""
    store.ensure(*TABLES)
    return [row["target"] for row in store.query("SELECT DISTINCT target FROM hub_outbound")]


def outbound_status(ports: AdapterPorts, target: str, syncer: OutboundSyncer | None = None) -> dict[str, Any]:
    """Kill switch, position and outcomes of the sync to TARGET (configured here or not)."""
    ports.store.ensure(*TABLES)
    rows = ports.store.query(
        "SELECT state, COUNT(*) AS n FROM hub_outbound WHERE target = ? GROUP BY state", (target,)
    )
    attention = ports.store.query(
        "SELECT order_system, order_ref, state, target_ref, reason, attempts, updated_at "
        "FROM hub_outbound WHERE target = ? AND state IN ('sending', 'rejected') "
        "ORDER BY updated_at DESC LIMIT 20",
        (target,),
    )
    state = AdapterState(ports.store).load(target, OUTBOUND_ENTITY)
    return {
        "target": target,
        "enabled": syncer.config.enabled if syncer else False,
        "paused": syncer.paused()
        if syncer
        else "not in this configuration; outcomes recorded by an earlier run",
        "channels": syncer.config.channels if syncer else [],
        "position": ports.store.position(f"outbound:{target}"),
        "log_head": ports.store.head(),
        "counts": {r["state"]: int(r["n"]) for r in rows},
        "attention": [dict(r) for r in attention],
        "last_success_at": state.last_success_at,
        "last_error": state.last_error,
        "last_error_at": state.last_error_at,
    }


def _now() -> str:
    return datetime.now(UTC).isoformat()
