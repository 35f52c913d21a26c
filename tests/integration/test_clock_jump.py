"""Given a hub whose clock jumps back three hours mid-stream (an NTP correction, a restored VM
snapshot), when messages keep arriving, then the state is what the messages' own times say
("event time decides state"), nothing parked expires early, every message is accounted for, the
log verifies, and a rebuild equals the live view - on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from hub.accounting import Accounting
from hub.audit.verify import verify
from hub.bootstrap import Hub
from tests.shop_messages import fulfillment, order, paid


def test_a_clock_jumping_back_changes_no_state_and_loses_nothing(hub: Hub) -> None:
    now = datetime.now(UTC)
    with time_machine.travel(now, tick=True):
        hub.receive("shopify", [order(1), paid(2), paid(3)])  # 2 and 3 wait for their orders
        hub.process()
    with time_machine.travel(now - timedelta(hours=3), tick=True):
        # Received "earlier" than what came before: the inbox order is what processing follows.
        hub.receive("shopify", [paid(1), fulfillment(1, status="success", shipment_status="delivered")])
        hub.receive("shopify", [order(2)])
        hub.process()
        # Waiting since "three hours from now": not expired by a one-hour timeout.
        assert hub.parked.expire(timedelta(hours=1)) == 0
    with time_machine.travel(now + timedelta(minutes=5), tick=True):
        assert hub.parked.expire(timedelta(hours=1)) == 0
        first, second = hub.orders.show("1"), hub.orders.show("2")
        assert first is not None and second is not None
        assert (first["stage"], first["paid_amount"]) == ("partially_shipped", "409.94")
        assert first["shipments"][0]["status"] == "delivered"
        assert (second["stage"], second["paid_amount"]) == ("paid", "409.94")
        assert [p["awaiting_ref"] for p in hub.parked.listing()] == ["3"]

        report = Accounting(hub.store).report()
        assert report.balanced, report.as_dict()
        [shop] = report.systems
        assert (shop.stored, shop.applied, shop.parked) == (6, 5, 1)
        # As the hub knew it: what was recorded by then, never a later version without its
        # creation (the payment was stamped "three hours earlier" than the order it pays).
        order_id = hub.orders.order_id("1", None)
        assert hub.history.as_of(order_id, now - timedelta(hours=1)) is None
        assert hub.history.as_of(order_id, now + timedelta(minutes=1))["paid_amount"] == "409.94"
        assert verify(hub.store).ok
        assert hub.projector.rebuild("order_tracking", verify=True).verified is True
