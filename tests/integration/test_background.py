"""``hub run``'s background: processing and the projection stage on two threads, so an order
is visible in order tracking while identity resolution is still busy (or stuck)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from entrypoints.background import BackgroundProcessor
from hub.bootstrap import Hub
from hub.identity.service import TRACKING as IDENTITY
from tests.shop_messages import order, paid


def eventually(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_order_tracking_does_not_wait_for_identity_resolution(hub: Hub, monkeypatch) -> None:
    release = threading.Event()
    follow = hub.projector.feeds["customers"]  # the identity stage, run before the customer view

    def stuck(upto: int | None = None) -> int:
        release.wait(30)  # identity resolution is slow today
        return follow(upto)

    monkeypatch.setitem(hub.projector.feeds, "customers", stuck)
    background = BackgroundProcessor(hub, idle_seconds=0.05)
    background.start()
    try:
        hub.receive("shopify", [order(11)])
        background.wake()
        eventually(lambda: hub.orders.show("11") is not None)
        hub.receive("shopify", [paid(11)])
        background.wake()
        eventually(lambda: hub.orders.show("11")["stage"] == "paid")
        assert hub.store.position(IDENTITY) == 0  # visible and paid while identity is still stuck
        release.set()  # identity resolution catches up on its own thread
        eventually(lambda: all(entry["lag"] == 0 for entry in hub.projector.status()))
        eventually(lambda: hub.store.position(IDENTITY) > 0)
        resolved = hub.store.query("SELECT COUNT(*) AS n FROM hub_identity_records")[0]["n"]
        assert resolved == 1  # the order's customer
    finally:
        release.set()
        background.stop()
    assert hub.projector.rebuild("order_tracking", verify=True).verified is True
    assert hub.projector.rebuild("customers", verify=True).verified is True
