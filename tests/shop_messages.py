"""Shopify messages for tests: the real fixtures from ../shared/inputs and small variations."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.conftest import FIXTURES

_SHOPIFY = FIXTURES / "shopify-webhooks"


def fixture(name: str) -> dict[str, Any]:
    """The inner resource of a Shopify fixture file (what a webhook body carries)."""
    document = json.loads((_SHOPIFY / f"{name}.json").read_text())
    (inner,) = document.values()
    return inner


def envelope(topic: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"headers": {"x-shopify-topic": topic}, "body": body}


def order(order_id: int = 450789469, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(fixture("order"))
    body.update(id=order_id, name=f"#{order_id}", **changes)
    return envelope("orders/create", body)


def paid(order_id: int = 450789469, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(fixture("order"))
    body.update(id=order_id, financial_status="paid", **changes)
    return envelope("orders/paid", body)


def fulfillment(order_id: int = 450789469, fulfillment_id: int = 255858046, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(fixture("fulfillment"))
    body.update(order_id=order_id, id=fulfillment_id, **changes)
    return envelope("fulfillments/create", body)
