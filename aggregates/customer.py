"""A customer as one source system knows it, updated by diff (state-transfer sources).

A master-data export re-sends every record on every run; only fields that actually changed
become an event, so an unchanged record appends nothing.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate

from aggregates.identity import customer_id
from aggregates.provenance import Provenance

__all__ = ["SourceCustomer"]


class SourceCustomer(Aggregate):
    class Registered(Aggregate.Created):
        class_version = 1
        system: str
        customer_ref: str
        fields: dict[str, Any]
        provenance: Provenance

    class Changed(Aggregate.Event):
        class_version = 1
        changes: dict[str, Any]
        provenance: Provenance

        def apply(self, customer: SourceCustomer) -> None:
            customer.fields.update(self.changes)

    def __init__(
        self, system: str, customer_ref: str, fields: dict[str, Any], provenance: Provenance
    ) -> None:
        self.system = system
        self.customer_ref = customer_ref
        self.fields = dict(fields)

    @classmethod
    def register(
        cls, *, system: str, customer_ref: str, fields: dict[str, Any], provenance: Provenance
    ) -> SourceCustomer:
        return cls._create(
            cls.Registered,
            id=customer_id(system, customer_ref),
            system=system,
            customer_ref=customer_ref,
            fields=fields,
            provenance=provenance,
        )

    def update(self, *, fields: dict[str, Any], provenance: Provenance) -> None:
        changes = {k: v for k, v in fields.items() if self.fields.get(k) != v}
        if changes:
            self.trigger_event(self.Changed, changes=changes, provenance=provenance)
