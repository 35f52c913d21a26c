"""Command handlers: one canonical record in, aggregate commands out.

Handlers are the only place that knows which aggregate a contract addresses: each contract's
route (``_ROUTES``, at the end) names its handler and the aggregates it touches, declared once.
They work on a ``Workspace`` — the aggregates one batch touches, read by the routes in one
query — and every resulting event is saved in one transaction.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from aggregates import (
    CustomerCase,
    CustomerInteraction,
    DomainRuleViolation,
    MasterRecord,
    Order,
    OrderAlias,
    Provenance,
    SourceCustomer,
    StockPosition,
    activity_id,
    customer_id,
    master_id,
    order_id,
    stock_id,
)
from hub.contracts import (
    Contract,
    CustomerRecord,
    DeliveryConfirmation,
    GoodsReceipt,
    Interaction,
    ItemMaster,
    OrderCancelled,
    OrderPlaced,
    OrderReference,
    PaymentUpdate,
    ServiceCase,
    ShipmentUpdate,
    StockCount,
    SupplyOrder,
)

__all__ = ["AwaitingOrder", "Workspace", "handle", "target_ids"]


class AwaitingOrder(Exception):
    """The message refers to an order the hub has not seen yet: park it until the order arrives."""

    def __init__(self, key: UUID, order_ref: str) -> None:
        super().__init__(f"order {order_ref!r} is not known yet")
        self.key, self.order_ref = key, order_ref


Load = Callable[[list[UUID]], dict[UUID, Any]]  # aggregates by id, rebuilt from the log (absent: none)


class Workspace:
    """Aggregates touched by one batch, backed by a bounded cache shared across batches: the unit
    of work of the handlers. ``load`` reads aggregates the cache lacks (``Store.replay``; a dict
    of aggregates in the handlers' unit tests).

    The cache is only coherent while this process is the single writer of those aggregates; a
    version conflict on commit clears it (see ``Processor``).
    """

    def __init__(self, load: Load, cache: OrderedDict[UUID, Aggregate | None], limit: int) -> None:
        self.load, self.cache, self.limit = load, cache, limit
        self.touched: dict[UUID, Aggregate] = {}

    def prefetch(self, ids: Iterable[UUID]) -> None:
        missing = [i for i in dict.fromkeys(ids) if i not in self.cache]
        if not missing:
            return
        found = self.load(missing)
        for aggregate_id in missing:
            self._remember(aggregate_id, found.get(aggregate_id))

    def get(self, aggregate_id: UUID) -> Any:
        if aggregate_id in self.touched:
            return self.touched[aggregate_id]
        if aggregate_id not in self.cache:
            self.prefetch([aggregate_id])
        aggregate = self.cache[aggregate_id]
        self.cache.move_to_end(aggregate_id)
        return aggregate

    def add(self, aggregate: Aggregate) -> None:
        self.touched[aggregate.id] = aggregate
        self._remember(aggregate.id, aggregate)

    def touch(self, aggregate: Aggregate) -> None:
        self.touched[aggregate.id] = aggregate

    def collect(self) -> list[Any]:
        events: list[Any] = []
        for aggregate in self.touched.values():
            events.extend(aggregate.collect_events())
        return events

    def _remember(self, aggregate_id: UUID, aggregate: Aggregate | None) -> None:
        self.cache[aggregate_id] = aggregate
        self.cache.move_to_end(aggregate_id)
        while len(self.cache) > self.limit:
            self.cache.popitem(last=False)


TRACKING = "tracking"  # the alias system of parcels' tracking numbers


def _resolve(ws: Workspace, system: str, order_ref: str) -> tuple[Order, OrderAlias | None]:
    """The order a message means — also when it quotes another system's number for it (then
    with the alias it followed)."""
    key = order_id(system, order_ref)
    found = ws.get(key)
    alias = found if isinstance(found, OrderAlias) else None
    order = ws.get(UUID(alias.order_key)) if alias is not None else found
    if order is None:
        raise AwaitingOrder(key, order_ref)
    ws.touch(order)
    return order, alias


def _existing_order(ws: Workspace, system: str, order_ref: str) -> Order:
    return _resolve(ws, system, order_ref)[0]


def _place(record: OrderPlaced, system: str, provenance: Provenance, ws: Workspace) -> UUID | None:
    lines = [
        {
            "sku": line.sku,
            "description": line.description or "",
            "quantity": str(line.quantity),
            "unit_price": str(line.unit_price),
        }
        for line in record.lines
    ]
    key = order_id(system, record.order_ref)
    existing = ws.get(key)
    if isinstance(existing, OrderAlias):
        return None  # this number already stands for an order placed elsewhere (and synced here)
    if record.customer is not None:
        _customer(record.customer, system, provenance, ws)
    if existing is not None:
        ws.touch(existing)
        existing.amend(
            currency=record.currency,
            total_amount=record.total_amount,
            lines=lines,
            placed_at=record.placed_at,
            requested_date=record.requested_date,
            amended_at=record.updated_at or record.placed_at,
            provenance=provenance,
        )
        return None
    ws.add(
        Order.place(
            system=system,
            order_ref=record.order_ref,
            channel=record.channel,
            customer_ref=record.customer_ref or (record.customer.customer_ref if record.customer else None),
            currency=record.currency,
            total_amount=record.total_amount,
            lines=lines,
            placed_at=record.placed_at,
            requested_date=record.requested_date,
            updated_at=record.updated_at,
            aliases=[a.model_dump() for a in record.aliases],
            provenance=provenance,
        )
    )
    return key


def _customer(
    record: CustomerRecord, system: str, provenance: Provenance, ws: Workspace, *, partial: bool = False
) -> None:
    """``partial``: the record states only the fields its mapping sets (a call record knows the
    caller's number, not the name an earlier order gave): the others are left as they are."""
    fields = record.model_dump(mode="json", exclude={"customer_ref", "updated_at"}, exclude_unset=partial)
    key = customer_id(system, record.customer_ref)
    customer = ws.get(key)
    if customer is None:
        ws.add(
            SourceCustomer.register(
                system=system,
                customer_ref=record.customer_ref,
                fields=fields,
                provenance=provenance,
                as_of=record.updated_at,
            )
        )
    else:
        ws.touch(customer)
        customer.update(fields=fields, provenance=provenance, as_of=record.updated_at)


def _payment(record: PaymentUpdate, system: str, provenance: Provenance, ws: Workspace) -> None:
    _existing_order(ws, record.order_system or system, record.order_ref).record_payment(
        payment_id=record.payment_id,
        status=record.status,
        amount=record.amount,
        currency=record.currency,
        occurred_at=record.occurred_at,
        provenance=provenance,
        method=record.method,
        instalments=record.instalments,
    )


def _shipment(record: ShipmentUpdate, system: str, provenance: Provenance, ws: Workspace) -> UUID | None:
    quantities: dict[str, Decimal] = {}
    for line in record.lines:
        quantities[line.sku] = quantities.get(line.sku, Decimal(0)) + line.quantity
    lines = {sku: str(qty) for sku, qty in quantities.items()}
    order, alias = _resolve(ws, record.order_system or system, record.order_ref)
    shipment_id = record.shipment_id
    if alias is not None and alias.shipment_id and record.shipment_id == alias.ref:
        shipment_id = alias.shipment_id  # a carrier's event about a parcel the shop shipped
    order.record_shipment(
        shipment_id=shipment_id,
        status=record.status,
        carrier=record.carrier,
        tracking_number=record.tracking_number,
        lines=lines,
        occurred_at=record.occurred_at,
        provenance=provenance,
    )
    if not record.tracking_number:
        return None
    key = order_id(TRACKING, record.tracking_number)
    if ws.get(key) is not None:
        return None
    ws.add(
        OrderAlias.create(
            system=TRACKING,
            ref=record.tracking_number,
            order_key=str(order.id),
            shipment_id=shipment_id,
            provenance=provenance,
        )
    )
    return key  # carrier events that came before the shipment was known can go on


def _confirmation(record: DeliveryConfirmation, system: str, provenance: Provenance, ws: Workspace) -> None:
    _existing_order(ws, record.order_system or system, record.order_ref).confirm_delivery(
        confirmed_at=record.confirmed_at,
        rating=record.rating,
        comment=record.comment,
        provenance=provenance,
    )


def _cancellation(record: OrderCancelled, system: str, provenance: Provenance, ws: Workspace) -> None:
    _existing_order(ws, record.order_system or system, record.order_ref).cancel(
        cancelled_at=record.cancelled_at, reason=record.reason, provenance=provenance
    )


def _reference(record: OrderReference, system: str, provenance: Provenance, ws: Workspace) -> UUID | None:
    order = _existing_order(ws, record.order_system or system, record.order_ref)
    order.record_reference(
        system=system,
        ref=record.external_ref,
        status=record.status,
        reason=record.reason,
        occurred_at=record.occurred_at,
        provenance=provenance,
    )
    if record.status != "accepted" or record.external_ref is None:
        return None
    key = order_id(system, record.external_ref)
    existing = ws.get(key)
    if existing is None:
        ws.add(
            OrderAlias.create(
                system=system, ref=record.external_ref, order_key=str(order.id), provenance=provenance
            )
        )
        return key  # messages that quoted this number before it was known can go on now
    if isinstance(existing, Order):
        raise DomainRuleViolation(
            f"{system} order {record.external_ref} is already a separate order in the hub; it cannot "
            f"also stand for {order.system} order {order.order_ref}"
        )
    return None


def _stock(ws: Workspace, sku: str, location: str) -> StockPosition:
    stock = ws.get(stock_id(sku, location))
    if stock is None:
        stock = StockPosition.open(sku, location)
        ws.add(stock)
    else:
        ws.touch(stock)
    return stock


def _count(record: StockCount, system: str, provenance: Provenance, ws: Workspace) -> None:
    _stock(ws, record.sku, record.location).count(
        on_hand=record.on_hand, allocated=record.allocated, as_of=record.as_of, provenance=provenance
    )


def _receipt(record: GoodsReceipt, system: str, provenance: Provenance, ws: Workspace) -> None:
    _stock(ws, record.sku, record.location).receive(
        receipt_id=record.receipt_id,
        quantity=record.quantity,
        received_at=record.received_at,
        provenance=provenance,
    )


def _master_key(record: ItemMaster | SupplyOrder) -> tuple[str, str]:
    return ("item", record.sku) if isinstance(record, ItemMaster) else ("supply_order", record.order_ref)


def _master(record: ItemMaster | SupplyOrder, system: str, provenance: Provenance, ws: Workspace) -> None:
    kind, ref = _master_key(record)
    # Only what this source states: the ERP knows no buffer profile, the planner no lot size.
    fields = record.model_dump(mode="json", exclude={"updated_at"}, exclude_unset=True)
    existing = ws.get(master_id(kind, ref))
    if existing is None:
        ws.add(
            MasterRecord.register(
                kind=kind, ref=ref, fields=fields, provenance=provenance, as_of=record.updated_at
            )
        )
    else:
        ws.touch(existing)
        existing.update(fields=fields, provenance=provenance, as_of=record.updated_at)


def _activity_key(record: Interaction | ServiceCase, system: str) -> tuple[str, str, str]:
    if isinstance(record, Interaction):
        return "interaction", system, record.interaction_id
    return "case", system, record.case_ref


def _activity(record: Interaction | ServiceCase, system: str, provenance: Provenance, ws: Workspace) -> None:
    if isinstance(record, Interaction) and record.customer is not None:
        _customer(record.customer, system, provenance, ws, partial=True)
    kind, _, ref = _activity_key(record, system)
    customer = f"{record.customer_system or system}:{record.customer_ref}"
    identity = {"interaction_id", "case_ref", "customer_ref", "customer_system", "customer", "updated_at"}
    fields = record.model_dump(mode="json", exclude=identity)
    existing = ws.get(activity_id(kind, system, ref))
    if existing is not None:
        ws.touch(existing)
        change = existing.correct if isinstance(existing, CustomerInteraction) else existing.update
        change(customer=customer, fields=fields, provenance=provenance, as_of=record.updated_at)
        return
    create = CustomerInteraction.record if kind == "interaction" else CustomerCase.open
    ws.add(
        create(
            system=system,
            ref=ref,
            customer=customer,
            fields=fields,
            provenance=provenance,
            as_of=record.updated_at,
        )
    )


# -- routing: which handler, and which aggregates it touches ------------------------------------


def _the_order(record: Any, system: str) -> list[UUID]:
    return [order_id(getattr(record, "order_system", None) or system, record.order_ref)]


def _placed_keys(record: OrderPlaced, system: str) -> list[UUID]:
    customer = [customer_id(system, record.customer.customer_ref)] if record.customer is not None else []
    return _the_order(record, system) + customer


def _shipment_keys(record: ShipmentUpdate, system: str) -> list[UUID]:
    parcel = [order_id(TRACKING, record.tracking_number)] if record.tracking_number else []
    return _the_order(record, system) + parcel


def _reference_keys(record: OrderReference, system: str) -> list[UUID]:
    other = [order_id(system, record.external_ref)] if record.external_ref else []
    return _the_order(record, system) + other


def _customer_keys(record: CustomerRecord, system: str) -> list[UUID]:
    return [customer_id(system, record.customer_ref)]


def _stock_keys(record: StockCount | GoodsReceipt, system: str) -> list[UUID]:
    return [stock_id(record.sku, record.location)]


def _master_keys(record: ItemMaster | SupplyOrder, system: str) -> list[UUID]:
    return [master_id(*_master_key(record))]


def _activity_keys(record: Interaction | ServiceCase, system: str) -> list[UUID]:
    keys = [activity_id(*_activity_key(record, system))]
    if isinstance(record, Interaction) and record.customer is not None:
        keys.append(customer_id(system, record.customer.customer_ref))
    return keys


@dataclass(frozen=True)
class Route:
    """A contract's handler, and the aggregates it touches (so a batch reads them at once)."""

    handler: Callable[..., UUID | None]
    touches: Callable[[Any, str], list[UUID]]


_ROUTES: dict[type[Contract], Route] = {
    OrderPlaced: Route(_place, _placed_keys),
    CustomerRecord: Route(_customer, _customer_keys),
    PaymentUpdate: Route(_payment, _the_order),
    ShipmentUpdate: Route(_shipment, _shipment_keys),
    DeliveryConfirmation: Route(_confirmation, _the_order),
    OrderCancelled: Route(_cancellation, _the_order),
    OrderReference: Route(_reference, _reference_keys),
    StockCount: Route(_count, _stock_keys),
    GoodsReceipt: Route(_receipt, _stock_keys),
    ItemMaster: Route(_master, _master_keys),
    SupplyOrder: Route(_master, _master_keys),
    Interaction: Route(_activity, _activity_keys),
    ServiceCase: Route(_activity, _activity_keys),
}


def target_ids(record: Contract, system: str) -> list[UUID]:
    """The aggregates a record will touch, so a batch can load them all at once."""
    return _ROUTES[type(record)].touches(record, system)


def handle(record: Contract, system: str, provenance: Provenance, ws: Workspace) -> UUID | None:
    """Apply one record; returns the id of a newly placed order or alias (its parked messages
    can go on)."""
    return _ROUTES[type(record)].handler(record, system, provenance, ws)
