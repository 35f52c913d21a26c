"""The Order aggregate: one sales order followed from placement to confirmation or return.

The sources are the truth about what happened, so every fact the hub can read is recorded, also
one that breaks expectations (a cancellation after shipping, an order without lines, a refund
above what was paid); the order-tracking view flags it as an anomaly. Commands are idempotent: a
fact the order already holds from earlier on (the same payment status, the same shipment step,
the same content, a second confirmation) triggers no event, so re-sent messages and replays leave
the log unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from eventsourcing.domain import Aggregate

from aggregates.errors import DomainRuleViolation
from aggregates.identity import order_id
from aggregates.order_facts import Fact, content_fact
from aggregates.order_progress import OrderProgress
from aggregates.provenance import Provenance

__all__ = ["Order", "fact_of"]

_FACTS: dict[int, tuple[Any, Fact]] = {}  # id(event) -> (event, its fact); see fact_of
_FACTS_KEPT = 20_000


def fact_of(event: Any) -> Fact:
    """The fact an order event states. The aggregate and every projection that folds orders
    read the same event objects in one batch, so each fact is worked out once (facts are never
    changed); the memo holds the event itself, so an id is never mistaken for another's."""
    kept = _FACTS.get(id(event))
    if kept is not None and kept[0] is event:
        return kept[1]
    fact = type(event).fact(vars(event))
    if len(_FACTS) >= _FACTS_KEPT:
        _FACTS.clear()
    _FACTS[id(event)] = (event, fact)
    return fact


def _content(fields: Mapping[str, Any], at: datetime) -> Fact:
    """What a placement or an amendment states (its event's fields), stated at ``at``."""
    named = ("currency", "total_amount", "lines", "placed_at", "requested_date")
    return content_fact(at=at, **{name: fields[name] for name in named})


class Order(Aggregate):
    class Placed(Aggregate.Created):
        class_version = 3
        system: str
        order_ref: str
        channel: str
        customer_ref: str | None
        currency: str
        total_amount: Decimal
        lines: list[dict[str, str]]
        placed_at: datetime
        requested_date: str | None  # ISO date the customer wants the goods; None: at once
        updated_at: datetime | None  # when the source stated this content; None: at placement
        aliases: list[dict[str, str]]
        provenance: Provenance

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["requested_date"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["updated_at"] = None

        @staticmethod
        def fact(f: Mapping[str, Any]) -> Fact:
            """The content as placed, stated when the source last changed it (or at placement)."""
            return _content(f, f["updated_at"] or f["placed_at"])

    class Amended(Aggregate.Event):
        """The source changed a placed order: its lines, total or requested date (history kept)."""

        class_version = 1
        currency: str
        total_amount: Decimal
        lines: list[dict[str, str]]
        placed_at: datetime
        requested_date: str | None
        amended_at: datetime
        provenance: Provenance

        @staticmethod
        def fact(f: Mapping[str, Any]) -> Fact:
            return _content(f, f["amended_at"])

        def apply(self, order: Order) -> None:
            order.progress.record(fact_of(self))

    class PaymentRecorded(Aggregate.Event):
        class_version = 2
        payment_id: str
        status: str
        amount: Decimal
        currency: str | None  # None: in the order's currency
        method: str | None  # card, voucher, bank_transfer, cash_on_delivery, ...
        instalments: int | None
        occurred_at: datetime
        provenance: Provenance

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.update(currency=None, method=None, instalments=None)

        @staticmethod
        def fact(f: Mapping[str, Any]) -> Fact:
            data = {k: f[k] for k in ("currency", "method", "instalments")}
            return Fact(
                "payment",
                f["occurred_at"],
                f["status"],
                f["payment_id"],
                {"amount": str(f["amount"]), **data},
            )

        def apply(self, order: Order) -> None:
            order.progress.record(fact_of(self))

    class ShipmentRecorded(Aggregate.Event):
        class_version = 1
        shipment_id: str
        status: str
        carrier: str | None
        tracking_number: str | None
        lines: dict[str, str]
        occurred_at: datetime
        provenance: Provenance

        @staticmethod
        def fact(f: Mapping[str, Any]) -> Fact:
            data = {k: f[k] for k in ("carrier", "tracking_number", "lines")}
            return Fact("shipment", f["occurred_at"], f["status"], f["shipment_id"], data)

        def apply(self, order: Order) -> None:
            order.progress.record(fact_of(self))

    class Confirmed(Aggregate.Event):
        class_version = 1
        confirmed_at: datetime
        rating: int | None
        comment: str | None
        provenance: Provenance

        @staticmethod
        def fact(f: Mapping[str, Any]) -> Fact:
            return Fact(
                "confirmation", f["confirmed_at"], data={"rating": f["rating"], "comment": f["comment"]}
            )

        def apply(self, order: Order) -> None:
            order.progress.record(fact_of(self))

    class Cancelled(Aggregate.Event):
        class_version = 1
        cancelled_at: datetime
        reason: str | None
        provenance: Provenance

        @staticmethod
        def fact(f: Mapping[str, Any]) -> Fact:
            return Fact("cancellation", f["cancelled_at"], data={"reason": f["reason"]})

        def apply(self, order: Order) -> None:
            order.progress.record(fact_of(self))

    class ReferenceRecorded(Aggregate.Event):
        """Another system took the order under its own number (or refused it, with a reason)."""

        class_version = 1
        system: str
        ref: str | None
        status: str
        reason: str | None
        occurred_at: datetime
        provenance: Provenance

        def apply(self, order: Order) -> None:
            order.references[self.system] = {
                "ref": self.ref,
                "status": self.status,
                "reason": self.reason,
                "at": self.occurred_at.isoformat(),
            }
            alias = {"system": self.system, "ref": self.ref}
            if self.ref is not None and alias not in order.aliases:
                order.aliases.append(alias)

    def __init__(
        self,
        system: str,
        order_ref: str,
        channel: str,
        customer_ref: str | None,
        currency: str,
        total_amount: Decimal,
        lines: list[dict[str, str]],
        placed_at: datetime,
        requested_date: str | None,
        updated_at: datetime | None,
        aliases: list[dict[str, str]],
        provenance: Provenance,
    ) -> None:
        self.system = system
        self.order_ref = order_ref
        self.channel = channel
        self.customer_ref = customer_ref
        self.aliases = aliases
        self.references: dict[str, dict[str, str | None]] = {}
        self.progress = OrderProgress()
        self.progress.record(self.Placed.fact(locals()))  # the arguments are the event's fields

    @property
    def lines(self) -> list[dict[str, str]]:
        """The lines in force: as placed, or as last amended."""
        return self.progress.lines

    # -- commands ------------------------------------------------------------------------------

    @classmethod
    def place(
        cls,
        *,
        system: str,
        order_ref: str,
        channel: str,
        customer_ref: str | None,
        currency: str,
        total_amount: Decimal,
        lines: list[dict[str, str]],
        placed_at: datetime,
        requested_date: date | None = None,
        updated_at: datetime | None = None,
        aliases: list[dict[str, str]],
        provenance: Provenance,
    ) -> Order:
        return cls._create(
            cls.Placed,
            id=order_id(system, order_ref),
            system=system,
            order_ref=order_ref,
            channel=channel,
            customer_ref=customer_ref,
            currency=currency,
            total_amount=total_amount,
            lines=lines,
            placed_at=placed_at,
            requested_date=None if requested_date is None else requested_date.isoformat(),
            updated_at=updated_at,
            aliases=aliases,
            provenance=provenance,
        )

    def amend(
        self,
        *,
        currency: str,
        total_amount: Decimal,
        lines: list[dict[str, str]],
        placed_at: datetime,
        requested_date: date | None,
        amended_at: datetime,
        provenance: Provenance,
    ) -> None:
        """A re-sent placement: nothing when it states a content the order had by then."""
        self._record_new(
            self.Amended,
            currency=currency,
            total_amount=total_amount,
            lines=lines,
            placed_at=placed_at,
            requested_date=None if requested_date is None else requested_date.isoformat(),
            amended_at=amended_at,
            provenance=provenance,
        )

    def record_payment(
        self,
        *,
        payment_id: str,
        status: str,
        amount: Decimal,
        currency: str | None,
        occurred_at: datetime,
        provenance: Provenance,
        method: str | None = None,
        instalments: int | None = None,
    ) -> None:
        """Recorded also in another currency or above what was paid: the view flags those."""
        self._record_new(
            self.PaymentRecorded,
            payment_id=payment_id,
            status=status,
            amount=amount,
            currency=currency,
            method=method,
            instalments=instalments,
            occurred_at=occurred_at,
            provenance=provenance,
        )

    def record_shipment(
        self,
        *,
        shipment_id: str,
        status: str,
        carrier: str | None,
        tracking_number: str | None,
        lines: dict[str, str],
        occurred_at: datetime,
        provenance: Provenance,
    ) -> None:
        """Recorded also with goods the order does not contain: the view flags those."""
        self._record_new(
            self.ShipmentRecorded,
            shipment_id=shipment_id,
            status=status,
            carrier=carrier,
            tracking_number=tracking_number,
            lines=lines,
            occurred_at=occurred_at,
            provenance=provenance,
        )

    def confirm_delivery(
        self, *, confirmed_at: datetime, rating: int | None, comment: str | None, provenance: Provenance
    ) -> None:
        """Recorded also before any delivery: the stage waits for the delivery, the view flags it."""
        self._record_new(
            self.Confirmed, confirmed_at=confirmed_at, rating=rating, comment=comment, provenance=provenance
        )

    def cancel(self, *, cancelled_at: datetime, reason: str | None, provenance: Provenance) -> None:
        """Recorded also after the goods left: the view then expects a return."""
        self._record_new(self.Cancelled, cancelled_at=cancelled_at, reason=reason, provenance=provenance)

    def _record_new(self, event_class: Any, **fields: Any) -> None:
        """Trigger the event unless the order holds its fact from earlier on (idempotence)."""
        if not self.progress.knows(event_class.fact(fields)):
            self.trigger_event(event_class, **fields)

    def record_reference(
        self,
        *,
        system: str,
        ref: str | None,
        status: str,
        reason: str | None,
        occurred_at: datetime,
        provenance: Provenance,
    ) -> None:
        known = self.references.get(system)
        if known is not None and known["status"] == "accepted":
            if status == "rejected" or known["ref"] == ref:
                return  # taken already: a late refusal of a retry changes nothing
            raise DomainRuleViolation(
                f"order {self.order_ref} is already {system} order {known['ref']}; {system} now names "
                f"it {ref} (two {system} orders for one hub order)"
            )
        if known is not None and known["status"] == status == "rejected" and known["reason"] == reason:
            return
        self.trigger_event(
            self.ReferenceRecorded,
            system=system,
            ref=ref,
            status=status,
            reason=reason,
            occurred_at=occurred_at,
            provenance=provenance,
        )
