"""Audit by replay on both backends: as-of state, history with provenance and raw messages,
field lineage — in Python and over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from entrypoints.api import create_app
from entrypoints.server_thread import ServerThread
from hub.audit.history import EntityNotFound
from hub.bootstrap import Hub
from tests.shop_messages import order, paid


def _moment() -> datetime:
    time.sleep(0.01)  # event timestamps on either side are strictly apart
    moment = datetime.now(UTC)
    time.sleep(0.01)
    return moment


@pytest.fixture
def lived(make_hub: Callable[..., Hub]) -> tuple[Hub, list[datetime]]:
    """Order 1001 placed, then paid; a second order changes its customer's name."""
    hub = make_hub()
    before = _moment()
    hub.receive("shopify", [order(1001)])
    hub.process()
    placed = _moment()
    renamed = order(1002)
    renamed["body"]["customer"] = {
        **renamed["body"]["customer"],
        "first_name": "Robert",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    hub.receive("shopify", [paid(1001), renamed])
    hub.process()
    return hub, [before, placed, _moment()]


def test_an_order_as_the_hub_knew_it_at_each_instant(lived: tuple[Hub, list[datetime]]) -> None:
    hub, (before, placed, later) = lived
    key = hub.history.resolve("order:1001", "shopify")
    assert hub.history.as_of(key, before) is None
    assert hub.history.as_of(key, placed)["stage"] == "placed"
    now = hub.history.as_of(key, later)
    assert now["stage"] == "paid"
    assert now == hub.orders.show("1001", "shopify", now=later)  # replay = the live view


def test_history_lists_every_event_with_provenance_and_the_raw_message(
    lived: tuple[Hub, list[datetime]],
) -> None:
    hub, _ = lived
    entries = hub.history.entries(hub.history.resolve("#1001"), raw=True)
    assert [e["event"] for e in entries] == ["Order.Placed", "Order.PaymentRecorded"]
    assert [e["message_id"] for e in entries] == ["orders/create:1001", "orders/paid:1001:paid"]
    assert [e["mapping"] for e in entries] == ["shopify.orders_create@3", "shopify.orders_paid@2"]
    assert all(e["system"] == "shopify" and e["received_at"] for e in entries)
    assert entries[1]["source_message"]["body"]["id"] == 1001
    assert entries[1]["source_message"]["headers"]["x-shopify-topic"] == "orders/paid"


def test_lineage_names_the_message_behind_each_value(lived: tuple[Hub, list[datetime]]) -> None:
    hub, (_, placed, _) = lived
    changes = hub.history.lineage(hub.history.resolve("order:1001"), "stage")
    assert [(c["before"], c["after"], c["message_id"]) for c in changes] == [
        (None, "placed", "orders/create:1001"),
        ("placed", "paid", "orders/paid:1001:paid"),
    ]
    customer = hub.history.resolve("customer:shopify:207119551")
    names = hub.history.lineage(customer, "fields.given_name")
    assert [(c["before"], c["after"], c["message_id"]) for c in names] == [
        (None, "Bob", "orders/create:1001"),
        ("Bob", "Robert", "orders/create:1002"),
    ]
    assert hub.history.as_of(customer, placed)["fields"]["given_name"] == "Bob"
    with pytest.raises(EntityNotFound, match="never had a value"):
        hub.history.lineage(customer, "fields.shoe_size")


def test_unknown_entities_are_named(lived: tuple[Hub, list[datetime]]) -> None:
    hub, _ = lived
    for entity, reason in (
        ("order:999", "no order"),
        ("customer:shopify", "customer:SYSTEM:REF"),
        ("customer:shopify:nobody", "no events"),
    ):
        with pytest.raises(EntityNotFound, match=reason):
            hub.history.resolve(entity)


def test_the_http_api_answers_as_of_history_and_lineage(lived: tuple[Hub, list[datetime]]) -> None:
    hub, (before, placed, _) = lived
    with ServerThread(create_app(hub)) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/orders/1001", params={"as_of": placed.isoformat()}).json()["stage"] == "placed"
        assert http.get("/orders/1001", params={"as_of": before.isoformat()}).status_code == 404
        assert http.get("/orders/1001", params={"as_of": "yesterday"}).status_code == 422
        customer = http.get("/customers/shopify/207119551", params={"as_of": placed.isoformat()})
        assert customer.json()["fields"]["given_name"] == "Bob"
        history = http.get("/audit/history", params={"entity": "order:1001"}).json()
        assert [e["version"] for e in history] == [1, 2]
        lineage = http.get("/audit/lineage", params={"entity": "order:1001", "field": "paid_amount"}).json()
        assert lineage[-1]["message_id"] == "orders/paid:1001:paid"
        assert http.get("/audit/history", params={"entity": "order:nope"}).status_code == 404
    assert (placed - before) < timedelta(minutes=1)
