"""Events written by an older shape of a class (SourceCustomer v1: no class_version, no as_of)
are read, replayed and extended by today's code, and the hash chain over them still verifies."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from eventsourcing.persistence import StoredEvent

from aggregates import Order, SourceCustomer, customer_id, order_id
from hub.audit.verify import verify
from hub.bootstrap import Hub
from tests.shop_messages import order, paid

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
        f"{topic.__module__}:{topic.__qualname__}",
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


def test_orders_placed_before_requested_dates_existed_plan_on_the_day_they_were_placed(
    make_hub: Callable[..., Hub],
) -> None:
    """Order.Placed v1 had no requested_date: upcast to None, so its demand is due when placed."""
    hub = make_hub()
    key = order_id("edi", "PO-1")
    state = {
        "originator_topic": "aggregates.order:Order",
        "system": "edi",
        "order_ref": "PO-1",
        "channel": "edi",
        "customer_ref": None,
        "currency": "EUR",
        "total_amount": {"_type_": "decimal_str", "_data_": "95.00"},
        "lines": [{"sku": "HOOD", "description": "", "quantity": "10", "unit_price": "9.50"}],
        "placed_at": {"_type_": "datetime_iso", "_data_": "2025-01-01T09:00:00+00:00"},
        "aliases": [],
        "provenance": {**PROVENANCE, "system": "edi"},
    }
    with hub.store.transaction() as cursor:
        hub.store.append_stored(cursor, [_v1(Order.Placed, key, 1, state)])
    hub.projector.catch_up()
    assert hub.orders.show("PO-1", "edi")["requested_date"] is None
    [row] = hub.store.query("SELECT sku, due, quantity FROM hub_plan_demand")
    assert (row["sku"], row["due"], row["quantity"]) == ("HOOD", "2025-01-01", "10")
    for name in ("order_tracking", "planning"):
        assert hub.projector.rebuild(name, verify=True).verified


def test_views_an_older_hub_wrote_are_rebuilt_at_start(make_hub: Callable[..., Hub]) -> None:
    """Order documents from before event time (no facts) cannot be folded on: the next hub to
    start rebuilds the projections that hold them, and processing goes on."""
    hub = make_hub()
    hub.receive("shopify", [order(9101)])
    hub.process()
    old_progress = {"currency": "USD", "total_amount": "409.94", "ordered": {}, "payments": {}}
    with hub.store.transaction() as cursor:
        for table in ("hub_order_tracking", "hub_plan_orders"):
            cursor.execute(f"SELECT document FROM {table}")
            document = json.loads(cursor.fetchone()["document"])
            document["progress"] = old_progress
            cursor.execute(hub.store.sql(f"UPDATE {table} SET document = ?"), (json.dumps(document),))
    restarted = make_hub()
    shown = restarted.orders.show("9101", "shopify")
    assert shown is not None and shown["stage"] == "placed" and shown["total_amount"] == "409.94"
    restarted.receive("shopify", [paid(9101)])
    assert restarted.process().processed == 1
    assert restarted.orders.show("9101", "shopify")["stage"] == "paid"
