"""What happens between the company and a customer outside orders: interactions (calls, e-mails,
visits) and service cases, as the CRM or the call centre reports them.

Both are state transfer: a source re-sends its whole record and only what changed becomes an
event. An interaction is a fact that is at most corrected later. A case moves through a life —
the transition a snapshot makes decides which event records its changes (escalated, resolved,
reopened, or simply updated), so a case's history reads the way an agent tells it. A snapshot
older than the last one applied changes nothing, whatever order the sources deliver in.

What agents write (the subject, the outcome) is about a person and often names them: every event
names the customer record it is about (``customer``, "system:ref"), and its text is sealed with
that person's key (``personal_subject``), so erasing the person makes it unreadable too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate

from aggregates.identity import activity_id
from aggregates.provenance import Provenance
from aggregates.stamps import utc_stamp

__all__ = ["CLOSED_STATUSES", "CustomerCase", "CustomerInteraction"]

CLOSED_STATUSES = frozenset({"resolved", "closed"})


class _Snapshots(Aggregate):
    """What both kinds share: ``customer`` (the customer's source record, "system:ref"), ``fields``
    (the latest snapshot) and ``as_of`` (the source's update time of it). No class annotations:
    eventsourcing would turn them into a generated ``__init__`` of the subclasses."""

    def __init__(
        self,
        system: str,
        ref: str,
        customer: str,
        fields: dict[str, Any],
        provenance: Provenance,
        as_of: str | None,
    ) -> None:
        self.system, self.ref, self.customer = system, ref, customer
        self.fields, self.as_of = dict(fields), as_of

    @classmethod
    def _first(
        cls,
        created: type[Any],
        kind: str,
        system: str,
        ref: str,
        customer: str,
        fields: dict[str, Any],
        provenance: Provenance,
        as_of: datetime | None,
    ) -> Any:
        return cls._create(
            created,
            id=activity_id(kind, system, ref),
            system=system,
            ref=ref,
            customer=customer,
            fields=fields,
            provenance=provenance,
            as_of=utc_stamp(as_of),
        )

    def _diff(
        self, customer: str, fields: dict[str, Any], as_of: datetime | None
    ) -> tuple[dict[str, Any], str | None]:
        """What a snapshot changes; nothing when it is older than the one applied."""
        stamp = utc_stamp(as_of)
        if stamp is not None and self.as_of is not None and stamp < self.as_of:
            return {}, stamp
        changes = {k: v for k, v in fields.items() if self.fields.get(k) != v}
        if customer != self.customer:
            changes["customer"] = customer
        return changes, stamp

    def _apply(self, changes: dict[str, Any], as_of: str | None) -> None:
        self.customer = str(changes.get("customer", self.customer))
        self.fields.update({k: v for k, v in changes.items() if k != "customer"})
        self.as_of = as_of or self.as_of


class _Changes:
    """What an interaction's correction and a case's change share: the snapshot's differences
    (``changes``), sealed with the key of the record they are about (``customer``; version 1
    named it only inside the changes, when it moved). The fields are declared on each event:
    eventsourcing makes dataclasses of the event classes themselves."""

    class_version = 2
    personal = "changes"
    personal_subject = "customer"
    changes: dict[str, Any]
    as_of: str | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["customer"] = state["changes"].get("customer")

    def apply(self, activity: _Snapshots) -> None:
        activity._apply(self.changes, self.as_of)


class CustomerInteraction(_Snapshots):
    class Recorded(Aggregate.Created):
        class_version = 1
        personal = "fields"
        personal_subject = "customer"
        system: str
        ref: str
        customer: str
        fields: dict[str, Any]
        provenance: Provenance
        as_of: str | None

    class Corrected(_Changes, Aggregate.Event):
        customer: str | None  # the record it is about after the correction
        changes: dict[str, Any]
        provenance: Provenance
        as_of: str | None

    @classmethod
    def record(
        cls,
        *,
        system: str,
        ref: str,
        customer: str,
        fields: dict[str, Any],
        provenance: Provenance,
        as_of: datetime | None,
    ) -> CustomerInteraction:
        return cls._first(cls.Recorded, "interaction", system, ref, customer, fields, provenance, as_of)

    def correct(
        self, *, customer: str, fields: dict[str, Any], provenance: Provenance, as_of: datetime | None
    ) -> None:
        changes, stamp = self._diff(customer, fields, as_of)
        if changes:
            self.trigger_event(
                self.Corrected, customer=customer, changes=changes, provenance=provenance, as_of=stamp
            )


class CustomerCase(_Snapshots):
    class Opened(Aggregate.Created):
        class_version = 1
        personal = "fields"
        personal_subject = "customer"
        system: str
        ref: str
        customer: str
        fields: dict[str, Any]
        provenance: Provenance
        as_of: str | None

    class Changed(_Changes, Aggregate.Event):
        """A snapshot's differences; the subclass names the transition it made."""

        customer: str | None  # the record it is about after the change
        changes: dict[str, Any]
        provenance: Provenance
        as_of: str | None

    class Updated(Changed):
        pass

    class Escalated(Changed):
        pass

    class Resolved(Changed):
        pass

    class Reopened(Changed):
        pass

    @classmethod
    def open(
        cls,
        *,
        system: str,
        ref: str,
        customer: str,
        fields: dict[str, Any],
        provenance: Provenance,
        as_of: datetime | None,
    ) -> CustomerCase:
        return cls._first(cls.Opened, "case", system, ref, customer, fields, provenance, as_of)

    @property
    def closed(self) -> bool:
        return _closed(self.fields)

    @property
    def escalated(self) -> bool:
        return _escalated(self.fields)

    def update(
        self, *, customer: str, fields: dict[str, Any], provenance: Provenance, as_of: datetime | None
    ) -> None:
        changes, stamp = self._diff(customer, fields, as_of)
        if not changes:
            return
        after = {**self.fields, **changes}
        if _closed(after) and not self.closed:
            kind: type[CustomerCase.Changed] = self.Resolved
        elif self.closed and not _closed(after):
            kind = self.Reopened
        elif _escalated(after) and not self.escalated:
            kind = self.Escalated
        else:
            kind = self.Updated
        self.trigger_event(kind, customer=customer, changes=changes, provenance=provenance, as_of=stamp)


def _closed(fields: dict[str, Any]) -> bool:
    return fields.get("status") in CLOSED_STATUSES


def _escalated(fields: dict[str, Any]) -> bool:
    return bool(fields.get("escalated")) or fields.get("status") == "escalated"
