"""Stock of one item at one location, as the warehouse reports it.

A warehouse sends two kinds of fact: counts (a snapshot: on hand and allocated at a time) and
goods receipts (a quantity that arrived). The position is the latest count plus the receipts
after it; an older count arriving late changes nothing, and a receipt already counted (before
the count's time) is not added twice.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from eventsourcing.domain import Aggregate

from aggregates.identity import stock_id
from aggregates.provenance import Provenance

__all__ = ["StockPosition"]


class StockPosition(Aggregate):
    class Opened(Aggregate.Created):
        class_version = 1
        sku: str
        location: str

    class Counted(Aggregate.Event):
        class_version = 1
        on_hand: Decimal
        allocated: Decimal
        as_of: datetime
        provenance: Provenance

        def apply(self, stock: StockPosition) -> None:
            stock.counted, stock.allocated, stock.counted_at = self.on_hand, self.allocated, self.as_of
            stock.receipts = {k: v for k, v in stock.receipts.items() if v[1] > self.as_of}

    class Received(Aggregate.Event):
        class_version = 1
        receipt_id: str
        quantity: Decimal
        received_at: datetime
        provenance: Provenance

        def apply(self, stock: StockPosition) -> None:
            stock.receipts[self.receipt_id] = (self.quantity, self.received_at)

    def __init__(self, sku: str, location: str) -> None:
        self.sku, self.location = sku, location
        self.counted = Decimal(0)
        self.allocated = Decimal(0)
        self.counted_at: datetime | None = None
        self.receipts: dict[str, tuple[Decimal, datetime]] = {}

    @classmethod
    def open(cls, sku: str, location: str) -> StockPosition:
        return cls._create(cls.Opened, id=stock_id(sku, location), sku=sku, location=location)

    @property
    def on_hand(self) -> Decimal:
        return self.counted + sum((q for q, _ in self.receipts.values()), Decimal(0))

    def count(self, *, on_hand: Decimal, allocated: Decimal, as_of: datetime, provenance: Provenance) -> None:
        if self.counted_at is not None and as_of <= self.counted_at:
            return  # a late or repeated snapshot: the newer count stands
        self.trigger_event(
            self.Counted, on_hand=on_hand, allocated=allocated, as_of=as_of, provenance=provenance
        )

    def receive(
        self, *, receipt_id: str, quantity: Decimal, received_at: datetime, provenance: Provenance
    ) -> None:
        if receipt_id in self.receipts or (self.counted_at is not None and received_at <= self.counted_at):
            return  # recorded already, or already in the count
        self.trigger_event(
            self.Received,
            receipt_id=receipt_id,
            quantity=quantity,
            received_at=received_at,
            provenance=provenance,
        )
