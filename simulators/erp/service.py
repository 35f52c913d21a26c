"""The simulated ERP's SOAP 1.1 interface (spyne): its own WSDL, legacy types, injectable faults.

Every list operation answers "records changed since a local timestamp, page N of size S", the
report most legacy ERPs expose; ``CreateSalesOrder`` and ``CreatePlannedOrder``, each with its
``Get…ByExternalRef`` look-up, are the write side the hub's outbound paths use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from spyne import Application, Array, ComplexModel, Integer, ServiceBase, Unicode, rpc
from spyne.model.fault import Fault
from spyne.protocol.soap import Soap11

from simulators.erp.book import LOCAL_FORMAT, Entity, ErpBook, Rejected

__all__ = ["NAMESPACE", "FaultPlan", "erp_application"]

NAMESPACE = "urn:legacy-erp:sales:v1"


class _Model(ComplexModel):
    __namespace__ = NAMESPACE


class Line(_Model):
    ItemNo = Unicode
    Description = Unicode
    Quantity = Unicode
    UnitPrice = Unicode


class Debtor(_Model):
    Number = Unicode
    Name1 = Unicode
    Name2 = Unicode
    Street = Unicode
    PostCode = Unicode
    City = Unicode
    Country = Unicode
    Phone = Unicode
    Email = Unicode
    VatId = Unicode
    Blocked = Unicode
    ChangedAt = Unicode


class SalesOrder(_Model):
    Number = Unicode
    DebtorNo = Unicode
    ExternalRef = Unicode
    OrderDate = Unicode
    Currency = Unicode
    Total = Unicode
    Status = Unicode
    Lines = Array(Line)
    ChangedAt = Unicode


class Invoice(_Model):
    InvoiceNo = Unicode
    OrderNo = Unicode
    DebtorNo = Unicode
    Amount = Unicode
    OpenAmount = Unicode
    Currency = Unicode
    DueDate = Unicode
    ChangedAt = Unicode


class Payment(_Model):
    EntryNo = Unicode
    DocumentType = Unicode
    InvoiceNo = Unicode
    OrderNo = Unicode
    Amount = Unicode
    Currency = Unicode
    PostingDate = Unicode
    Cleared = Unicode
    ChangedAt = Unicode


class Delivery(_Model):
    DeliveryNo = Unicode
    OrderNo = Unicode
    Carrier = Unicode
    TrackingNo = Unicode
    Status = Unicode
    ShippedAt = Unicode
    Lines = Array(Line)
    ChangedAt = Unicode


class Item(_Model):
    ItemNo = Unicode
    Description = Unicode
    LeadTimeDays = Unicode
    LotSize = Unicode
    MinOrderQty = Unicode
    Unit = Unicode
    ChangedAt = Unicode


class Stock(_Model):
    ItemNo = Unicode
    Location = Unicode
    OnHand = Unicode
    Allocated = Unicode
    ChangedAt = Unicode


class ProductionOrder(_Model):
    Number = Unicode
    ItemNo = Unicode
    Quantity = Unicode
    DueDate = Unicode
    Status = Unicode
    ExternalRef = Unicode
    ChangedAt = Unicode


class NewPlannedOrder(_Model):
    ExternalRef = Unicode
    ItemNo = Unicode
    Quantity = Unicode
    DueDate = Unicode


class NewSalesOrder(_Model):
    ExternalRef = Unicode
    DebtorNo = Unicode
    CustomerName = Unicode
    Email = Unicode
    Currency = Unicode
    OrderDate = Unicode
    Lines = Array(Line)


class CreateResult(_Model):
    OrderNo = Unicode


@dataclass
class FaultPlan:
    """Faults armed by a test or the demo; each fires for its next ``times`` matching calls.

    Transport faults (``slow``, ``http500``, ``drop``, ``malformed``) are applied around the
    SOAP application (see ``server``); the rest happen inside an operation.
    """

    armed: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    fired: list[str] = field(default_factory=list)

    def arm(self, kind: str, *, operation: str | None = None, times: int = 1, **options: Any) -> None:
        with self.lock:
            self.armed.append({"kind": kind, "operation": operation, "times": times, **options})

    def clear(self) -> None:
        with self.lock:
            self.armed.clear()

    def take(self, kinds: tuple[str, ...], operation: str) -> dict[str, Any] | None:
        """The first armed fault of these kinds for this operation, consumed once."""
        with self.lock:
            for fault in self.armed:
                if fault["kind"] in kinds and fault["operation"] in (None, operation):
                    fault["times"] -= 1
                    if fault["times"] <= 0:
                        self.armed.remove(fault)
                    self.fired.append(f"{fault['kind']}:{operation}")
                    return fault
        return None


def _since(value: str | None) -> datetime:
    if not value or not value.strip():
        return datetime(1900, 1, 1)
    try:
        return datetime.strptime(value.strip(), LOCAL_FORMAT)
    except ValueError:
        raise Fault("Client.Since", f"Since '{value}' ist kein Datum im Format TT.MM.JJJJ hh:mm:ss") from None


def _page_args(page: int | None, size: int | None) -> tuple[int, int]:
    page, size = page or 1, size or 100
    if page < 1 or not 1 <= size <= 5000:
        raise Fault("Client.Paging", f"Page {page} / PageSize {size} ausserhalb des Bereichs")
    return page, size


def erp_application(book: ErpBook, faults: FaultPlan, *, on_call: Callable[[str], None] | None = None) -> Any:
    """A spyne ``Application`` over the book; the WSDL is served at ``?wsdl``."""
    last_pages: dict[str, list[dict[str, Any]]] = {}

    def listing(
        operation: str,
        entity: Entity,
        model: type[_Model],
        since: str | None,
        page: int | None,
        size: int | None,
    ) -> list[Any]:
        if on_call is not None:
            on_call(operation)
        if faults.take(("soap_fault",), operation):
            raise Fault("Server.Internal", "Interner Fehler: Sperre auf Tabelle (lock timeout)")
        page, size = _page_args(page, size)
        with book.lock:
            if operation in last_pages and faults.take(("duplicate_page",), operation):
                records = last_pages[operation]  # the legacy cache hands out the previous page again
            else:
                records = entity.since(_since(since), page, size)
            last_pages[operation] = records
            change = faults.take(("change_between_pages",), operation)
            if change and records:
                change["apply"](records[0])
        return [_build(model, r) for r in records]

    def listed(operation: str, entity: Entity, model: type[_Model]) -> Any:
        """One "changed since" operation of the WSDL: ``(Since, Page, PageSize) -> [model]``."""

        def method(ctx, Since, Page, PageSize):  # the ERP's parameter names
            return listing(operation, entity, model, Since, Page, PageSize)

        method.__name__ = method.__qualname__ = operation  # spyne keys its methods by name
        return rpc(Unicode, Integer, Integer, _returns=Array(model), _operation_name=operation)(method)

    listings = {
        "GetCustomersChangedSince": (book.debtors, Debtor),
        "GetSalesOrdersChangedSince": (book.orders, SalesOrder),
        "GetInvoicesChangedSince": (book.invoices, Invoice),
        "GetPaymentsChangedSince": (book.payments, Payment),
        "GetDeliveriesChangedSince": (book.deliveries, Delivery),
        "GetItemsChangedSince": (book.items, Item),
        "GetStockChangedSince": (book.stock, Stock),
        "GetProductionOrdersChangedSince": (book.production, ProductionOrder),
    }

    def creating(operation: str, request: type[_Model], create: Callable[[dict[str, Any]], str]) -> Any:
        """A create operation: ``(Order) -> OrderNo``, with the faults the tests inject."""

        def method(ctx, Order):  # the ERP's parameter name
            if on_call is not None:
                on_call(operation)
            if faults.take(("soap_fault",), operation):
                raise Fault("Server.Internal", "Interner Fehler: Nummernkreis gesperrt")
            try:
                number = create(_plain(Order))
            except Rejected as error:
                raise Fault("Client.Validation", str(error)) from None
            slow = faults.take(("slow_after_create",), operation)
            if slow:  # the order exists, but the answer comes too late for the caller
                time.sleep(slow.get("seconds", 5))
            return CreateResult(OrderNo=number)

        method.__name__ = method.__qualname__ = operation
        return rpc(request, _returns=CreateResult, _operation_name=operation)(method)

    def looking_up(operation: str, model: type[_Model], find: Callable[[str], dict[str, Any] | None]) -> Any:
        """A look-up by the caller's reference: ``(ExternalRef) -> model | nothing``."""

        def method(ctx, ExternalRef):
            if on_call is not None:
                on_call(operation)
            found = find(ExternalRef or "")
            return None if found is None else _build(model, found)

        method.__name__ = method.__qualname__ = operation
        return rpc(Unicode, _returns=model, _operation_name=operation)(method)

    operations = {name: listed(name, entity, model) for name, (entity, model) in listings.items()}
    operations.update(
        CreateSalesOrder=creating("CreateSalesOrder", NewSalesOrder, book.create_sales_order),
        GetSalesOrderByExternalRef=looking_up(
            "GetSalesOrderByExternalRef", SalesOrder, book.order_by_external_ref
        ),
        CreatePlannedOrder=creating("CreatePlannedOrder", NewPlannedOrder, book.create_planned_order),
        GetPlannedOrderByExternalRef=looking_up(
            "GetPlannedOrderByExternalRef", ProductionOrder, book.planned_order_by_external_ref
        ),
    )
    service = type(ServiceBase)("LegacyErp", (ServiceBase,), operations)  # spyne's metaclass reads them
    return Application(
        [service],
        tns=NAMESPACE,
        name="LegacyErp",
        in_protocol=Soap11(validator="lxml"),
        out_protocol=Soap11(),
    )


def _build(model: type[_Model], record: dict[str, Any]) -> Any:
    values = dict(record)
    lines = values.pop("Lines", None)
    built = model(**values)
    if lines is not None:
        built.Lines = [Line(**line) for line in lines["Line"]]
    return built


def _plain(value: Any) -> Any:
    """A spyne request object as dicts and lists (what the book works with)."""
    if value is None or isinstance(value, str | int):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return {name: _plain(getattr(value, name, None)) for name in type(value)._type_info}
