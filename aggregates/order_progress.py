"""How far an order has come: its facts, and the state they fold to in time order.

The ``Order`` aggregate and the order-tracking projection both hold an ``OrderProgress`` and feed
it the same facts, so the stage a user sees is computed by exactly the rules the domain uses.

Facts arrive late and out of order (a nightly export of deliveries before the one of
hand-overs), so the state is never advanced in arrival order: every fact keeps the time it
happened at its source, and the state is the fold of all facts sorted by that time (see
``order_facts``). Any permutation of the same facts gives the same state. A fact the order holds
already (the same payment status, the same shipment step, the same content) counts from its
first occurrence: repeating it later changes nothing. The fold is worked out when the state is
first read, and kept up to date while facts arrive in time order, so recording is cheap.
"""

from __future__ import annotations

from typing import Any

from aggregates.money import PaymentTolerance
from aggregates.order_facts import Fact
from aggregates.order_fold import COUNTED_PAYMENT, SHIPPED_STATUSES, STAGES, OrderFold

__all__ = ["COUNTED_PAYMENT", "SHIPPED_STATUSES", "STAGES", "Fact", "OrderProgress"]


class OrderProgress:
    """An order's facts in time order; every other attribute is read from their fold
    (``OrderFold``: ``stage``, ``paid_at``, ``payments``, ``ordered``, ...)."""

    def __init__(self, tolerance: PaymentTolerance | None = None) -> None:
        self.tolerance = tolerance or PaymentTolerance()
        self.facts: list[Fact] = []  # in time order (Fact.precedes)
        self._fold: OrderFold | None = None

    def __eq__(self, other: object) -> bool:
        """The same facts (and tolerance) are the same progress, whatever order they came in."""
        if not isinstance(other, OrderProgress):
            return NotImplemented
        return self.facts == other.facts and self.tolerance == other.tolerance

    __hash__ = None  # type: ignore[assignment]

    def knows(self, fact: Fact) -> bool:
        """Whether recording ``fact`` would change nothing: the order holds it from earlier on."""
        return any(fact.same(known) and known.precedes(fact) for known in self.facts)

    def record(self, fact: Fact) -> None:
        """Place a fact where it belongs in time; a late one makes the fold start over."""
        facts = self.facts
        if not facts or facts[-1].precedes(fact):
            facts.append(fact)
            if self._fold is not None:
                self._fold.apply(fact)
            return
        place = len(facts) - 1
        while place > 0 and not facts[place - 1].precedes(fact):
            place -= 1
        facts.insert(place, fact)
        self._fold = None

    @property
    def state(self) -> OrderFold:
        if self._fold is None:
            self._fold = OrderFold.of(self.facts, self.tolerance)
        return self._fold

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("tolerance", "facts", "_fold"):
            raise AttributeError(name)
        return getattr(self.state, name)

    # -- persistence for read models -----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"facts": [fact.to_dict() for fact in self.facts]}

    @classmethod
    def from_dict(cls, data: dict[str, Any], tolerance: PaymentTolerance | None = None) -> OrderProgress:
        if "facts" not in data:
            raise ValueError(
                "this order document was written by an older hub; a hub rebuilds such views when "
                "it starts (Projector.upgrade)"
            )
        progress = cls(tolerance)
        progress.facts = [Fact.from_dict(doc) for doc in data["facts"]]
        return progress
