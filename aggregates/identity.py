"""Deterministic aggregate ids, so replays and parallel workers agree without lookups."""

from __future__ import annotations

from functools import lru_cache
from uuid import NAMESPACE_URL, UUID, uuid5

__all__ = ["activity_id", "customer_id", "link_id", "master_id", "matching_model_id", "order_id", "stock_id"]

_NAMESPACE = uuid5(NAMESPACE_URL, "https://integration-hub.invalid/aggregates")


@lru_cache(maxsize=262_144)  # hot path: every message about an order derives its id
def order_id(system: str, order_ref: str) -> UUID:
    return uuid5(_NAMESPACE, f"order\x1f{system}\x1f{order_ref}")


@lru_cache(maxsize=262_144)
def customer_id(system: str, customer_ref: str) -> UUID:
    return uuid5(_NAMESPACE, f"customer\x1f{system}\x1f{customer_ref}")


@lru_cache(maxsize=65_536)
def stock_id(sku: str, location: str) -> UUID:
    return uuid5(_NAMESPACE, f"stock\x1f{sku}\x1f{location}")


@lru_cache(maxsize=65_536)
def master_id(kind: str, ref: str) -> UUID:
    return uuid5(_NAMESPACE, f"master\x1f{kind}\x1f{ref}")


@lru_cache(maxsize=262_144)
def link_id(record: str) -> UUID:
    """The identity-resolution decisions about one source record ("system:ref")."""
    return uuid5(_NAMESPACE, f"link\x1f{record}")


@lru_cache(maxsize=65_536)
def activity_id(kind: str, system: str, ref: str) -> UUID:
    """An interaction or a service case, as its system numbers it."""
    return uuid5(_NAMESPACE, f"activity\x1f{kind}\x1f{system}\x1f{ref}")


def matching_model_id() -> UUID:
    """The identity matcher's trained model: one aggregate, one event per training."""
    return uuid5(_NAMESPACE, "matching-model")
