"""How far an order has come: the one set of rules for stages and milestones.

The ``Order`` aggregate and the order-tracking projection both hold an ``OrderProgress`` and feed
it the same facts, so the stage a user sees is computed by exactly the rules the domain uses.

Facts arrive late and out of order (a nightly export of deliveries before the one of
hand-overs), so the state is never advanced in arrival order. Every fact keeps the time it
happened at the source; the state is the fold of all facts sorted by that time, ties broken by
the business step and then by the fact itself. Any permutation of the same facts gives the same
state. A fact the order holds already (the same payment status, the same shipment step, the same
content) counts from its first occurrence: repeating it later changes nothing.
"""

from __future__ import annotations

import json
from bisect import insort
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any

from aggregates.money import PaymentTolerance

__all__ = ["COUNTED_PAYMENT", "SHIPPED_STATUSES", "STAGES", "Fact", "OrderProgress"]

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

# Authorised money is a promise, failed money is nothing: only these statuses count as paid.
COUNTED_PAYMENT = frozenset({"captured", "received"})
# A packed parcel is still in the warehouse; from hand-over on, the goods have left.
SHIPPED_STATUSES = frozenset({"handed_over", "in_transit", "out_for_delivery", "attempt_failed", "delivered"})

# The business step of each kind of fact: facts of one instant are taken in this order.
_STEPS = [
    ("content", None),
    ("payment", "authorised"),
    ("payment", "captured"),
    ("payment", "received"),
    ("payment", "failed"),
    ("cancellation", None),
    ("shipment", "packed"),
    ("shipment", "handed_over"),
    ("shipment", "in_transit"),
    ("shipment", "out_for_delivery"),
    ("shipment", "attempt_failed"),
    ("shipment", "delivered"),
    ("shipment", "failed"),
    ("confirmation", None),
    ("shipment", "returned"),
    ("payment", "refunded"),
]
STEP = {step: number for number, step in enumerate(_STEPS)}


@dataclass(frozen=True)
class Fact:
    """One business fact about an order, as the fold reads it.

    ``kind``: content (the placement or an amendment), payment, shipment, confirmation or
    cancellation; ``ref``: the payment's or shipment's id; ``data``: the rest, JSON-ready.
    """

    kind: str
    at: datetime
    status: str | None = None
    ref: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def key(self) -> tuple[datetime, int, str]:
        """Event time, then business step, then the fact itself: a total order on facts."""
        return (self.at, STEP.get((self.kind, self.status), len(STEP)), self.canonical)

    @cached_property
    def canonical(self) -> str:
        return json.dumps(
            [self.kind, self.status, self.ref, self.data], sort_keys=True, separators=(",", ":")
        )

    def same(self, other: Fact) -> bool:
        """Whether ``self`` states nothing that ``other`` (the same kind of step) does not."""
        if (self.kind, self.ref, self.status) != (other.kind, other.ref, other.status):
            return False
        if self.kind == "content":
            return _content_identity(self.data) == _content_identity(other.data)
        if self.kind == "shipment":  # nothing new: no other line, carrier or tracking number
            said = [self.data.get(k) in (None, other.data.get(k)) for k in ("carrier", "tracking_number")]
            lines = other.data["lines"]
            return all(said) and all(lines.get(sku) == qty for sku, qty in self.data["lines"].items())
        return True

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": self.at.isoformat(),
            "status": self.status,
            "ref": self.ref,
            **self.data,
        }

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Fact:
        rest = {k: v for k, v in doc.items() if k not in ("kind", "at", "status", "ref")}
        return cls(doc["kind"], datetime.fromisoformat(doc["at"]), doc["status"], doc["ref"], rest)


def _content_identity(data: dict[str, Any]) -> tuple[Any, ...]:
    lines = json.dumps(data["lines"], sort_keys=True)
    return (data["currency"], data["total_amount"], lines, data.get("requested_date"))


@dataclass
class OrderProgress:
    """The facts of one order and the state they fold to (everything but ``facts`` is derived)."""

    tolerance: PaymentTolerance = field(default_factory=PaymentTolerance)
    facts: list[Fact] = field(default_factory=list)  # sorted by Fact.key
    currency: str = ""
    total_amount: Decimal = Decimal(0)
    lines: list[dict[str, str]] = field(default_factory=list)
    ordered: dict[str, Decimal] = field(default_factory=dict)
    requested_date: str | None = None
    placed_at: datetime | None = None
    amended_at: datetime | None = None  # when the content in force was stated, if not at placement
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    shipments: dict[str, dict[str, Any]] = field(default_factory=dict)
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    confirmed_at: datetime | None = None
    cancelled_at: datetime | None = None
    returned_at: datetime | None = None
    _rank: int = 0
    _seen: set[tuple[Any, ...]] = field(default_factory=set)

    @staticmethod
    def content(
        *,
        at: datetime,
        currency: str,
        total_amount: Decimal,
        lines: list[dict[str, str]],
        placed_at: datetime,
        requested_date: str | None,
    ) -> Fact:
        """The placement or an amendment: what was ordered, stated at ``at``."""
        data = {
            "currency": currency,
            "total_amount": str(total_amount),
            "lines": lines,
            "placed_at": placed_at.isoformat(),
            "requested_date": requested_date,
        }
        return Fact("content", at, data=data)

    # -- facts ---------------------------------------------------------------------------------

    def knows(self, fact: Fact) -> bool:
        """Whether recording ``fact`` would change nothing: the order holds it from earlier on."""
        key = fact.key
        return any(fact.same(known) and known.key <= key for known in self.facts)

    def record(self, fact: Fact) -> None:
        """Place a fact where it belongs in time; a late one folds the facts again."""
        if not self.facts or self.facts[-1].key <= fact.key:
            self.facts.append(fact)
            self._apply(fact)
            return
        insort(self.facts, fact, key=lambda f: f.key)
        self._refold()

    def _refold(self) -> None:
        tolerance, facts = self.tolerance, self.facts
        self.__dict__.update(OrderProgress(tolerance=tolerance).__dict__)
        self.facts = facts
        for fact in facts:
            self._apply(fact)

    def _apply(self, fact: Fact) -> None:
        identity = (fact.kind, fact.ref, fact.status)
        first = identity not in self._seen
        self._seen.add(identity)
        getattr(self, f"_{fact.kind}")(fact, first)
        self._settle(fact.at)

    def _content(self, fact: Fact, first: bool) -> None:
        data = fact.data
        placed_at = datetime.fromisoformat(data["placed_at"])
        self.placed_at = placed_at if self.placed_at is None else min(self.placed_at, placed_at)
        identity = ("content-version", _content_identity(data))
        if identity in self._seen:
            return  # a version the order had before counts from when it first appeared
        self._seen.add(identity)
        self.amended_at = None if first else fact.at
        self.currency = data["currency"]
        self.total_amount = Decimal(data["total_amount"])
        self.lines = data["lines"]
        self.requested_date = data.get("requested_date")
        self.ordered = {}
        for line in self.lines:
            self.ordered[line["sku"]] = self.ordered.get(line["sku"], Decimal(0)) + Decimal(line["quantity"])

    def _payment(self, fact: Fact, first: bool) -> None:
        if not first:
            return
        assert fact.ref is not None and fact.status is not None
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
        if self.paid_at is None and self.paid_amount > 0 and self.fully_paid:
            self.paid_at = at
        if self.shipped_at is None and self.fully_shipped:
            self.shipped_at = at
        if self.delivered_at is None and self.fully_delivered:
            self.delivered_at = at
        if self.confirmed_at is not None and self.delivered_at is not None:
            reached = "confirmed"
        elif self.delivered_at is not None:
            reached = "delivered"
        elif self.shipped_at is not None:
            reached = "shipped"
        elif self.any_shipped:
            reached = "partially_shipped"
        elif self.fully_paid:
            reached = "paid"
        elif self.paid_amount > 0:
            reached = "partially_paid"
        else:
            reached = "placed"
        self._rank = max(self._rank, _RANK[reached])

    # -- derived -------------------------------------------------------------------------------

    def _in_currency(self, payment: dict[str, Any]) -> bool:
        return payment.get("currency", self.currency) == self.currency

    @property
    def paid_amount(self) -> Decimal:
        """Money captured in the order's currency (a payment in another one is flagged, not summed)."""
        return sum(
            (Decimal(p["captured"]) for p in self.payments.values() if self._in_currency(p)), Decimal(0)
        )

    @property
    def refunded_amount(self) -> Decimal:
        return sum(
            (Decimal(p["refunded"]) for p in self.payments.values() if self._in_currency(p)), Decimal(0)
        )

    @property
    def payment_rows(self) -> int:
        """Rows whose rounding may fall short: each counted payment, or each of its instalments."""
        return sum(
            max(int(p.get("instalments") or 1), 1)
            for p in self.payments.values()
            if Decimal(p["captured"]) > 0 and self._in_currency(p)
        )

    @property
    def fully_paid(self) -> bool:
        shortfall = self.total_amount - self.paid_amount
        return shortfall <= self.tolerance.allowed(self.currency, self.payment_rows)

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
        if not self.ordered:  # an order recorded without lines: the parcel is all there is
            return self.any_shipped
        shipped = self.shipped_quantities()
        return bool(shipped) and all(shipped.get(sku, 0) >= q for sku, q in self.ordered.items())

    @property
    def fully_delivered(self) -> bool:
        active = [s for s in self.shipments.values() if s["status"] in SHIPPED_STATUSES]
        return self.fully_shipped and all(s["status"] == "delivered" for s in active)

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

    # -- persistence for read models -----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"facts": [fact.to_dict() for fact in self.facts]}

    @classmethod
    def from_dict(cls, data: dict[str, Any], tolerance: PaymentTolerance | None = None) -> OrderProgress:
        if "facts" not in data:
            raise ValueError(
                "this order-tracking document was written by an older hub: run "
                "`hub projections rebuild order_tracking`"
            )
        progress = cls(tolerance=tolerance or PaymentTolerance())
        progress.facts = [Fact.from_dict(doc) for doc in data["facts"]]
        progress._refold()
        return progress
