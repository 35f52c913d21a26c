"""The handlers against an in-memory unit of work (a ``Workspace`` whose aggregates live in a
dict): which aggregates a record touches, what events it makes, when it waits for its order -
without a database, in milliseconds."""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from aggregates import Order, OrderAlias, SourceCustomer, customer_id, order_id
from hub.contracts import CustomerRecord, OrderPlaced, OrderReference, PaymentUpdate, ShipmentUpdate
from hub.handlers import TRACKING, AwaitingOrder, Workspace, handle, target_ids

PROVENANCE = {
    "system": "shop",
    "message_id": "m1",
    "received_at": "2026-01-01T10:00:00+00:00",
    "mapping": "t@1",
}
AT = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


class InMemory:
    """The log as a dict of aggregates: what a committed workspace leaves behind."""

    def __init__(self) -> None:
        self.aggregates: dict[UUID, Any] = {}
        self.cache: OrderedDict[UUID, Any] = OrderedDict()
        self.loads: list[list[UUID]] = []

    def load(self, ids: list[UUID]) -> dict[UUID, Any]:
        self.loads.append(ids)
        return {i: self.aggregates[i] for i in ids if i in self.aggregates}

    def batch(self, system: str, *records: Any) -> list[Any]:
        """One batch: the routes' aggregates read at once, each record handled, events collected."""
        ws = Workspace(self.load, self.cache, limit=1000)
        ws.prefetch([i for r in records for i in target_ids(r, system)])
        for record in records:
            handle(record, system, {**PROVENANCE, "system": system}, ws)
        events = ws.collect()
        self.aggregates.update(ws.touched)
        return events


def placed(ref: str = "1001", **extra: Any) -> OrderPlaced:
    return OrderPlaced(
        order_ref=ref,
        channel="web",
        currency="EUR",
        total_amount=Decimal("20.00"),
        lines=[{"sku": "A-1", "quantity": 2, "unit_price": Decimal("10.00")}],
        placed_at=AT,
        **extra,
    )


def paid(ref: str = "1001", **extra: Any) -> PaymentUpdate:
    return PaymentUpdate(
        order_ref=ref, payment_id="p1", amount=Decimal("20.00"), status="captured", occurred_at=AT, **extra
    )


def test_an_order_with_its_customer_touches_both_and_places_both() -> None:
    log = InMemory()
    record = placed(customer=CustomerRecord(customer_ref="c7", given_name="Ann", family_name="Lee"))
    assert target_ids(record, "shop") == [order_id("shop", "1001"), customer_id("shop", "c7")]
    events = log.batch("shop", record)
    assert [type(e).__qualname__ for e in events] == ["SourceCustomer.Registered", "Order.Placed"]
    assert log.loads == [[order_id("shop", "1001"), customer_id("shop", "c7")]]  # one read for the batch
    assert isinstance(log.aggregates[customer_id("shop", "c7")], SourceCustomer)


def test_a_payment_before_its_order_waits_for_it_and_after_it_is_recorded() -> None:
    log = InMemory()
    with pytest.raises(AwaitingOrder) as waiting:
        log.batch("shop", paid())
    assert waiting.value.key == order_id("shop", "1001") and waiting.value.order_ref == "1001"
    log.batch("shop", placed())
    events = log.batch("shop", paid())
    assert [type(e).__qualname__ for e in events] == ["Order.PaymentRecorded"]
    assert log.batch("shop", paid()) == []  # the same fact again: nothing new
    order = log.aggregates[order_id("shop", "1001")]
    assert isinstance(order, Order) and order.progress.state.stage == "paid"


def test_the_erps_number_and_a_parcels_tracking_number_lead_to_the_shops_order() -> None:
    log = InMemory()
    log.batch("shop", placed())
    reference = OrderReference(order_ref="1001", order_system="shop", external_ref="SO-77", occurred_at=AT)
    assert order_id("erp", "SO-77") in target_ids(reference, "erp")
    log.batch("erp", reference)
    assert isinstance(log.aggregates[order_id("erp", "SO-77")], OrderAlias)
    log.batch("erp", paid("SO-77"))  # the ERP quotes only its own number
    shipment = ShipmentUpdate(
        order_ref="SO-77", shipment_id="s1", tracking_number="1Z9", status="handed_over", occurred_at=AT
    )
    assert target_ids(shipment, "erp") == [order_id("erp", "SO-77"), order_id(TRACKING, "1Z9")]
    log.batch("erp", shipment)
    order = log.aggregates[order_id("shop", "1001")]
    assert order.progress.state.stage == "shipped"
    assert isinstance(log.aggregates[order_id(TRACKING, "1Z9")], OrderAlias)  # the carrier's key
