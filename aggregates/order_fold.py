"""The fold of an order's facts: stages, milestones, money and parcels, fact after fact in time.

Each fact is taken once, in time order: a payment's or a shipment's status is the one it reached
last in time (the first occurrence of each status counts), ``paid_at`` is when payments first
covered the total (within the tolerance), ``shipped_at`` when every line had left, and the stage
never goes back along the path placed -> ... -> confirmed; a cancellation and a return move it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from aggregates.money import PaymentTolerance
from aggregates.order_facts import Fact

__all__ = ["COUNTED_PAYMENT", "SHIPPED_STATUSES", "STAGES", "OrderFold"]

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
_RANK = {stage: rank for rank, stage in enumerate(STAGES)}
_ZERO = Decimal(0)

# Authorised money is a promise, failed money is nothing: only these statuses count as paid.
COUNTED_PAYMENT = frozenset({"captured", "received"})
# A packed parcel is still in the warehouse; from hand-over on, the goods have left.
SHIPPED_STATUSES = frozenset({"handed_over", "in_transit", "out_for_delivery", "attempt_failed", "delivered"})


class OrderFold:
    """The state an order's facts fold to, taken in time order (see ``OrderProgress``)."""

    __slots__ = (
        "_rank",
        "_seen",
        "_shipped",
        "_sums",
        "_versions",
        "amended_at",
        "cancelled_at",
        "confirmed_at",
        "currency",
        "delivered_at",
        "lines",
        "ordered",
        "paid_at",
        "payments",
        "placed_at",
        "requested_date",
        "returned_at",
        "shipments",
        "shipped_at",
        "tolerance",
        "total_amount",
    )

    def __init__(self, tolerance: PaymentTolerance) -> None:
        self.tolerance = tolerance
        self.currency = ""
        self.total_amount = Decimal(0)
        self.lines: list[dict[str, str]] = []
        self.ordered: dict[str, Decimal] = {}
        self.requested_date: str | None = None
        self.placed_at: datetime | None = None
        self.amended_at: datetime | None = None  # when the content in force was stated, if amended
        self.payments: dict[str, dict[str, Any]] = {}
        self.shipments: dict[str, dict[str, Any]] = {}
        self.paid_at: datetime | None = None
        self.shipped_at: datetime | None = None
        self.delivered_at: datetime | None = None
        self.confirmed_at: datetime | None = None
        self.cancelled_at: datetime | None = None
        self.returned_at: datetime | None = None
        self._rank = 0
        self._seen: set[str] = set()
        self._versions: list[Fact] = []  # each distinct content, first occurrence
        self._sums: tuple[Decimal, Decimal, int, bool] | None = None  # see _money
        self._shipped: tuple[bool, bool, bool] | None = None  # see _shipping

    @classmethod
    def of(cls, facts: list[Fact], tolerance: PaymentTolerance) -> OrderFold:
        """The state of facts in time order (``Fact.precedes``)."""
        fold = cls(tolerance)
        for fact in facts:
            fold.apply(fact)
        return fold

    # -- one fact after the other ---------------------------------------------------------------

    def apply(self, fact: Fact) -> None:
        """Take the next fact in time order."""
        identity = f"{fact.kind}|{fact.ref}|{fact.status}"  # text: no container for the collector
        first = identity not in self._seen
        self._seen.add(identity)
        _TAKE[fact.kind](self, fact, first)
        self._settle(fact.at)

    def _content(self, fact: Fact, first: bool) -> None:
        data = fact.data
        placed_at = datetime.fromisoformat(data["placed_at"])
        self.placed_at = placed_at if self.placed_at is None else min(self.placed_at, placed_at)
        if self._versions and any(fact.content == version.content for version in self._versions):
            return  # a version the order had before counts from when it first appeared
        self._versions.append(fact)
        self._sums = self._shipped = None
        self.amended_at = None if first else fact.at
        self.currency = data["currency"]
        self.total_amount = Decimal(data["total_amount"])
        self.lines = data["lines"]
        self.requested_date = data.get("requested_date")
        ordered: dict[str, Decimal] = {}
        for line in self.lines:
            sku = line["sku"]
            ordered[sku] = (
                ordered[sku] + Decimal(line["quantity"]) if sku in ordered else Decimal(line["quantity"])
            )
        self.ordered = ordered

    def _payment(self, fact: Fact, first: bool) -> None:
        if not first:
            return
        assert fact.ref is not None and fact.status is not None
        self._sums = None
        payment = self.payments.setdefault(fact.ref, {"captured": "0", "refunded": "0"})
        payment["status"] = fact.status
        payment["updated_at"] = fact.at.isoformat()
        for key in ("currency", "method", "instalments"):
            if fact.data.get(key) is not None:
                payment[key] = fact.data[key]
        if fact.status in COUNTED_PAYMENT:
            payment["captured"] = fact.data["amount"]
        elif fact.status == "refunded":
            payment["refunded"] = fact.data["amount"]

    def _shipment(self, fact: Fact, first: bool) -> None:
        assert fact.ref is not None and fact.status is not None
        self._shipped = None
        shipment = self.shipments.setdefault(
            fact.ref, {"lines": {}, "carrier": None, "tracking_number": None, "status": fact.status}
        )
        shipment["carrier"] = fact.data.get("carrier") or shipment["carrier"]
        shipment["tracking_number"] = fact.data.get("tracking_number") or shipment["tracking_number"]
        # Lines add up per shipment: a warehouse confirms a parcel one row (one SKU) at a time.
        shipment["lines"] = {**shipment["lines"], **fact.data["lines"]}
        if not first:
            return
        shipment["status"] = fact.status
        shipment["updated_at"] = fact.at.isoformat()
        if fact.status in SHIPPED_STATUSES:
            shipment.setdefault("left_at", fact.at.isoformat())
        if fact.status == "returned" and self.returned_at is None:
            self.returned_at = fact.at

    def _confirmation(self, fact: Fact, first: bool) -> None:
        if first:
            self.confirmed_at = fact.at

    def _cancellation(self, fact: Fact, first: bool) -> None:
        if first:
            self.cancelled_at = fact.at

    def _settle(self, at: datetime) -> None:
        """Milestones reached by the fact at ``at``; the stage never goes back along the path.
        Nothing is reached before the order's content is known (a source clock ahead of the
        shop's can date a payment before the placement): the placement then settles it."""
        if self.placed_at is None:
            return
        paid, _, _, paid_in_full = self._money()
        if self.paid_at is None and paid > 0 and paid_in_full:
            self.paid_at = at
        any_shipped, fully_shipped, fully_delivered = self._shipping()
        if self.shipped_at is None and fully_shipped:
            self.shipped_at = at
        if self.delivered_at is None and fully_delivered:
            self.delivered_at = at
        if self.confirmed_at is not None and self.delivered_at is not None:
            reached = "confirmed"
        elif self.delivered_at is not None:
            reached = "delivered"
        elif self.shipped_at is not None:
            reached = "shipped"
        elif any_shipped:
            reached = "partially_shipped"
        elif paid_in_full:
            reached = "paid"
        elif paid > 0:
            reached = "partially_paid"
        else:
            reached = "placed"
        self._rank = max(self._rank, _RANK[reached])

    # -- derived -------------------------------------------------------------------------------

    def _money(self) -> tuple[Decimal, Decimal, int, bool]:
        """Paid, refunded, the payment rows that may round short, and whether that is paid in
        full, in the order's currency (a payment in another one is flagged, not summed). Kept
        until a payment or the content changes: the fold asks after every fact."""
        if self._sums is None:
            paid, refunded, rows = _ZERO, _ZERO, 0
            for payment in self.payments.values():
                if payment.get("currency", self.currency) != self.currency:
                    continue
                captured = Decimal(payment["captured"])
                paid += captured
                refunded += Decimal(payment["refunded"])
                if captured > 0:  # each counted payment rounds once, or once per instalment
                    rows += max(int(payment.get("instalments") or 1), 1)
            shortfall = self.total_amount - paid
            in_full = shortfall <= 0 or shortfall <= self.tolerance.allowed(self.currency, rows)
            self._sums = (paid, refunded, rows, in_full)
        return self._sums

    def _shipping(self) -> tuple[bool, bool, bool]:
        """Whether any goods left, all of them, and all were delivered; kept until a shipment or
        the content changes."""
        if self._shipped is None:
            active = [s for s in self.shipments.values() if s["status"] in SHIPPED_STATUSES]
            # An order recorded without lines: the parcel is all there is.
            fully = bool(active) and (not self.ordered or self._every_line_left())
            self._shipped = (bool(active), fully, fully and all(s["status"] == "delivered" for s in active))
        return self._shipped

    def _every_line_left(self) -> bool:
        shipped = self.shipped_quantities()
        return all(shipped.get(sku, 0) >= quantity for sku, quantity in self.ordered.items())

    @property
    def paid_amount(self) -> Decimal:
        return self._money()[0]

    @property
    def refunded_amount(self) -> Decimal:
        return self._money()[1]

    @property
    def fully_paid(self) -> bool:
        return self._money()[3]

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
        return self._shipping()[0]

    @property
    def fully_shipped(self) -> bool:
        return self._shipping()[1]

    @property
    def fully_delivered(self) -> bool:
        return self._shipping()[2]

    @property
    def first_left_at(self) -> datetime | None:
        """When the first goods left (a shipment's first hand-over, transit or delivery)."""
        times = [s["left_at"] for s in self.shipments.values() if "left_at" in s]
        return datetime.fromisoformat(min(times)) if times else None

    @property
    def stage(self) -> str:
        if self.returned_at is not None:
            return "returned"
        if self.cancelled_at is not None:
            return "cancelled"
        return STAGES[self._rank]


_TAKE = {
    "content": OrderFold._content,
    "payment": OrderFold._payment,
    "shipment": OrderFold._shipment,
    "confirmation": OrderFold._confirmation,
    "cancellation": OrderFold._cancellation,
}
