"""Given messages in the inbox, when the hub processes them, then events, dead letters and parked
messages come out exactly once — on SQLite and on PostgreSQL."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.bootstrap import Hub
from tests.conftest import ROOT
from tests.shop_messages import envelope, fulfillment, order, paid


def events_in_log(hub: Hub) -> list:
    return [hub.store.decode(n) for n in hub.store.notifications(0, 100_000)]


def test_a_real_shopify_order_is_placed_paid_and_fulfilled(hub: Hub) -> None:
    hub.receive("shopify", [order(), paid(), fulfillment(status="success", shipment_status="delivered")])
    report = hub.process()
    assert (report.processed, report.dead_lettered, report.parked) == (3, 0, 0)
    tracked = hub.orders.show("#450789469")
    assert tracked is not None
    assert tracked["stage"] == "partially_shipped"  # the fixture fulfils one of three lines
    assert tracked["paid_amount"] == "409.94"
    assert tracked["shipments"][0]["tracking_number"] == "1Z2345"
    # The order placement also registered the Shopify customer as a source record, and the
    # parcel's tracking number became an alias (a carrier's events will name only that).
    kinds = [type(e).__qualname__ for e in events_in_log(hub)]
    assert kinds == [
        "SourceCustomer.Registered",
        "Order.Placed",
        "Order.PaymentRecorded",
        "Order.ShipmentRecorded",
        "OrderAlias.Created",
        # … and identity resolution placed the customer record (a new customer, with its evidence).
        "CustomerLink.Placed",
    ]


def test_the_same_message_twice_is_stored_and_processed_once(hub: Hub) -> None:
    first = hub.receive("shopify", [order(), order()])
    second = hub.receive("shopify", [order()])
    hub.process()
    assert (first.stored, first.duplicates, second.stored, second.duplicates) == (1, 1, 0, 1)
    assert hub.inbox.count_after(0) == 1
    assert len(events_in_log(hub)) == 3  # customer + order, and the customer's placement


def test_a_resent_unchanged_record_under_a_new_id_appends_nothing(hub: Hub) -> None:
    hub.receive("shopify", [order()])
    hub.process()
    before = hub.store.head()
    hub.receive("shopify", [{**order(), "message_id": "resent-by-backfill"}])
    report = hub.process()
    assert report.processed == 1
    assert hub.store.head() == before


def test_every_event_names_the_message_and_mapping_it_came_from(hub: Hub) -> None:
    hub.receive("shopify", [order(), paid()])
    hub.process()
    provenances = [e.provenance for e in events_in_log(hub)]
    assert {p["message_id"] for p in provenances} == {"orders/create:450789469", "orders/paid:450789469:paid"}
    assert {p["mapping"] for p in provenances} == {"shopify.orders_create@3", "shopify.orders_paid@2"}
    assert all(p["system"] == "shopify" and p["received_at"] for p in provenances)


def test_a_payment_before_its_order_waits_and_then_goes_through(hub: Hub) -> None:
    hub.receive("shopify", [paid(1)])
    first = hub.process()
    assert first.parked == 1
    assert hub.parked.listing()[0]["awaiting_ref"] == "1"
    assert hub.orders.show("1") is None
    hub.receive("shopify", [order(1)])
    second = hub.process()
    assert second.unparked == 1
    assert hub.parked.listing() == []
    assert hub.orders.show("1")["stage"] == "paid"


def test_payment_and_order_in_one_batch_in_the_wrong_order(hub: Hub) -> None:
    hub.receive("shopify", [paid(2), fulfillment(2, status="success"), order(2)])
    report = hub.process()
    assert (report.processed, report.parked, report.unparked) == (3, 0, 0)
    assert hub.orders.show("2")["stage"] == "partially_shipped"


def test_a_message_whose_order_never_arrives_becomes_a_dead_letter(hub: Hub) -> None:
    hub.receive("shopify", [paid(3)])
    hub.process()
    expired = hub.parked.expire(timedelta(hours=24), now=datetime.now(UTC) + timedelta(hours=25))
    assert expired == 1
    (letter,) = hub.dead_letters.list()
    assert letter.stage == "parking"
    assert "order '3' never arrived" in letter.reason


def test_unreadable_messages_become_dead_letters_and_good_ones_flow_on(hub: Hub) -> None:
    bad_amount = order(10, total_price="12,50,00")
    unknown = envelope("products/update", {"id": 5})
    wrong_currency = envelope(
        "order_transactions/create",
        {
            "id": 9,
            "order_id": 11,
            "kind": "capture",
            "status": "success",
            "amount": "1.00",
            "currency": "EUR",
            "created_at": "2026-01-01T00:00:00Z",
        },
    )
    hub.receive("shopify", [bad_amount, unknown, order(11), wrong_currency, order(12)])
    report = hub.process()
    assert (report.processed, report.dead_lettered) == (3, 2)
    assert sorted(letter.stage for letter in hub.dead_letters.list()) == ["mapping", "mapping"]
    reasons = " | ".join(letter.reason for letter in hub.dead_letters.list())
    assert "field 'total_amount', path 'total_price', value \"12,50,00\"" in reasons
    assert "topic 'products/update'" in reasons
    mapping_letter = next(x for x in hub.dead_letters.list() if "total_amount" in x.reason)
    assert mapping_letter.mapping == "shopify.orders_create@3"
    assert mapping_letter.envelope["body"]["total_price"] == "12,50,00"
    assert {o["order_ref"] for o in hub.orders.list()} == {"11", "12"}
    # A payment in another currency is a fact all the same: recorded, flagged, not counted.
    shown = hub.orders.show("11")
    assert shown is not None and shown["paid_amount"] == "0"
    assert [a["message"] for a in shown["anomalies"]] == [
        "payment 9 is in EUR, the order in USD (not counted as paid)"
    ]


def test_replay_after_a_mapping_fix_resolves_the_dead_letter(make_hub, tmp_path: Path) -> None:
    folder = tmp_path / "shopify"
    shutil.copytree(ROOT / "mappings" / "shopify", folder)
    hub = make_hub(mapping_folders={"shopify": folder})
    hub.receive("shopify", [order(20, total_price="409,94")])
    hub.process()
    (letter,) = hub.dead_letters.list()
    failed = hub.replayer.replay([letter])
    assert not failed[0].resolved and "failed again" in failed[0].outcome
    mapping = folder / "orders_create.yaml"
    mapping.write_text(
        mapping.read_text().replace(
            "total_amount: {path: total_price, transforms: [decimal]}",
            'total_amount: {path: total_price, transforms: ["decimal:comma"]}',
        )
    )
    (outcome,) = hub.replayer.replay([hub.dead_letters.get(letter.id)])
    hub.projector.catch_up()
    assert outcome.resolved and outcome.outcome == "processed"
    replayed = hub.dead_letters.get(letter.id)
    assert (replayed.status, replayed.replays) == ("resolved", 2)
    assert hub.orders.show("20")["total_amount"] == "409.94"
    assert hub.dead_letters.list() == []


def test_customer_master_data_is_diffed(hub: Hub) -> None:
    hub.receive("shopify", [order(30)])
    hub.process()
    again = order(31)
    hub.receive("shopify", [again])  # same customer, unchanged: no customer event
    hub.process()
    moved = order(32)
    moved["body"]["customer"]["default_address"]["city"] = "Lexington"
    hub.receive("shopify", [moved])
    hub.process()
    kinds = [type(e).__qualname__ for e in events_in_log(hub)]
    assert kinds.count("SourceCustomer.Registered") == 1
    (changed,) = [e for e in events_in_log(hub) if type(e).__qualname__ == "SourceCustomer.Changed"]
    assert changed.changes["addresses"][0]["city"] == "Lexington"
    assert set(changed.changes) == {"addresses"}


def test_processing_resumes_from_its_committed_position(make_hub) -> None:
    first = make_hub(batch_size=2)
    first.receive("shopify", [order(i) for i in range(40, 45)])
    assert first.processor.process_batch().position == 2
    second = make_hub()  # a new process: no cache, only what was committed
    report = second.process()
    assert report.messages == 3
    assert len(second.orders.list()) == 5


def test_a_captured_envelope_keeps_its_id_and_receipt_time(hub: Hub) -> None:
    captured = {**order(50), "message_id": "capture-7", "received_at": "2026-02-01T09:30:00+01:00"}
    hub.receive("shopify", [captured])
    (message,) = hub.inbox.after(0, 10)
    assert message.message_id == "capture-7"
    assert message.received_at == datetime(2026, 2, 1, 8, 30, tzinfo=UTC)


def test_an_order_placed_by_a_replay_releases_its_waiting_payment(make_hub, tmp_path: Path) -> None:
    folder = tmp_path / "shopify"
    shutil.copytree(ROOT / "mappings" / "shopify", folder)
    hub = make_hub(mapping_folders={"shopify": folder})
    hub.receive("shopify", [order(60, total_price="409,94"), paid(60)])
    hub.process()
    assert len(hub.parked.listing()) == 1  # the payment waits for the order that failed to map
    mapping = folder / "orders_create.yaml"
    mapping.write_text(mapping.read_text().replace("[decimal]}", '["decimal:comma"]}', 1))
    (outcome,) = hub.replayer.replay(hub.dead_letters.list())
    hub.projector.catch_up()
    assert outcome.resolved
    assert hub.parked.listing() == []
    assert hub.orders.show("60")["stage"] == "paid"


def test_a_message_that_trips_a_bug_is_dead_lettered_and_the_rest_flows(hub: Hub, monkeypatch) -> None:
    from hub import handlers
    from hub.contracts import OrderPlaced

    route = handlers._ROUTES[OrderPlaced]
    place = route.handler

    def buggy(record, system, provenance, workspace):
        if record.order_ref == "71":
            raise KeyError("sku")
        return place(record, system, provenance, workspace)

    monkeypatch.setitem(handlers._ROUTES, OrderPlaced, replace(route, handler=buggy))
    hub.receive("shopify", [order(70), order(71), paid(70), order(72)])
    report = hub.process()
    assert (report.processed, report.dead_lettered) == (3, 1)
    (letter,) = hub.dead_letters.list()
    assert (letter.stage, letter.message_id, letter.reason) == (
        "error",
        "orders/create:71",
        "KeyError: 'sku'",
    )
    assert {o["order_ref"]: o["stage"] for o in hub.orders.list()} == {"70": "paid", "72": "placed"}


def test_each_stage_of_the_pipeline_counts_its_time_and_what_it_took_in(hub: Hub) -> None:
    """What ``bench/ingest.py`` reads to say which stage grew: every message passes receive,
    map, handle and write once; the projections count the events they applied; identity the
    customer records it resolved."""
    hub.receive("shopify", [order(), paid(), fulfillment(status="success", shipment_status="delivered")])
    hub.process()
    stages = hub.metrics.stages()
    for stage in ("receive", "map", "handle", "write"):
        seconds, cpu, items = stages[stage]
        assert items == 3 and seconds > 0 and cpu > 0, stage
    events = len(events_in_log(hub))
    # each event once: inline with the message's events, the CustomerLink when catching up
    assert stages["project:order_tracking"][2] == events
    assert stages["identity"][2] == 1  # one source customer record
    exposed = hub.metrics.render().decode()
    assert 'hub_stage_seconds_total{stage="map"}' in exposed
    assert 'hub_stage_cpu_seconds_total{stage="write"}' in exposed
    assert 'hub_stage_items_total{stage="identity"} 1.0' in exposed
