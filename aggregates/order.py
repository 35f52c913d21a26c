"""The Order aggregate: one sales order followed from placement to confirmation or return.

Commands are idempotent: a fact the order already knows (the same payment in the same status,
the same shipment status, a second confirmation) triggers no event, so re-sent messages and
replays leave the log unchanged.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from eventsourcing.domain import Aggregate

from aggregates.errors import DomainRuleViolation
from aggregates.identity import order_id
from aggregates.order_progress import OrderProgress
from aggregates.provenance import Provenance

__all__ = ["Order"]


class Order(Aggregate):
    class Placed(Aggregate.Created):
        class_version = 2
        system: str
        order_ref: str
        channel: str
        customer_ref: str | None
        currency: str
        total_amount: Decimal
        lines: list[dict[str, str]]
        placed_at: datetime
        requested_date: str | None  # ISO date the customer wants the goods; None: at once
        aliases: list[dict[str, str]]
        provenance: Provenance

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["requested_date"] = None

    class PaymentRecorded(Aggregate.Event):
        class_version = 1
        payment_id: str
        status: str
        amount: Decimal
        occurred_at: datetime
        provenance: Provenance

        def apply(self, order: Order) -> None:
            order.progress.record_payment(self.payment_id, self.status, self.amount, self.occurred_at)

    class ShipmentRecorded(Aggregate.Event):
        class_version = 1
        shipment_id: str
        status: str
        carrier: str | None
        tracking_number: str | None
        lines: dict[str, str]
        occurred_at: datetime
        provenance: Provenance

        def apply(self, order: Order) -> None:
            order.progress.record_shipment(
                self.shipment_id,
                self.status,
                self.carrier,
                self.tracking_number,
                {sku: Decimal(q) for sku, q in self.lines.items()},
                self.occurred_at,
            )

    class Confirmed(Aggregate.Event):
        class_version = 1
        confirmed_at: datetime
        rating: int | None
        comment: str | None
        provenance: Provenance

        def apply(self, order: Order) -> None:
            order.progress.record_confirmation(self.confirmed_at)

    class Cancelled(Aggregate.Event):
        class_version = 1
        cancelled_at: datetime
        reason: str | None
        provenance: Provenance

        def apply(self, order: Order) -> None:
            order.progress.record_cancellation(self.cancelled_at)

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
        aliases: list[dict[str, str]],
        provenance: Provenance,
    ) -> None:
        self.system = system
        self.requested_date = requested_date
        self.order_ref = order_ref
        self.channel = channel
        self.customer_ref = customer_ref
        self.lines = lines
        self.aliases = aliases
        self.references: dict[str, dict[str, str | None]] = {}
        self.progress = OrderProgress.placed(currency, total_amount, lines, placed_at)

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
            aliases=aliases,
            provenance=provenance,
        )

    def same_placement(self, currency: str, total_amount: Decimal, lines: list[Any]) -> bool:
        """Whether a re-sent placement describes this order as already recorded."""
        return (
            currency == self.progress.currency
            and total_amount == self.progress.total_amount
            and lines == self.lines
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
    ) -> None:
        currency = currency or self.progress.currency
        if currency != self.progress.currency:
            raise DomainRuleViolation(
                f"payment {payment_id} is in {currency} but order {self.order_ref} is in "
                f"{self.progress.currency}"
            )
        known = self.progress.payments.get(payment_id)
        if known is not None and known["status"] == status:
            return
        if status == "refunded":
            refundable = self.progress.paid_amount - self.progress.refunded_amount
            if amount > refundable:
                raise DomainRuleViolation(
                    f"refund {payment_id} of {amount} {currency} exceeds the {refundable} "
                    f"{currency} paid and not yet refunded on order {self.order_ref}"
                )
        self.trigger_event(
            self.PaymentRecorded,
            payment_id=payment_id,
            status=status,
            amount=amount,
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
        unknown = sorted(set(lines) - set(self.progress.ordered))
        if unknown:
            raise DomainRuleViolation(
                f"shipment {shipment_id} carries SKU(s) {', '.join(unknown)} that order "
                f"{self.order_ref} does not contain"
            )
        known = self.progress.shipments.get(shipment_id)
        if (
            known is not None
            and known["status"] == status
            and all(known["lines"].get(k) == v for k, v in lines.items())
        ):
            return  # nothing new: same status, and every line already recorded as it is
        self.trigger_event(
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
        self,
        *,
        confirmed_at: datetime,
        rating: int | None,
        comment: str | None,
        provenance: Provenance,
    ) -> None:
        if self.progress.confirmed_at is not None:
            return
        self.trigger_event(
            self.Confirmed,
            confirmed_at=confirmed_at,
            rating=rating,
            comment=comment,
            provenance=provenance,
        )

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

    def cancel(self, *, cancelled_at: datetime, reason: str | None, provenance: Provenance) -> None:
        if self.progress.cancelled_at is not None:
            return
        if self.progress.any_shipped:
            raise DomainRuleViolation(
                f"order {self.order_ref} cannot be cancelled: goods have already left "
                "(record a return instead)"
            )
        self.trigger_event(self.Cancelled, cancelled_at=cancelled_at, reason=reason, provenance=provenance)
