"""Another system's number for an order, kept where an order with that number would be.

Its id is ``order_id(system, ref)``: a payment that quotes only the ERP's number looks up that
id like any order, finds the alias and follows it to the order the web shop placed. Nothing in
the message has to say which order it really is. A parcel's tracking number is such a number
too (system ``tracking``), and names the shipment it belongs to as well.
"""

from __future__ import annotations

from eventsourcing.domain import Aggregate

from aggregates.identity import order_id
from aggregates.provenance import Provenance

__all__ = ["OrderAlias"]


class OrderAlias(Aggregate):
    class Created(Aggregate.Created):
        class_version = 1
        system: str
        ref: str
        order_key: str  # the id of the order this number stands for
        shipment_id: str | None  # the shipment, for a tracking number
        provenance: Provenance

    def __init__(
        self, system: str, ref: str, order_key: str, shipment_id: str | None, provenance: Provenance
    ) -> None:
        self.system, self.ref, self.order_key, self.shipment_id = system, ref, order_key, shipment_id

    @classmethod
    def create(
        cls, *, system: str, ref: str, order_key: str, provenance: Provenance, shipment_id: str | None = None
    ) -> OrderAlias:
        return cls._create(
            cls.Created,
            id=order_id(system, ref),
            system=system,
            ref=ref,
            order_key=order_key,
            shipment_id=shipment_id,
            provenance=provenance,
        )
