"""The domain: event-sourced aggregates and their events, pure Python on eventsourcing."""

from aggregates.customer import PERSONAL_FIELDS, SourceCustomer
from aggregates.errors import DomainRuleViolation
from aggregates.identity import customer_id, order_id
from aggregates.order import Order
from aggregates.order_alias import OrderAlias
from aggregates.order_progress import STAGES, OrderProgress
from aggregates.provenance import Provenance

__all__ = [
    "PERSONAL_FIELDS",
    "STAGES",
    "DomainRuleViolation",
    "Order",
    "OrderAlias",
    "OrderProgress",
    "Provenance",
    "SourceCustomer",
    "customer_id",
    "order_id",
]
