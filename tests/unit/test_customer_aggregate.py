"""SourceCustomer: diffed snapshots, newest source time wins, old (v1) events still replay."""

from __future__ import annotations

from datetime import UTC, datetime

from eventsourcing.application import Application

from aggregates import SourceCustomer

PROVENANCE = {
    "system": "shop",
    "message_id": "m",
    "received_at": "2026-01-01T00:00:00+00:00",
    "mapping": "x@1",
}


def test_an_older_snapshot_arriving_late_changes_nothing() -> None:
    customer = SourceCustomer.register(
        system="shop",
        customer_ref="7",
        fields={"email": "new@x"},
        provenance=PROVENANCE,
        as_of=datetime(2026, 3, 1, tzinfo=UTC),
    )
    customer.update(fields={"email": "old@x"}, provenance=PROVENANCE, as_of=datetime(2026, 2, 1, tzinfo=UTC))
    assert customer.fields == {"email": "new@x"} and len(customer.collect_events()) == 1
    customer.update(
        fields={"email": "newer@x"}, provenance=PROVENANCE, as_of=datetime(2026, 4, 1, tzinfo=UTC)
    )
    assert customer.fields == {"email": "newer@x"}
    assert customer.as_of == "2026-04-01T00:00:00.000000+00:00"


def test_events_stored_by_version_1_replay_with_the_current_class() -> None:
    app = Application[object](env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    customer = SourceCustomer.register(
        system="shop", customer_ref="9", fields={"a": 1}, provenance=PROVENANCE
    )
    customer.update(fields={"a": 2}, provenance=PROVENANCE)
    stored = [app.mapper.to_stored_event(e) for e in customer.collect_events()]
    # Rewrite the stored states as version 1 wrote them: no class_version, no as_of.
    import json

    old = []
    for record in stored:
        state = json.loads(record.state)
        state.pop("as_of")
        state.pop("class_version", None)
        old.append(
            type(record)(
                record.originator_id, record.originator_version, record.topic, json.dumps(state).encode()
            )
        )
    replayed = None
    for record in old:
        replayed = app.mapper.to_domain_event(record).mutate(replayed)
    assert replayed is not None and replayed.fields == {"a": 2} and replayed.as_of is None
