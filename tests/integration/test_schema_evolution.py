"""Events written by an older shape of a class (SourceCustomer v1: no class_version, no as_of)
are read, replayed and extended by today's code, and the hash chain over them still verifies."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from eventsourcing.persistence import StoredEvent

from aggregates import SourceCustomer, customer_id
from hub.audit.verify import verify
from hub.bootstrap import Hub
from tests.shop_messages import order

PROVENANCE = {
    "system": "shopify",
    "message_id": "legacy-1",
    "received_at": "2025-01-01T00:00:00+00:00",
    "mapping": "shopify.orders_create@1",
}


def _v1(topic: type, originator: object, version: int, state: dict) -> StoredEvent:
    """Bytes as version 1 of the hub stored them (eventsourcing's JSON, no class_version)."""
    encoded = {**state, "timestamp": {"_type_": "datetime_iso", "_data_": "2025-01-01T00:00:00+00:00"}}
    return StoredEvent(
        originator,
        version,
        f"aggregates.customer:SourceCustomer.{topic.__name__}",
        json.dumps(encoded).encode(),
    )


def test_old_events_replay_extend_and_verify(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub()
    key = customer_id("shopify", "207119551")
    old_fields = {
        "kind": "person",
        "given_name": "Bobby",
        "family_name": "Norman",
        "emails": ["bob@example.com"],
    }
    with hub.store.transaction() as cursor:
        hub.store.append_stored(
            cursor,
            [
                _v1(
                    SourceCustomer.Registered,
                    key,
                    1,
                    {
                        "originator_topic": "aggregates.customer:SourceCustomer",
                        "system": "shopify",
                        "customer_ref": "207119551",
                        "fields": old_fields,
                        "provenance": PROVENANCE,
                    },
                ),
                _v1(
                    SourceCustomer.Changed,
                    key,
                    2,
                    {"changes": {"given_name": "Bob"}, "provenance": PROVENANCE},
                ),
            ],
        )
    legacy = hub.history.as_of(key, datetime.now(UTC))
    assert (
        legacy["fields"]["given_name"] == "Bob" and legacy["source_updated_at"] is None
    )  # upcast: as_of None
    # Today's code appends to the old stream: the fixture's order carries the same customer.
    hub.receive("shopify", [order(1001)])
    hub.process()
    events = hub.store.events_of([key])[key]
    assert [e.originator_version for e in events] == [1, 2, 3]
    assert isinstance(events[2], SourceCustomer.Changed) and events[2].as_of is not None
    assert verify(hub.store).ok  # the chain covers the stored v1 bytes, not the upcast events
