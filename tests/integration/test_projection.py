"""Order tracking is disposable: a rebuild from the log gives exactly the live rows."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest

from aggregates import order_id
from hub.bootstrap import Hub
from tests.shop_messages import envelope, fixture, fulfillment, order, paid


def feed(hub: Hub, orders: int = 30) -> None:
    messages = []
    for i in range(orders):
        messages.append(order(1000 + i))
        if i % 2 == 0:
            messages.append(paid(1000 + i))
        if i % 3 == 0:
            messages.append(fulfillment(1000 + i, 5000 + i, status="success", shipment_status="in_transit"))
    hub.receive("shopify", messages)
    hub.process()


def test_rebuild_with_verify_reproduces_the_live_rows(hub: Hub) -> None:
    feed(hub)
    before = hub.projector.projections["order_tracking"].rows()
    report = hub.projector.rebuild("order_tracking", verify=True)
    assert report.verified is True and report.differences == []
    assert report.rows == len(hub.orders.list()) and report.events == hub.store.head()
    assert hub.projector.projections["order_tracking"].rows() == before
    # The swapped-in tables keep working: new events land in them.
    hub.receive("shopify", [order(2000)])
    hub.process()
    assert hub.orders.show("2000")["stage"] == "placed"
    assert hub.projector.rebuild("order_tracking", verify=True).verified is True


def test_a_rebuild_decodes_only_the_events_of_the_aggregates_the_view_reads(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed(hub)  # the orders' customers, their links and the orders' events share the log
    decoded: list[str] = []
    decode = hub.store.decode
    monkeypatch.setattr(hub.store, "decode", lambda n: decoded.append(n.topic) or decode(n))
    assert hub.projector.rebuild("order_tracking", verify=True).verified is True
    topics = {n.topic for n in hub.store.notifications(0, 10_000)}
    assert any(":SourceCustomer." in t for t in topics) and any(":CustomerLink." in t for t in topics)
    order_topics = [t for t in topics if ":Order." in t]
    assert order_topics and {*decoded} == {*order_topics}


def test_verify_catches_a_live_row_that_differs_from_the_log(hub: Hub) -> None:
    feed(hub, 5)
    with hub.store.transaction() as cursor:
        hub.store.execute(
            cursor, "UPDATE hub_order_tracking SET stage = 'confirmed' WHERE order_ref = ?", ("1001",)
        )
    report = hub.projector.rebuild("order_tracking", verify=True)
    assert report.verified is False
    assert len(report.differences) == 1 and "confirmed" in report.differences[0]
    # The live tables are kept when verification fails.
    assert hub.orders.show("1001")["order_ref"] == "1001"


def test_status_reports_position_head_and_lag(hub: Hub) -> None:
    hub.receive("shopify", [order(1)])
    hub.processor.process_available()
    statuses = hub.projector.status()
    assert [s["name"] for s in statuses] == ["order_tracking", "planning", "customers"]
    # Processing updates the views in its own transaction while they are current.
    assert all(s["position"] == s["head"] == 2 and s["lag"] == 0 for s in statuses)
    hub.processor.follower = None  # as when a separate runner follows the log
    hub.receive("shopify", [order(2)])
    hub.processor.process_available()
    assert hub.projector.status()[0]["lag"] == 1
    assert hub.orders.show("2") is None
    hub.projector.catch_up()
    assert hub.projector.status()[0]["lag"] == 0
    assert hub.orders.show("2")["stage"] == "placed"


def test_a_view_a_little_behind_catches_up_inline_and_one_far_behind_is_left_to_catching_up(
    hub: Hub, monkeypatch
) -> None:
    """Another stage's events (identity's links) put a view behind the log between two batches:
    processing applies what it missed first, in its own transaction; a view further behind than
    INLINE_GAP (a new or rebuilt one) is left to the projection stage."""
    from hub import projecting

    follower, hub.processor.follower = hub.processor.follower, None
    hub.receive("shopify", [order(1)])
    hub.processor.process_available()
    hub.processor.follower = follower
    behind = hub.projector.status()[0]["lag"]
    assert behind > 1
    monkeypatch.setattr(projecting, "INLINE_GAP", behind - 1)
    hub.receive("shopify", [order(2)])
    hub.processor.process_available()
    assert hub.projector.status()[0]["lag"] > behind  # too far behind: left alone
    monkeypatch.setattr(projecting, "INLINE_GAP", 5000)
    hub.receive("shopify", [order(3)])
    hub.processor.process_available()
    assert hub.projector.status()[0]["lag"] == 0  # what it missed, then the batch, inline
    assert hub.orders.show("1") is not None and hub.orders.show("3") is not None
    assert hub.projector.rebuild("order_tracking", verify=True).verified is True


def test_processing_leaves_a_view_the_projection_stage_is_catching_up_to_that_stage(hub: Hub) -> None:
    """The two stages never apply one view at once: while the projection stage holds a view's
    lock, processing does not follow it inline (and catching up takes the batch later)."""
    lock = hub.projector._locks["order_tracking"]
    with lock:
        hub.receive("shopify", [order(4)])
        hub.processor.process_available()
        assert hub.projector.status()[0]["lag"] > 0
    assert not lock.locked()  # processing released what it took when its transaction ended
    hub.projector.catch_up()
    assert hub.projector.status()[0]["lag"] == 0
    assert hub.orders.show("4")["stage"] == "placed"
    assert hub.projector.rebuild("order_tracking", verify=True).verified is True


def test_anomalies_follow_the_configured_thresholds(hub: Hub) -> None:
    hub.receive("shopify", [order(7), paid(7, updated_at="2026-01-01T10:00:00+00:00")])
    hub.process()
    just_after = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
    assert hub.orders.show("7", now=just_after)["anomalies"] == []
    later = just_after + timedelta(days=2)
    (anomaly,) = hub.orders.show("7", now=later)["anomalies"]
    assert anomaly["code"] == "paid_not_shipped"


def test_the_customer_view_records_placings_refunds_and_cancellations_of_one_batch(hub: Hub) -> None:
    """Orders placed, refunded and cancelled in one batch (the view writes them in a few
    statements, placings first): each order's row holds its refunds and its cancellation."""
    refund = fixture("refund")
    cancelled = copy.deepcopy(fixture("order"))
    cancelled.update(id=1002, cancelled_at="2008-01-11T10:00:00-05:00", cancel_reason="customer")
    hub.receive(
        "shopify",
        [
            order(1001),
            order(1002),
            envelope("refunds/create", {**refund, "order_id": 1001}),
            envelope("orders/cancelled", cancelled),
        ],
    )
    hub.process()
    rows = {
        row["order_id"]: row
        for row in hub.store.query("SELECT order_id, refunds, cancelled FROM hub_cust_orders")
    }
    refunded = rows[str(order_id("shopify", "1001"))]
    assert json.loads(refunded["refunds"]) and refunded["cancelled"] == 0
    assert rows[str(order_id("shopify", "1002"))]["cancelled"] == 1
