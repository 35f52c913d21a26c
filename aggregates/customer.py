"""A customer as one source system knows it, updated by diff (state-transfer sources).

A master-data export re-sends every record on every run; only fields that actually changed
become an event, so an unchanged record appends nothing. Snapshots carry the source's own
update time where it has one, and a snapshot older than the one applied last changes nothing:
the same customer embedded in orders that travel in different partitions (and so may be
processed in either order) ends in the same state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from aggregates.identity import customer_id
from aggregates.provenance import Provenance
from aggregates.stamps import utc_stamp

__all__ = ["PERSONAL_FIELDS", "SourceCustomer"]

# What identifies a person, and what agents wrote about them (the free text of interactions and
# service cases: "Mrs Meyer called about her husband's order"): encrypted at rest with a key per
# data subject, and unreadable once that key is destroyed (crypto-shredding). Events name the
# attribute that holds them.
PERSONAL_FIELDS = frozenset(
    {
        "given_name",
        "family_name",
        "middle_names",
        "full_name",
        "gender",
        "attributes",
        "organisation_name",
        "emails",
        "phones",
        "addresses",
        "birth_date",
        "tax_id",
        "subject",
        "outcome",
    }
)


class SourceCustomer(Aggregate):
    class Registered(Aggregate.Created):
        class_version = 2
        personal = "fields"
        system: str
        customer_ref: str
        fields: dict[str, Any]
        provenance: Provenance
        as_of: str | None  # the source's update time of the snapshot (ISO 8601, UTC), if known

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["as_of"] = None

    class Changed(Aggregate.Event):
        class_version = 2
        personal = "changes"
        changes: dict[str, Any]
        provenance: Provenance
        as_of: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["as_of"] = None

        def apply(self, customer: SourceCustomer) -> None:
            customer.fields.update(self.changes)
            customer.as_of = self.as_of or customer.as_of

    def __init__(
        self,
        system: str,
        customer_ref: str,
        fields: dict[str, Any],
        provenance: Provenance,
        as_of: str | None,
    ) -> None:
        self.system = system
        self.customer_ref = customer_ref
        self.fields = dict(fields)
        self.as_of = as_of

    @classmethod
    def register(
        cls,
        *,
        system: str,
        customer_ref: str,
        fields: dict[str, Any],
        provenance: Provenance,
        as_of: datetime | None = None,
    ) -> SourceCustomer:
        return cls._create(
            cls.Registered,
            id=customer_id(system, customer_ref),
            system=system,
            customer_ref=customer_ref,
            fields=fields,
            provenance=provenance,
            as_of=utc_stamp(as_of),
        )

    def update(
        self, *, fields: dict[str, Any], provenance: Provenance, as_of: datetime | None = None
    ) -> None:
        stamp = utc_stamp(as_of)
        if stamp is not None and self.as_of is not None and stamp < self.as_of:
            return  # an older snapshot than the one applied: it says nothing new
        changes = {k: v for k, v in fields.items() if self.fields.get(k) != v}
        if changes:
            self.trigger_event(self.Changed, changes=changes, provenance=provenance, as_of=stamp)
