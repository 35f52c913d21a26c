"""The call centre: callers known by number, orders taken by phone. A customer who orders on the
web and by phone is one customer with one order history, and the calls show in the 360 view."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from adapters.files import take_file
from hub.bootstrap import Hub
from hub.settings import SystemConfig
from tests.conftest import TEST_SYSTEMS
from tests.shop_messages import order

CALLS = """call_id,started_at,caller_id,caller_number,agent,direction,duration_s,outcome,order_no
C-1,2026-11-20 10:31:05,T-17,+1 555-625-1199,mara,in,312,order,CC-1042
C-2,2026-11-21 16:02:40,T-17,+1 555-625-1199,jon,out,95,callback,
C-3,2026-11-21 16:10:00,T-0,anonymous,jon,in,45,info,
"""

PHONE_ORDER = {
    "order_no": "CC-1042",
    "taken_at": "2026-11-20T10:36:00",
    "currency": "USD",
    "total": "64.80",
    "agent": "mara",
    "caller": {
        "id": "T-17",
        "number": "+1 555-625-1199",
        "first_name": "Bob",
        "last_name": "Norman",
        "street": "Chestnut Street 92",
        "postcode": "40202",
        "city": "Louisville",
        "country": "us",
    },
    "lines": [{"sku": "TEE-BLK-M", "description": "T-shirt black M", "qty": "2", "price": "32.40"}],
}


def call_centre_hub(make_hub: Callable[..., Hub]) -> Hub:
    systems = {"callcentre": SystemConfig(adapter="file", timezone="Europe/Berlin", phone_region="DE")}
    return make_hub(systems={**TEST_SYSTEMS, **systems})


def test_web_and_phone_orders_are_one_customer_with_the_calls(
    make_hub: Callable[..., Hub], tmp_path: Path
) -> None:
    hub = call_centre_hub(make_hub)
    hub.receive("shopify", [order()])  # the real Shopify order of Bob Norman, 555-625-1199
    calls = tmp_path / "calls.csv"
    calls.write_text(CALLS)
    orders = tmp_path / "orders.jsonl"
    orders.write_text(json.dumps(PHONE_ORDER) + "\n")
    for path in (orders, calls):
        take_file(hub.ports, hub.receive, "callcentre", path)
    hub.process()

    customer = hub.customers.resolve("callcentre:T-17")
    assert hub.customers.resolve("shopify:207119551") == customer
    view = hub.customers.show(customer)
    assert sorted(i["record"] for i in view["identities"]) == ["callcentre:T-17", "shopify:207119551"]
    assert sorted((o["system"], o["channel"]) for o in view["orders"]) == [
        ("callcentre", "phone"),
        ("shopify", "web"),
    ]
    assert set(view["value"]["channels"]) == {"web", "phone"}
    assert [(i["interaction_id"], i["direction"], i["outcome"]) for i in view["interactions"]] == [
        ("C-2", "outbound", "callback requested"),
        ("C-1", "inbound", "order taken"),
    ]
    assert view["interactions"][1]["order_ref"] == "CC-1042"
    # The caller's name came with the phone order; the calls, which know only the number, left it.
    caller = next(i for i in view["identities"] if i["system"] == "callcentre")
    assert (caller["fields"]["given_name"], caller["fields"]["family_name"]) == ("Bob", "Norman")
    # A withheld number cannot name a caller: that row is a dead letter, the others went on.
    [letter] = hub.dead_letters.list("open")
    assert "anonymous" in letter.reason and letter.envelope.get("source") == "calls.csv row 4"
