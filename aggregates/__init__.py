"""The domain: event-sourced aggregates and their events, pure Python on eventsourcing."""

from aggregates.activity import CLOSED_STATUSES, CustomerCase, CustomerInteraction
from aggregates.customer import PERSONAL_FIELDS, SourceCustomer
from aggregates.customer_link import CustomerLink
from aggregates.erasure import ErasureRequest
from aggregates.errors import DomainRuleViolation
from aggregates.identity import (
    activity_id,
    customer_id,
    link_id,
    master_id,
    matching_model_id,
    order_id,
    stock_id,
)
from aggregates.master import MasterRecord
from aggregates.matching_model import MatchingModel
from aggregates.money import PaymentTolerance
from aggregates.order import Order
from aggregates.order_alias import OrderAlias
from aggregates.order_progress import STAGES, OrderProgress
from aggregates.provenance import Provenance
from aggregates.stock import StockPosition

__all__ = [
    "CLOSED_STATUSES",
    "PERSONAL_FIELDS",
    "STAGES",
    "CustomerCase",
    "CustomerInteraction",
    "CustomerLink",
    "DomainRuleViolation",
    "ErasureRequest",
    "MasterRecord",
    "MatchingModel",
    "Order",
    "OrderAlias",
    "OrderProgress",
    "PaymentTolerance",
    "Provenance",
    "SourceCustomer",
    "StockPosition",
    "activity_id",
    "customer_id",
    "link_id",
    "master_id",
    "matching_model_id",
    "order_id",
    "stock_id",
]
