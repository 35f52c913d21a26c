"""``hub privacy erase``: forget a person everywhere while the event log stays intact.

Events are crypto-shredded: the subject's keys are destroyed, so their sealed personal fields can
never be read again (the log, its hash chain and every replay stay valid). Raw copies are not
part of the chained log and are erased outright: the inbox messages and dead letters that carried
the person — those behind the subject's events and its orders' events, and any other that contains
one of its e-mail addresses, phone numbers or tax id. The identity resolver's copy of the person
(the normalised names, e-mails, phones, address it matches on) is blanked; the record stays with
its customer. What agents wrote about the person (the subject and outcome of their interactions
and service cases) is sealed with the person's key, so it is unreadable too; the CRM and
call-centre messages behind it, found through the customer view's activity table, are erased.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aggregates import ErasureRequest, Order, SourceCustomer, customer_id
from hub.dead_letters import DeadLetters
from hub.identity.tables import IdentityTables
from hub.inbox import Inbox
from hub.store import Store

__all__ = ["ErasureReport", "erase_request", "erase_subject", "record_of"]


@dataclass(frozen=True)
class ErasureReport:
    subject: UUID
    keys_destroyed: int
    raw_messages_erased: int
    dead_letters_erased: int
    identity_profiles_erased: int = 0  # the matcher's copy of the person (names, e-mails, …)
    activities_erased: int = 0  # interactions and cases about the person whose messages were erased

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": str(self.subject),
            "keys_destroyed": self.keys_destroyed,
            "raw_messages_erased": self.raw_messages_erased,
            "dead_letters_erased": self.dead_letters_erased,
            "identity_profiles_erased": self.identity_profiles_erased,
            "activities_erased": self.activities_erased,
        }


def erase_subject(store: Store, subject: UUID) -> ErasureReport:
    if store.keys is None:
        raise RuntimeError("this hub has no subject-key store")
    events = store.events_of([subject]).get(subject, [])
    first = _registration(subject, events)
    identifiers: set[str] = set()
    messages: set[tuple[str, str]] = set()
    for event in events:
        values = getattr(event, event.personal)
        for name in ("emails", "phones"):
            identifiers.update(str(v) for v in values.get(name) or [] if v and v != "[erased]")
        if values.get("tax_id") and values["tax_id"] != "[erased]":
            identifiers.add(str(values["tax_id"]))
        messages.add((event.provenance["system"], event.provenance["message_id"]))
    for order_events in _orders_of(store, first.system, first.customer_ref).values():
        messages.update((e.provenance["system"], e.provenance["message_id"]) for e in order_events)
    record = f"{first.system}:{first.customer_ref}"
    activities = _activities_of(store, record)
    for activity_events in activities.values():
        messages.update((e.provenance["system"], e.provenance["message_id"]) for e in activity_events)
    destroyed = store.keys.erase(subject)
    marker = json.dumps({"erased": True, "subject": str(subject), "erased_at": datetime.now(UTC).isoformat()})
    with store.transaction() as cursor:
        raw = Inbox(store).redact(cursor, messages, identifiers, marker)
        letters = DeadLetters(store).redact(cursor, messages, identifiers, marker)
        profiles = IdentityTables(store).forget(cursor, record)
    return ErasureReport(subject, destroyed, raw, letters, profiles, len(activities))


def record_of(store: Store, subject: UUID) -> str:
    """SYSTEM:REF of a source customer record, by its subject id."""
    first = _registration(subject, store.events_of([subject]).get(subject, []))
    return f"{first.system}:{first.customer_ref}"


def _registration(subject: UUID, events: list[Any]) -> Any:
    """The event that registered the source customer record ``subject``; LookupError if none."""
    if not events or not isinstance(events[0], SourceCustomer.Registered):
        raise LookupError(f"{subject} is not a data subject the hub knows (no customer record)")
    return events[0]


def erase_request(
    store: Store, records: list[str], *, customer: str | None, requested_by: str, reason: str
) -> tuple[UUID, dict[str, ErasureReport]]:
    """Erase every record of one person's request, and record the request in the log: first who
    asked, why and for which records, then what was erased. A data subject asks once, whatever
    the number of systems that know them; the record of it holds references, not their data,
    so it stays readable after the erasure it records. Nothing is erased or recorded when one
    of the records is unknown."""
    subjects = {record: customer_id(*record.split(":", 1)) for record in records}
    known = store.events_of(subjects.values())
    for record, subject in subjects.items():
        try:
            _registration(subject, known.get(subject) or [])
        except LookupError:
            raise LookupError(f"{record} is not a source record the hub knows") from None
    request = ErasureRequest.request(
        customer=customer, records=list(subjects), requested_by=requested_by, reason=reason
    )
    with store.transaction() as cursor:
        store.append(cursor, request.collect_events())
    reports = {record: erase_subject(store, subject) for record, subject in sorted(subjects.items())}
    request.complete({record: report.to_json() for record, report in reports.items()})
    with store.transaction() as cursor:
        store.append(cursor, request.collect_events())
    return request.id, reports


def _orders_of(store: Store, system: str, customer_ref: str) -> dict[UUID, list[Any]]:
    """The subject's orders, found through the order-tracking view (its documents name the
    customer) and read from the log."""
    needle = f'%"customer_ref":{json.dumps(customer_ref)}%'
    rows = store.query(
        "SELECT order_id FROM hub_order_tracking WHERE system = ? AND document LIKE ?", (system, needle)
    )
    found = store.events_of(UUID(row["order_id"]) for row in rows)
    return {k: v for k, v in found.items() if v and isinstance(v[0], Order.Placed)}


def _activities_of(store: Store, record: str) -> dict[UUID, list[Any]]:
    """The interactions and cases about the record, found through the customer view's activity
    table (which follows a case moved to another record) and read from the log."""
    rows = store.query("SELECT activity FROM hub_cust_activity WHERE record = ?", (record,))
    return {k: v for k, v in store.events_of(UUID(row["activity"]) for row in rows).items() if v}
