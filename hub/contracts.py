"""Canonical contracts: the validated shapes that mappings produce and aggregates consume.

Every source system is translated into these models before anything touches the domain, so the
aggregates never see a vendor's field names. Money is ``Decimal`` with an ISO 4217 currency and
every time is timezone-aware UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

from hub.partial_dates import partial_date

__all__ = [
    "CONTRACTS",
    "Address",
    "Alias",
    "CustomerRecord",
    "DeliveryConfirmation",
    "GoodsReceipt",
    "Interaction",
    "OrderCancelled",
    "OrderLine",
    "OrderPlaced",
    "OrderReference",
    "PaymentUpdate",
    "ServiceCase",
    "ShipmentLine",
    "ShipmentUpdate",
    "StockCount",
]

# ISO 4217 codes actually in circulation; a mapping that emits anything else is a mapping bug or a
# corrupt message, and either way it must not reach the log.
_CURRENCIES = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "UYU",
        "UZS",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWL",
    ]
)


@dataclass(frozen=True)
class Plausibility:
    """Bounds beyond which a value is a parsing accident (cents read as units, a concatenated
    field, a date typed as 9999-12-31) or an attack, not business data: the message is
    dead-lettered naming the field, and can be replayed once the source or the bounds are fixed.
    ``[limits]`` in hub.toml sets them; mappings validate with them in the context."""

    max_text: int = 2000  # characters of one text value (a name, a line, a note)
    max_quantity: Decimal = Decimal("1000000")  # units on one line, in stock, on one supply order
    max_amount: Decimal = Decimal("1000000000")  # money in one figure
    earliest: datetime = datetime(1900, 1, 1, tzinfo=UTC)  # no event or date before this
    event_ahead: timedelta = timedelta(days=2)  # an event time this far past the hub's clock at most
    date_ahead: timedelta = timedelta(days=3660)  # a due or requested date this far ahead at most


PLAUSIBLE = Plausibility()
# C0 controls but tab, line feed and carriage return, and DEL: never part of a name or a note
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plausibility(info: ValidationInfo) -> Plausibility:
    """The bounds a validation runs with: the mapping's (``context={"plausibility": ...}``) or
    the defaults."""
    context = info.context
    found = context.get("plausibility") if isinstance(context, dict) else None
    return found if isinstance(found, Plausibility) else PLAUSIBLE


def text_problem(text: str, limits: Plausibility) -> str | None:
    """Why a text value is no name, line or note: too long, or holding a control character."""
    if len(text) > limits.max_text:
        return (
            f"text of {len(text):,} characters ({text[:20]!r}…); at most {limits.max_text:,} "
            "([limits] max_text_length)"
        )
    control = CONTROL_CHARACTERS.search(text)
    if control is not None:
        return (
            f"holds the control character U+{ord(control.group()):04X} at position {control.start()} "
            f"of {text[:40]!r}"
        )
    return None


def _utc(value: datetime, info: ValidationInfo) -> datetime:
    if value.tzinfo is None:
        raise ValueError("time has no zone; mappings must convert with the source's time zone")
    value = value.astimezone(UTC)
    limits = plausibility(info)
    if value < limits.earliest:
        raise ValueError(f"{value.isoformat()} is before {limits.earliest.date()} ([limits] earliest)")
    latest = datetime.now(UTC) + limits.event_ahead
    if value > latest:
        raise ValueError(
            f"{value.isoformat()} is later than the hub's clock allows "
            f"({latest.isoformat(timespec='seconds')}, [limits] event_ahead_hours)"
        )
    return value


def _calendar(value: date, info: ValidationInfo) -> date:
    limits = plausibility(info)
    if value < limits.earliest.date():
        raise ValueError(f"{value} is before {limits.earliest.date()} ([limits] earliest)")
    latest = (datetime.now(UTC) + limits.date_ahead).date()
    if value > latest:
        raise ValueError(f"{value} is after {latest} ([limits] date_ahead_days)")
    return value


def _quantity(value: Decimal, info: ValidationInfo) -> Decimal:
    limits = plausibility(info)
    if not value.is_finite() or abs(value) > limits.max_quantity:
        raise ValueError(
            f"quantity {value} exceeds the plausible {limits.max_quantity} ([limits] max_quantity)"
        )
    return value


def _currency(value: str) -> str:
    code = value.strip().upper()
    if code not in _CURRENCIES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return code


def _amount(value: Decimal, info: ValidationInfo) -> Decimal:
    if not value.is_finite():
        raise ValueError(f"amount {value} is not a finite number")
    if value < 0:
        raise ValueError(f"amount {value} is negative")
    limits = plausibility(info)
    if value > limits.max_amount:
        raise ValueError(
            f"amount {value} exceeds the plausible maximum {limits.max_amount} ([limits] max_amount)"
        )
    return value


def _partial(value: object) -> object:
    if isinstance(value, datetime):
        raise ValueError("expected a date, got a date-time")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return partial_date(value)
    return value


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
# A date known in full or only to the year or month (ISO text of the known parts: 1861, 1861-03).
PartialDate = Annotated[str, BeforeValidator(_partial)]
Currency = Annotated[str, AfterValidator(_currency)]
Amount = Annotated[Decimal, AfterValidator(_amount)]
Ref = Annotated[str, Field(min_length=1, max_length=200)]
CalendarDate = Annotated[date, AfterValidator(_calendar)]
PositiveQuantity = Annotated[Decimal, Field(gt=0), AfterValidator(_quantity)]
Quantity = Annotated[Decimal, Field(ge=0), AfterValidator(_quantity)]


class Contract(BaseModel):
    """Base for canonical records: strict about unknown fields so a mapping typo is caught. (The
    text in a record is checked once, as a whole, by the mapping engine: ``text_problem``.)"""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Alias(Contract):
    system: Ref
    ref: Ref


class Address(Contract):
    lines: list[str] = []
    postcode: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = Field(default=None, min_length=2, max_length=2)


class CustomerRecord(Contract):
    """A person or organisation as one source system knows it (state transfer: diffed)."""

    customer_ref: Ref
    kind: Literal["person", "organisation"] = "person"
    given_name: str | None = None
    family_name: str | None = None
    middle_names: list[str] = []
    full_name: str | None = None  # the name as one string, where a source does not split it
    gender: str | None = None  # as the source writes it; the matcher reads f/female, m/male, ...
    organisation_name: str | None = None
    emails: list[str] = []
    phones: list[str] = []
    addresses: list[Address] = []
    birth_date: PartialDate | None = None  # in full, or only the year (or year and month) known
    tax_id: str | None = None
    marketing_consent: bool | None = None
    # open attributes a matcher may compare (occupation, company, birth place, ...):
    # ``[customers.matching.attributes]`` says which, and how
    attributes: dict[str, str] = Field(default_factory=dict, max_length=50)
    updated_at: UtcDatetime | None = None


class OrderLine(Contract):
    sku: Ref
    description: str | None = None
    quantity: PositiveQuantity
    unit_price: Amount


class OrderPlaced(Contract):
    order_ref: Ref
    channel: Literal["web", "phone", "store", "marketplace", "edi", "erp", "crm"]
    customer_ref: str | None = None
    customer: CustomerRecord | None = None
    currency: Currency
    total_amount: Amount
    lines: list[OrderLine] = []  # none: recorded all the same, and flagged (``no_lines``)
    placed_at: UtcDatetime
    requested_date: CalendarDate | None = None
    aliases: list[Alias] = []
    updated_at: UtcDatetime | None = None  # when the source last changed it; None: as placed


class PaymentUpdate(Contract):
    order_ref: Ref
    order_system: str | None = None  # owner of order_ref when not the sender
    payment_id: Ref
    amount: Amount
    currency: Currency | None = None  # None: in the order's currency (sources that omit it)
    status: Literal["authorised", "captured", "received", "refunded", "failed"]
    method: (
        Literal["card", "voucher", "bank_transfer", "cash_on_delivery", "direct_debit", "wallet", "other"]
        | None
    ) = None
    instalments: int | None = Field(default=None, ge=1, le=1000)  # rows the source rounded separately
    occurred_at: UtcDatetime


class ShipmentLine(Contract):
    sku: Ref
    quantity: PositiveQuantity


class ShipmentUpdate(Contract):
    order_ref: Ref
    order_system: str | None = None  # owner of order_ref when not the sender
    shipment_id: Ref
    carrier: str | None = None
    tracking_number: str | None = None
    status: Literal[
        "packed",
        "handed_over",
        "in_transit",
        "out_for_delivery",
        "attempt_failed",  # a delivery attempt failed; the carrier tries again
        "delivered",
        "failed",
        "returned",
    ]
    lines: list[ShipmentLine] = []
    occurred_at: UtcDatetime


class DeliveryConfirmation(Contract):
    order_ref: Ref
    order_system: str | None = None  # owner of order_ref when not the sender
    confirmed_at: UtcDatetime
    rating: int | None = Field(default=None, ge=1, le=5)
    comment: str | None = None


class OrderCancelled(Contract):
    order_ref: Ref
    order_system: str | None = None  # owner of order_ref when not the sender
    cancelled_at: UtcDatetime
    reason: str | None = None


class OrderReference(Contract):
    """The sender's own number for an order placed elsewhere — or its refusal to take the order.

    An ERP that created a web-shop order answers with its sales-order number; from then on its
    payments and deliveries, which quote only that number, reach the shop's order.
    """

    order_ref: Ref
    order_system: str | None = None  # where the order was placed, when not the sender
    external_ref: str | None = Field(default=None, min_length=1, max_length=200)
    status: Literal["accepted", "rejected"] = "accepted"
    reason: str | None = None
    occurred_at: UtcDatetime

    @model_validator(mode="after")
    def _ref_when_accepted(self) -> OrderReference:
        if self.status == "accepted" and not self.external_ref:
            raise ValueError("an accepted order needs the external_ref the sender gave it")
        if self.status == "rejected" and not self.reason:
            raise ValueError("a rejection needs its reason")
        return self


class StockCount(Contract):
    """What a warehouse counts for an item at a location at a time (a snapshot: newest wins)."""

    sku: Ref
    location: Ref
    on_hand: Quantity
    allocated: Quantity = Decimal(0)
    as_of: UtcDatetime


class GoodsReceipt(Contract):
    """Goods that arrived at a location (a purchase or production order delivered)."""

    receipt_id: Ref
    sku: Ref
    location: Ref
    quantity: PositiveQuantity
    received_at: UtcDatetime
    purchase_order: str | None = None


class ItemMaster(Contract):
    """An item as planning needs it: how long supply takes, in what lots, where it is made."""

    sku: Ref
    description: str | None = None
    lead_time_days: Decimal | None = Field(None, ge=0)  # None: this source does not say
    minimum_order: Quantity = Decimal(0)
    order_multiple: Quantity = Decimal(0)  # lot size; 0: any quantity
    buffer_profile: str | None = None  # a profile of [planning.profiles]; None: not buffered
    work_centre: str | None = None
    capacity_per_day: Quantity | None = None  # units the work centre makes of it in a day
    unit: str | None = None
    updated_at: UtcDatetime | None = None


class SupplyOrder(Contract):
    """A production or purchase order bringing an item in: open supply until completed."""

    order_ref: Ref
    kind: Literal["production", "purchase"]
    sku: Ref
    quantity: PositiveQuantity
    due_date: CalendarDate
    status: Literal["planned", "released", "completed", "cancelled"]
    work_centre: str | None = None
    updated_at: UtcDatetime | None = None


class Interaction(Contract):
    """One contact between the company and a customer: a call, an e-mail, a visit, a chat.

    Whoever the customer is in the sending system (a CRM contact, a call-centre caller) is named by
    ``customer_ref``; a source that knows the caller only by number embeds the ``customer`` record
    it has, so identity resolution can join the caller to the customer behind the number.
    """

    interaction_id: Ref
    customer_ref: Ref
    customer_system: str | None = None  # owner of customer_ref when not the sender
    customer: CustomerRecord | None = None
    kind: Literal["call", "email", "visit", "chat", "letter", "meeting", "other"]
    direction: Literal["inbound", "outbound"] | None = None
    channel: Literal["phone", "email", "web", "store", "field", "social", "mail"]
    agent: str | None = None
    occurred_at: UtcDatetime
    duration_seconds: int | None = Field(default=None, ge=0)
    outcome: str | None = None
    subject: str | None = None
    case_ref: str | None = None
    order_ref: str | None = None
    updated_at: UtcDatetime | None = None


class ServiceCase(Contract):
    """A service case as the CRM holds it now (state transfer): each snapshot's differences become
    the case's history — opened, updated, escalated, resolved, reopened."""

    case_ref: Ref
    customer_ref: Ref
    customer_system: str | None = None  # owner of customer_ref when not the sender
    number: str | None = None  # the number agents quote
    kind: Literal["complaint", "question", "problem", "request", "return", "other"] = "other"
    status: Literal["new", "open", "on_hold", "escalated", "resolved", "closed"]
    escalated: bool = False
    priority: Literal["low", "medium", "high", "critical"] | None = None
    channel: Literal["phone", "email", "web", "store", "field", "social", "mail"] | None = None
    subject: str | None = None
    agent: str | None = None
    order_ref: str | None = None
    opened_at: UtcDatetime
    resolved_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


CONTRACTS: dict[str, type[Contract]] = {
    model.__name__: model
    for model in (
        CustomerRecord,
        OrderPlaced,
        PaymentUpdate,
        ShipmentUpdate,
        DeliveryConfirmation,
        OrderCancelled,
        OrderReference,
        StockCount,
        GoodsReceipt,
        ItemMaster,
        SupplyOrder,
        Interaction,
        ServiceCase,
    )
}
