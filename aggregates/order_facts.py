"""The facts of an order and their order in time: what the fold of an order's progress reads.

A fact keeps the time it happened at its source. Facts are ordered by that time, then by the
business step (a payment is taken before the parcel leaves when both carry one instant), then by
the fact itself, so any set of facts has exactly one order, whatever order they arrived in.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

__all__ = ["STEP", "Fact", "content_fact"]

_NAMED = frozenset({"kind", "at", "status", "ref"})

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


class Fact:
    """One business fact about an order, as the fold reads it (not to be changed once made).

    ``kind``: content (the placement or an amendment), payment, shipment, confirmation or
    cancellation; ``ref``: the payment's or shipment's id; ``data``: the rest, JSON-ready.
    Facts are ordered by event time, then business step, then the fact itself (its text is only
    written out for the rare tie): see ``precedes``. Recording is on the hot path of every
    message, hence the slots, no reference cycles, and the work left until asked for.
    """

    __slots__ = ("_canonical", "_content", "_stored", "at", "data", "kind", "ref", "status", "step")

    def __init__(
        self,
        kind: str,
        at: datetime,
        status: str | None = None,
        ref: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.kind, self.at, self.status, self.ref = kind, at, status, ref
        # What a fact does not say is left out, so a fact reads the same after a round trip
        # through a stored document (``to_dict``), where empty values are not written.
        self.data = {k: v for k, v in data.items() if v is not None} if data else {}
        self.step = STEP.get((kind, status), len(STEP))
        self._canonical: str | None = None
        self._content: tuple[Any, ...] | None = None
        self._stored: dict[str, Any] | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Fact):
            return NotImplemented
        mine = (self.kind, self.at, self.status, self.ref, self.data)
        return mine == (other.kind, other.at, other.status, other.ref, other.data)

    __hash__ = None  # type: ignore[assignment]

    def precedes(self, other: Fact) -> bool:
        """Whether this fact comes before ``other`` or is the same: by event time, business
        step, then the fact's text (a total order, so any arrival order sorts alike)."""
        if self.at != other.at:
            return self.at < other.at
        if self.step != other.step:
            return self.step < other.step
        return self.canonical <= other.canonical

    def __repr__(self) -> str:
        return f"Fact({self.kind!r}, {self.at.isoformat()!r}, {self.status!r}, {self.ref!r}, {self.data!r})"

    @property
    def canonical(self) -> str:
        if self._canonical is None:
            self._canonical = json.dumps(
                [self.kind, self.status, self.ref, self.data], sort_keys=True, separators=(",", ":")
            )
        return self._canonical

    @property
    def content(self) -> tuple[Any, ...]:
        """What a placement or an amendment states, as one comparable value."""
        if self._content is None:
            lines = tuple(tuple(sorted(line.items())) for line in self.data["lines"])
            data = self.data
            self._content = (data["currency"], data["total_amount"], lines, data.get("requested_date"))
        return self._content

    def same(self, other: Fact) -> bool:
        """Whether ``self`` states nothing that ``other`` (the same kind of step) does not."""
        if (self.kind, self.ref, self.status) != (other.kind, other.ref, other.status):
            return False
        if self.kind == "content":
            return self.content == other.content
        if self.kind == "shipment":  # nothing new: no other line, carrier or tracking number
            said = [self.data.get(k) in (None, other.data.get(k)) for k in ("carrier", "tracking_number")]
            lines = other.data["lines"]
            return all(said) and all(lines.get(sku) == qty for sku, qty in self.data["lines"].items())
        return True

    def to_dict(self) -> dict[str, Any]:
        if self._stored is None:
            named = {"kind": self.kind, "at": self.at.isoformat(), "status": self.status, "ref": self.ref}
            self._stored = {**{k: v for k, v in named.items() if v is not None}, **self.data}
        return self._stored

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Fact:
        rest = {k: v for k, v in doc.items() if k not in _NAMED}
        return cls(doc["kind"], datetime.fromisoformat(doc["at"]), doc.get("status"), doc.get("ref"), rest)


def content_fact(
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
