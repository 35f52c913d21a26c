"""Order tracking is disposable: a rebuild from the log gives exactly the live rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.bootstrap import Hub
from tests.shop_messages import fulfillment, order, paid


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


def test_a_lagging_view_catches_up_and_then_follows_inline_again(hub: Hub) -> None:
    follower, hub.processor.follower = hub.processor.follower, None
    hub.receive("shopify", [order(1)])
    hub.processor.process_available()
    hub.processor.follower = follower
    hub.receive("shopify", [order(2)])
    hub.processor.process_available()
    assert hub.projector.status()[0]["lag"] == 3  # the lagging view was left alone
    hub.projector.catch_up()
    hub.receive("shopify", [order(3)])
    hub.processor.process_available()
    assert hub.projector.status()[0]["lag"] == 0
    assert hub.projector.rebuild("order_tracking", verify=True).verified is True


def test_anomalies_follow_the_configured_thresholds(hub: Hub) -> None:
    hub.receive("shopify", [order(7), paid(7, updated_at="2026-01-01T10:00:00+00:00")])
    hub.process()
    just_after = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
    assert hub.orders.show("7", now=just_after)["anomalies"] == []
    later = just_after + timedelta(days=2)
    (anomaly,) = hub.orders.show("7", now=later)["anomalies"]
    assert anomaly["code"] == "paid_not_shipped"
