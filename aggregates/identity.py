"""Deterministic aggregate ids, so replays and parallel workers agree without lookups."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

__all__ = ["customer_id", "order_id"]

_NAMESPACE = uuid5(NAMESPACE_URL, "https://integration-hub.invalid/aggregates")


def order_id(system: str, order_ref: str) -> UUID:
    return uuid5(_NAMESPACE, f"order\x1f{system}\x1f{order_ref}")


def customer_id(system: str, customer_ref: str) -> UUID:
    return uuid5(_NAMESPACE, f"customer\x1f{system}\x1f{customer_ref}")
