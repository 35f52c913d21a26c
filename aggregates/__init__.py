"""The domain: event-sourced aggregates and their events, pure Python on eventsourcing."""

from aggregates.customer import SourceCustomer
from aggregates.errors import DomainRuleViolation
from aggregates.identity import customer_id, order_id
from aggregates.order import Order
from aggregates.order_progress import STAGES, OrderProgress
from aggregates.provenance import Provenance

__all__ = [
    "STAGES",
    "DomainRuleViolation",
    "Order",
    "OrderProgress",
    "Provenance",
    "SourceCustomer",
    "customer_id",
    "order_id",
]
