"""Planning master data as its system of record sends it: items (lead time, lot size, buffer
profile, work centre) and supply orders (production and purchase orders with their status).

Both are state transfer: a system re-sends its whole record, and only fields that changed become
an event. Several systems may feed one record, each with the fields it knows (the ERP: lead time
and lot size; the planner's file: buffer profile and work centre); a snapshot older than the
last one *from the same system* changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from aggregates.identity import master_id
from aggregates.provenance import Provenance
from aggregates.stamps import utc_stamp

__all__ = ["MasterRecord"]


class MasterRecord(Aggregate):
    class Registered(Aggregate.Created):
        class_version = 1
        kind: str  # item | supply_order
        ref: str
        fields: dict[str, Any]
        provenance: Provenance
        as_of: str | None

    class Changed(Aggregate.Event):
        class_version = 1
        changes: dict[str, Any]
        provenance: Provenance
        as_of: str | None

        def apply(self, record: MasterRecord) -> None:
            record.fields.update(self.changes)
            if self.as_of is not None:
                record.seen[self.provenance["system"]] = self.as_of

    def __init__(
        self, kind: str, ref: str, fields: dict[str, Any], provenance: Provenance, as_of: str | None
    ) -> None:
        self.kind, self.ref, self.fields = kind, ref, dict(fields)
        # Per system, the newest snapshot time applied (``as_of`` itself is the event's field).
        self.seen: dict[str, str] = {} if as_of is None else {provenance["system"]: as_of}

    @classmethod
    def register(
        cls, *, kind: str, ref: str, fields: dict[str, Any], provenance: Provenance, as_of: datetime | None
    ) -> MasterRecord:
        return cls._create(
            cls.Registered,
            id=master_id(kind, ref),
            kind=kind,
            ref=ref,
            fields=fields,
            provenance=provenance,
            as_of=utc_stamp(as_of),
        )

    def update(self, *, fields: dict[str, Any], provenance: Provenance, as_of: datetime | None) -> None:
        stamp = utc_stamp(as_of)
        known = self.seen.get(provenance["system"])
        if stamp is not None and known is not None and stamp < known:
            return  # older than what this system said last
        changes = {k: v for k, v in fields.items() if self.fields.get(k) != v}
        if changes:
            self.trigger_event(self.Changed, changes=changes, provenance=provenance, as_of=stamp)
