"""Interactions and service cases: diffed snapshots, named case transitions, late snapshots ignored."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from eventsourcing.application import Application

from aggregates import CustomerCase, CustomerInteraction

PROVENANCE = {
    "system": "crm",
    "message_id": "m",
    "received_at": "2026-01-01T00:00:00+00:00",
    "mapping": "crm.cases@1",
}


def day(n: int) -> datetime:
    return datetime(2026, 3, n, 9, 0, tzinfo=UTC)


def case_fields(status: str, **more: object) -> dict[str, object]:
    return {"status": status, "kind": "complaint", "subject": "Parcel arrived damaged", **more}


def opened(ref: str, status: str, as_of: datetime, customer: str = "crm:003A") -> CustomerCase:
    return CustomerCase.open(
        system="crm",
        ref=ref,
        customer=customer,
        fields=case_fields(status),
        provenance=PROVENANCE,
        as_of=as_of,
    )


def test_a_case_history_names_each_transition() -> None:
    case = opened("500A", "new", day(1))
    case.update(
        customer="crm:003A", fields=case_fields("new"), provenance=PROVENANCE, as_of=day(2)
    )  # unchanged
    case.update(
        customer="crm:003A", fields=case_fields("open", priority="high"), provenance=PROVENANCE, as_of=day(2)
    )
    case.update(
        customer="crm:003A",
        fields=case_fields("escalated", priority="high"),
        provenance=PROVENANCE,
        as_of=day(3),
    )
    case.update(
        customer="crm:003A",
        fields=case_fields("closed", priority="high"),
        provenance=PROVENANCE,
        as_of=day(5),
    )
    case.update(
        customer="crm:003A", fields=case_fields("open", priority="high"), provenance=PROVENANCE, as_of=day(6)
    )
    kinds = [type(e).__name__ for e in case.collect_events()]
    assert kinds == ["Opened", "Updated", "Escalated", "Resolved", "Reopened"]
    assert case.fields["status"] == "open" and not case.closed


def test_an_older_snapshot_of_a_case_changes_nothing() -> None:
    case = opened("500B", "closed", day(5))
    case.update(customer="crm:003B", fields=case_fields("open"), provenance=PROVENANCE, as_of=day(4))
    assert len(case.collect_events()) == 1 and case.closed and case.customer == "crm:003A"


def test_an_interaction_is_corrected_by_its_changes_only_and_replays() -> None:
    app = Application[object](env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    call = CustomerInteraction.record(
        system="callcentre",
        ref="CALL-1",
        customer="callcentre:+4930123456",
        fields={"kind": "call", "channel": "phone", "outcome": "callback", "agent": "mara"},
        provenance=PROVENANCE,
        as_of=None,
    )
    call.correct(
        customer="callcentre:+4930123456",
        fields={"kind": "call", "channel": "phone", "outcome": "order_taken", "agent": "mara"},
        provenance=PROVENANCE,
        as_of=None,
    )
    app.save(call)
    events = list(app.repository.event_store.get(call.id))
    assert events[-1].changes == {"outcome": "order_taken"}
    again = app.repository.get(call.id)
    assert again.fields["outcome"] == "order_taken" and again.customer == "callcentre:+4930123456"


def test_changes_stored_before_they_named_their_customer_replay_with_the_current_classes() -> None:
    """Version 1 of Corrected and of a case's changes had no ``customer``: it is upcast from the
    changes (where a move put it) or None."""
    app = Application[object](env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    case = opened("7", "new", day(1), customer="crm:A")
    case.update(customer="crm:A", fields=case_fields("open"), provenance=PROVENANCE, as_of=day(2))
    case.update(customer="crm:B", fields=case_fields("resolved"), provenance=PROVENANCE, as_of=day(3))
    stored = [app.mapper.to_stored_event(e) for e in case.collect_events()]
    old = []
    for record in stored[1:]:
        state = json.loads(record.state)
        assert state.pop("customer") in ("crm:A", "crm:B") and state.pop("class_version") == 2
        old.append(
            type(record)(
                record.originator_id, record.originator_version, record.topic, json.dumps(state).encode()
            )
        )
    replayed = app.mapper.to_domain_event(stored[0]).mutate(None)
    upcast = [app.mapper.to_domain_event(record) for record in old]
    for event in upcast:
        replayed = event.mutate(replayed)
    assert [e.customer for e in upcast] == [None, "crm:B"]
    assert replayed is not None and replayed.customer == "crm:B" and replayed.fields["status"] == "resolved"
