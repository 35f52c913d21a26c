"""How far an order has come: the one set of rules for stages and milestones.

The ``Order`` aggregate and the order-tracking projection both hold an ``OrderProgress`` and feed
it the same facts, so the stage a user sees is computed by exactly the rules the domain enforces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = ["COUNTED_PAYMENT", "SHIPPED_STATUSES", "STAGES", "OrderProgress"]

STAGES = (
    "placed",
    "partially_paid",
    "paid",
    "partially_shipped",
    "shipped",
    "delivered",
    "confirmed",
    "cancelled",
    "returned",
)

# Authorised money is a promise, failed money is nothing: only these statuses count as paid.
COUNTED_PAYMENT = frozenset({"captured", "received"})
# A packed parcel is still in the warehouse; from hand-over on, the goods have left.
SHIPPED_STATUSES = frozenset({"handed_over", "in_transit", "out_for_delivery", "attempt_failed", "delivered"})


@dataclass
class OrderProgress:
    currency: str
    total_amount: Decimal
    ordered: dict[str, Decimal]
    placed_at: datetime
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    shipments: dict[str, dict[str, Any]] = field(default_factory=dict)
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    confirmed_at: datetime | None = None
    cancelled_at: datetime | None = None
    returned_at: datetime | None = None

    @classmethod
    def placed(
        cls, currency: str, total_amount: Decimal, lines: list[dict[str, str]], placed_at: datetime
    ) -> OrderProgress:
        """A new order's progress: the quantities ordered per SKU, nothing paid or shipped."""
        ordered: dict[str, Decimal] = {}
        for line in lines:
            ordered[line["sku"]] = ordered.get(line["sku"], Decimal(0)) + Decimal(line["quantity"])
        return cls(currency=currency, total_amount=total_amount, ordered=ordered, placed_at=placed_at)

    # -- facts ---------------------------------------------------------------------------------

    def record_payment(self, payment_id: str, status: str, amount: Decimal, occurred_at: datetime) -> None:
        payment = self.payments.setdefault(payment_id, {"captured": "0", "refunded": "0"})
        payment["status"] = status
        if status in COUNTED_PAYMENT:
            payment["captured"] = str(amount)
        elif status == "refunded":
            payment["refunded"] = str(amount)
        # Only a counted payment can complete the amount (and summing is linear in payments).
        if self.paid_at is None and status in COUNTED_PAYMENT and self.total_amount <= self.paid_amount:
            self.paid_at = occurred_at

    def record_shipment(
        self,
        shipment_id: str,
        status: str,
        carrier: str | None,
        tracking_number: str | None,
        lines: dict[str, Decimal],
        occurred_at: datetime,
    ) -> None:
        shipment = self.shipments.setdefault(shipment_id, {"lines": {}})
        shipment["status"] = status
        shipment["carrier"] = carrier or shipment.get("carrier")
        shipment["tracking_number"] = tracking_number or shipment.get("tracking_number")
        # Lines add up per shipment: a warehouse confirms a parcel one row (one SKU) at a time.
        shipment["lines"] = {**shipment["lines"], **{sku: str(qty) for sku, qty in lines.items()}}
        shipment["updated_at"] = occurred_at.isoformat()
        if self.shipped_at is None and self.fully_shipped:
            self.shipped_at = occurred_at
        if self.delivered_at is None and self.fully_delivered:
            self.delivered_at = occurred_at
        if status == "returned" and self.returned_at is None:
            self.returned_at = occurred_at

    def record_confirmation(self, confirmed_at: datetime) -> None:
        self.confirmed_at = self.confirmed_at or confirmed_at

    def record_cancellation(self, cancelled_at: datetime) -> None:
        self.cancelled_at = self.cancelled_at or cancelled_at

    # -- derived -------------------------------------------------------------------------------

    @property
    def paid_amount(self) -> Decimal:
        return sum((Decimal(p["captured"]) for p in self.payments.values()), Decimal(0))

    @property
    def refunded_amount(self) -> Decimal:
        return sum((Decimal(p["refunded"]) for p in self.payments.values()), Decimal(0))

    def shipped_quantities(self) -> dict[str, Decimal]:
        shipped: dict[str, Decimal] = {}
        for shipment in self.shipments.values():
            if shipment["status"] not in SHIPPED_STATUSES:
                continue
            # A shipment that names no lines carries the whole order (common for carriers).
            lines = shipment["lines"] or {sku: str(q) for sku, q in self.ordered.items()}
            for sku, qty in lines.items():
                shipped[sku] = shipped.get(sku, Decimal(0)) + Decimal(qty)
        return shipped

    @property
    def any_shipped(self) -> bool:
        return any(s["status"] in SHIPPED_STATUSES for s in self.shipments.values())

    @property
    def fully_shipped(self) -> bool:
        shipped = self.shipped_quantities()
        return bool(shipped) and all(shipped.get(sku, 0) >= q for sku, q in self.ordered.items())

    @property
    def fully_delivered(self) -> bool:
        active = [s for s in self.shipments.values() if s["status"] in SHIPPED_STATUSES]
        return self.fully_shipped and all(s["status"] == "delivered" for s in active)

    @property
    def stage(self) -> str:
        if self.cancelled_at is not None:
            return "cancelled"
        if self.returned_at is not None:
            return "returned"
        if self.confirmed_at is not None:
            return "confirmed"
        if self.fully_delivered:
            return "delivered"
        if self.fully_shipped:
            return "shipped"
        if self.any_shipped:
            return "partially_shipped"
        paid = self.paid_amount
        if paid >= self.total_amount:
            return "paid"
        if paid > 0:
            return "partially_paid"
        return "placed"

    # -- persistence for read models -----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat()

        return {
            "currency": self.currency,
            "total_amount": str(self.total_amount),
            "ordered": {sku: str(q) for sku, q in self.ordered.items()},
            "placed_at": iso(self.placed_at),
            "payments": self.payments,
            "shipments": self.shipments,
            "paid_at": iso(self.paid_at),
            "shipped_at": iso(self.shipped_at),
            "delivered_at": iso(self.delivered_at),
            "confirmed_at": iso(self.confirmed_at),
            "cancelled_at": iso(self.cancelled_at),
            "returned_at": iso(self.returned_at),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrderProgress:
        def when(key: str) -> datetime | None:
            value = data.get(key)
            return None if value is None else datetime.fromisoformat(value)

        return cls(
            currency=data["currency"],
            total_amount=Decimal(data["total_amount"]),
            ordered={sku: Decimal(q) for sku, q in data["ordered"].items()},
            placed_at=datetime.fromisoformat(data["placed_at"]),
            payments=data["payments"],
            shipments=data["shipments"],
            paid_at=when("paid_at"),
            shipped_at=when("shipped_at"),
            delivered_at=when("delivered_at"),
            confirmed_at=when("confirmed_at"),
            cancelled_at=when("cancelled_at"),
            returned_at=when("returned_at"),
        )
