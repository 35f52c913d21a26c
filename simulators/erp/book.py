"""The simulated ERP's books: debtors, sales documents, open items, deliveries, items, production.

Everything is kept the way a 1990s ERP keeps it, because those are the habits the adapter has
to survive: codes instead of words (order status ``B``, country ``D``), local time without a
zone, amounts as strings with a decimal comma, blanks instead of nulls. Records are versioned
by a change time with one-second resolution, so many records share a time, as in the real thing.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hub.mapping.transforms import comma_text

__all__ = [
    "COUNTRY_CODES",
    "LOCAL_FORMAT",
    "ErpBook",
    "Rejected",
    "local",
    "uncomma",
]

LOCAL_FORMAT = "%d.%m.%Y %H:%M:%S"  # Europe/Berlin wall-clock time, no zone: the ERP knows no other
COUNTRY_CODES = {"DE": "D", "AT": "A", "CH": "CH", "NL": "NL", "FR": "F", "IT": "I", "US": "USA", "GB": "GB"}
ORDER_STATUS = {"open": "A", "in_progress": "B", "delivered": "L", "invoiced": "F", "cancelled": "S"}


class Rejected(Exception):
    """A business rule of the ERP refused a request (becomes a ``Client`` SOAP fault)."""


def local(moment: datetime) -> str:
    return moment.strftime(LOCAL_FORMAT)


def uncomma(text: str) -> Decimal:
    return Decimal(text.replace(".", "").replace(",", "."))


@dataclass
class Entity:
    """One kind of record with change times and a stable order for "changed since" paging."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed: dict[str, datetime] = field(default_factory=dict)
    _ordered: list[tuple[datetime, str]] | None = None  # (change time, key), sorted on demand

    def put(self, key: str, record: dict[str, Any], at: datetime) -> None:
        record["ChangedAt"] = local(at)
        self.records[key] = record
        self.changed[key] = at.replace(microsecond=0)
        self._ordered = None

    def since(self, since: datetime, page: int, size: int) -> list[dict[str, Any]]:
        """Records changed at or after ``since`` (inclusive, as the ERP's report does), by change time."""
        if self._ordered is None:
            self._ordered = sorted((t, k) for k, t in self.changed.items())
        start = bisect.bisect_left(self._ordered, (since, "")) + (page - 1) * size
        return [dict(self.records[k]) for _, k in self._ordered[start : start + size]]


class ErpBook:
    """The ERP's data, safe to use from the SOAP server's threads."""

    def __init__(self, clock: datetime) -> None:
        self.lock = threading.RLock()
        self.clock = clock.replace(microsecond=0)
        self.debtors = Entity()
        self.orders = Entity()
        self.invoices = Entity()
        self.payments = Entity()
        self.deliveries = Entity()
        self.items = Entity()
        self.stock = Entity()
        self.production = Entity()
        self.by_external_ref: dict[str, str] = {}
        self.planned_by_external_ref: dict[str, str] = {}
        self.next_number = {"debtor": 10000, "order": 100000, "invoice": 500000, "payment": 700000}
        self.next_number.update({"delivery": 800000, "production": 900000})
        self.create_calls = 0

    def tick(self, seconds: int = 1) -> datetime:
        """Advance the ERP's clock (local time); every change happens at the current tick."""
        self.clock += timedelta(seconds=seconds)
        return self.clock

    def number(self, kind: str, prefix: str) -> str:
        self.next_number[kind] += 1
        return f"{prefix}{self.next_number[kind]}"

    # -- master data ---------------------------------------------------------------------------

    def add_debtor(
        self,
        name: str,
        *,
        number: str | None = None,
        name2: str = "",
        street: str = "",
        postcode: str = "",
        city: str = "",
        country: str = "DE",
        phone: str = "",
        email: str = "",
        vat_id: str = "",
    ) -> str:
        with self.lock:
            number = number or self.number("debtor", "D")
            record = {
                "Number": number,
                "Name1": name,
                "Name2": name2,
                "Street": street,
                "PostCode": postcode,
                "City": city,
                "Country": COUNTRY_CODES.get(country, country),
                "Phone": phone,
                "Email": email,
                "VatId": vat_id,
                "Blocked": "",
            }
            self.debtors.put(number, record, self.clock)
            return number

    def change_debtor(self, number: str, **fields: str) -> None:
        with self.lock:
            record = dict(self.debtors.records[number])
            record.update(fields)
            self.debtors.put(number, record, self.tick())

    def add_item(
        self, number: str, description: str, *, lead_time_days: int, lot_size: int, moq: int
    ) -> None:
        with self.lock:
            record = {
                "ItemNo": number,
                "Description": description,
                "LeadTimeDays": str(lead_time_days),
                "LotSize": str(lot_size),
                "MinOrderQty": str(moq),
                "Unit": "ST",
            }
            self.items.put(number, record, self.clock)

    def set_stock(self, item: str, location: str, on_hand: int, allocated: int = 0) -> None:
        with self.lock:
            record = {
                "ItemNo": item,
                "Location": location,
                "OnHand": comma_text(on_hand),
                "Allocated": comma_text(allocated),
            }
            self.stock.put(f"{item}/{location}", record, self.clock)

    def add_production_order(
        self, item: str, quantity: Decimal | int, due: datetime, status: str = "G", external_ref: str = ""
    ) -> str:
        with self.lock:
            number = self.number("production", "FA")
            record = {
                "Number": number,
                "ItemNo": item,
                "Quantity": comma_text(quantity),
                "DueDate": due.strftime("%d.%m.%Y"),
                "Status": status,  # G geplant, F freigegeben, B beendet
                "ExternalRef": external_ref,
            }
            self.production.put(number, record, self.clock)
            if external_ref:
                self.planned_by_external_ref[external_ref] = number
            return number

    def create_planned_order(self, request: dict[str, Any]) -> str:
        """``CreatePlannedOrder``: a planned production order (status G) for a known item."""
        with self.lock:
            external_ref = self._new_external_ref(request, self.planned_by_external_ref)
            item = request.get("ItemNo") or ""
            if item not in self.items.records:
                raise Rejected(f"Artikel {item} unbekannt (unknown item)")
            quantity = uncomma(request.get("Quantity") or "0")
            if quantity <= 0:
                raise Rejected(f"Menge {request.get('Quantity')!r} ungueltig (invalid quantity)")
            try:
                due = datetime.strptime(request.get("DueDate") or "", "%d.%m.%Y")
            except ValueError:
                raise Rejected(f"Termin {request.get('DueDate')!r} ungueltig (invalid due date)") from None
            self.tick()
            return self.add_production_order(item, quantity, due, "G", external_ref)

    def planned_order_by_external_ref(self, external_ref: str) -> dict[str, Any] | None:
        with self.lock:
            number = self.planned_by_external_ref.get(external_ref)
            return None if number is None else dict(self.production.records[number])

    # -- sales ---------------------------------------------------------------------------------

    def add_order(
        self,
        debtor: str,
        lines: list[tuple[str, str, Decimal, Decimal]],
        *,
        currency: str = "EUR",
        external_ref: str = "",
        number: str | None = None,
    ) -> str:
        """Enter a sales order (lines: item, description, quantity, unit price)."""
        with self.lock:
            number = number or self.number("order", "SO")
            total = sum((q * p for _, _, q, p in lines), Decimal(0))
            record = {
                "Number": number,
                "DebtorNo": debtor,
                "ExternalRef": external_ref,
                "OrderDate": local(self.clock),
                "Currency": currency,
                "Total": comma_text(total),
                "Status": ORDER_STATUS["open"],
                "Lines": {
                    "Line": [
                        {"ItemNo": i, "Description": d, "Quantity": comma_text(q), "UnitPrice": comma_text(p)}
                        for i, d, q, p in lines
                    ]
                },
            }
            self.orders.put(number, record, self.clock)
            if external_ref:
                self.by_external_ref[external_ref] = number
            return number

    def _new_external_ref(self, request: dict[str, Any], known: dict[str, str]) -> str:
        """Every create call counts; the caller's reference is required and must be new."""
        self.create_calls += 1
        external_ref = request.get("ExternalRef") or ""
        if not external_ref:
            raise Rejected("ExternalRef fehlt (external reference is required)")
        if external_ref in known:
            raise Rejected(f"ExternalRef {external_ref} existiert bereits als {known[external_ref]}")
        return external_ref

    def create_sales_order(self, request: dict[str, Any]) -> str:
        """``CreateSalesOrder``: validate like the ERP does, then enter the order."""
        with self.lock:
            external_ref = self._new_external_ref(request, self.by_external_ref)
            if request.get("Currency") not in ("EUR", "CHF"):
                raise Rejected(f"Waehrung {request.get('Currency')} nicht erlaubt (currency not allowed)")
            lines = []
            for line in request.get("Lines") or []:
                item = line.get("ItemNo") or ""
                if item not in self.items.records:
                    raise Rejected(f"Artikel {item} unbekannt (unknown item)")
                description = self.items.records[item]["Description"]
                lines.append((item, description, uncomma(line["Quantity"]), uncomma(line["UnitPrice"])))
            if not lines:
                raise Rejected("Auftrag ohne Positionen (order has no lines)")
            debtor = request.get("DebtorNo") or ""
            if debtor not in self.debtors.records:
                debtor = self.add_debtor(
                    request.get("CustomerName") or "Webshop-Kunde", email=request.get("Email") or ""
                )
            self.tick()
            return self.add_order(debtor, lines, currency=request["Currency"], external_ref=external_ref)

    def order_by_external_ref(self, external_ref: str) -> dict[str, Any] | None:
        with self.lock:
            number = self.by_external_ref.get(external_ref)
            return None if number is None else dict(self.orders.records[number])

    def set_order_status(self, number: str, status: str) -> None:
        with self.lock:
            record = dict(self.orders.records[number])
            record["Status"] = ORDER_STATUS[status]
            self.orders.put(number, record, self.tick())

    def invoice(self, order_no: str) -> str:
        """Invoice the whole order: an open item over its total."""
        with self.lock:
            order = self.orders.records[order_no]
            number = self.number("invoice", "RE")
            record = {
                "InvoiceNo": number,
                "OrderNo": order_no,
                "DebtorNo": order["DebtorNo"],
                "Amount": order["Total"],
                "OpenAmount": order["Total"],
                "Currency": order["Currency"],
                "DueDate": (self.clock + timedelta(days=14)).strftime("%d.%m.%Y"),
            }
            self.invoices.put(number, record, self.tick())
            return number

    def pay(self, invoice_no: str, amount: Decimal) -> str:
        """Post an incoming payment against an invoice (partial payments leave an open amount)."""
        with self.lock:
            invoice = dict(self.invoices.records[invoice_no])
            open_amount = uncomma(invoice["OpenAmount"]) - amount
            invoice["OpenAmount"] = comma_text(max(open_amount, Decimal(0)))
            at = self.tick()
            self.invoices.put(invoice_no, invoice, at)
            number = self.number("payment", "ZA")
            record = {
                "EntryNo": number,
                "DocumentType": "Z",  # Zahlung
                "InvoiceNo": invoice_no,
                "OrderNo": invoice["OrderNo"],
                "Amount": comma_text(amount),
                "Currency": invoice["Currency"],
                "PostingDate": local(at),
                "Cleared": "X" if open_amount <= 0 else "",
            }
            self.payments.put(number, record, at)
            return number

    def deliver(self, order_no: str, status: str, *, carrier: str = "DHL", number: str | None = None) -> str:
        """Create or advance a delivery of the whole order: K picked, V shipped, Z delivered."""
        with self.lock:
            order = self.orders.records[order_no]
            number = number or self.number("delivery", "LS")
            record = {
                "DeliveryNo": number,
                "OrderNo": order_no,
                "Carrier": carrier,
                "TrackingNo": f"00340434{number[2:]}",
                "Status": status,
                "ShippedAt": local(self.clock),
                "Lines": {
                    "Line": [
                        {"ItemNo": line["ItemNo"], "Quantity": line["Quantity"]}
                        for line in order["Lines"]["Line"]
                    ]
                },
            }
            self.deliveries.put(number, record, self.tick())
            if status == "Z":
                self.set_order_status(order_no, "delivered")
            return number
