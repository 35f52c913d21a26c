"""The fixed set of named transforms a mapping may apply to a value taken from a payload.

Kept deliberately small and closed: a mapping is data, not code, and every transform here has a
precise failure message that names the offending value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

from hub.contracts import PLAUSIBLE, Plausibility
from hub.partial_dates import partial_date

__all__ = [
    "LIST_TRANSFORMS",
    "TRANSFORMS",
    "SourceContext",
    "TransformError",
    "comma_text",
    "parse_transform",
]


class TransformError(ValueError):
    """A value that a transform cannot convert; the message says why."""


@dataclass(frozen=True)
class SourceContext:
    """What transforms need to know about the sending system."""

    timezone: str = "UTC"
    phone_region: str = "US"
    plausibility: Plausibility = PLAUSIBLE  # the bounds the contract checks values against

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def validation(self) -> dict[str, Any]:
        """The context a contract is validated in (``hub.contracts.plausibility`` reads it)."""
        return {"plausibility": self.plausibility}


Transform = Callable[[Any, str | None, SourceContext, Mapping[str, Mapping[str, Any]]], Any]


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise TransformError(f"expected a scalar, got {type(value).__name__}")
    return str(value)


def _strip(value: Any, _arg: str | None, _ctx: SourceContext, _tables: Any) -> Any:
    """Text without the spaces around it."""
    return _text(value).strip()


def _lower(value: Any, _arg: str | None, _ctx: SourceContext, _tables: Any) -> Any:
    """Trimmed text in lower case (codes compared across systems)."""
    return _text(value).strip().lower()


def _upper(value: Any, _arg: str | None, _ctx: SourceContext, _tables: Any) -> Any:
    """Trimmed text in upper case (SKUs, country codes)."""
    return _text(value).strip().upper()


def _str(value: Any, _arg: str | None, _ctx: SourceContext, _tables: Any) -> Any:
    """Any value as text; a whole number read as a float (`1001.0`) as `1001`."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _text(value)


def _blank_to_null(value: Any, _arg: str | None, _ctx: SourceContext, _tables: Any) -> Any:
    """An empty or blank text as no value (legacy systems send `""` for "not set")."""
    return None if isinstance(value, str) and not value.strip() else value


def _before(value: Any, arg: str | None, _ctx: SourceContext, _tables: Any) -> Any:
    """``before:SEP``: the text before the first separator (``shopify:1001`` -> ``shopify``)."""
    head, found, _ = _text(value).partition(arg or ":")
    if not found:
        raise TransformError(f"{value!r} has no separator {arg or ':'!r}")
    return head


def _after(value: Any, arg: str | None, _ctx: SourceContext, _tables: Any) -> Any:
    """``after:SEP``: the text after the first separator (``shopify:1001`` -> ``1001``)."""
    _, found, tail = _text(value).partition(arg or ":")
    if not found:
        raise TransformError(f"{value!r} has no separator {arg or ':'!r}")
    return tail


def comma_text(amount: Any) -> str:
    """``1234.5`` -> ``"1.234,50"``: what ``decimal:comma`` reads, for writing to such systems."""
    text = f"{Decimal(str(amount)):,.2f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def _decimal(value: Any, arg: str | None, _ctx: SourceContext, _tables: Any) -> Any:
    """Parse a money or quantity value; ``decimal:comma`` reads ``1.234,56`` (legacy ERPs)."""
    if isinstance(value, bool):
        raise TransformError("expected a number, got a boolean")
    text = _text(value).strip()
    if arg == "comma":
        text = text.replace(".", "").replace(" ", "").replace(",", ".")
    elif arg is not None:
        raise TransformError(f"unknown decimal option {arg!r} (use 'decimal' or 'decimal:comma')")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise TransformError(f"{text!r} is not a decimal number") from None
    if not number.is_finite():
        raise TransformError(f"{text!r} is not a finite number")
    return number


def _int(value: Any, _arg: str | None, _ctx: SourceContext, _tables: Any) -> Any:
    """A whole number; `2.0` is 2, `2.5` fails."""
    number = _decimal(value, None, _ctx, _tables)
    if number != number.to_integral_value():
        raise TransformError(f"{value!r} is not a whole number")
    return int(number)


def _datetime(value: Any, arg: str | None, ctx: SourceContext, _tables: Any) -> Any:
    """ISO 8601 by default, or a strptime format (``datetime:%d.%m.%Y %H:%M``).

    A time without an offset is local time of the sending system and is converted from its
    configured zone; a bare date becomes midnight in that zone.
    """
    text = _text(value).strip()
    try:
        parsed = datetime.strptime(text, arg) if arg else datetime.fromisoformat(text)
    except ValueError:
        expected = f"format {arg!r}" if arg else "ISO 8601"
        raise TransformError(f"{text!r} is not a date-time in {expected}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ctx.zone)
    return parsed


def _date(value: Any, arg: str | None, _ctx: SourceContext, _tables: Any) -> Any:
    """A calendar date: ISO 8601 (the date part of a timestamp), or a strptime format (`date:%d.%m.%Y`)."""
    text = _text(value).strip()
    try:
        return datetime.strptime(text, arg).date() if arg else date.fromisoformat(text[:10])
    except ValueError:
        expected = f"format {arg!r}" if arg else "ISO 8601 (YYYY-MM-DD)"
        raise TransformError(f"{text!r} is not a date in {expected}") from None


def _partial_date(value: Any, arg: str | None, ctx: SourceContext, tables: Any) -> Any:
    """A date that may be known only to the year or month: ``1861``, ``1861-03``, ``1861-03-05``
    (``00`` for an unknown month or day, as some exports write it); a full date may also come in a
    strptime format (``partial_date:%d.%m.%Y``). Gives ISO text of the parts known."""
    text = _text(value).strip()
    if arg:
        return _date(text, arg, ctx, tables).isoformat()
    try:
        return partial_date(text)
    except ValueError as error:
        raise TransformError(str(error)) from None


def _phone(value: Any, arg: str | None, ctx: SourceContext, _tables: Any) -> Any:
    """E.164, reading national numbers in the source's region (or ``phone:DE``)."""
    text = _text(value).strip()
    try:
        number = phonenumbers.parse(text, arg or ctx.phone_region)
    except phonenumbers.NumberParseException as error:
        raise TransformError(f"{text!r} is not a phone number: {error}") from None
    if not phonenumbers.is_possible_number(number):
        raise TransformError(f"{text!r} is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _lookup(value: Any, arg: str | None, _ctx: SourceContext, tables: Any) -> Any:
    """`lookup:TABLE`: the value translated through a table of the mapping's `tables` (a
    source's codes to the hub's)."""
    if not arg or arg not in tables:
        raise TransformError(f"lookup table {arg!r} is not defined in the mapping's 'tables'")
    table = tables[arg]
    key = _text(value).strip()
    if key in table:
        return table[key]
    if "*" in table:
        return table["*"]
    raise TransformError(f"{key!r} is not in lookup table {arg!r} ({', '.join(map(str, table))})")


def _sum(value: Any, arg: str | None, ctx: SourceContext, tables: Any) -> Any:
    """Exact decimal sum of a list of amounts (JMESPath's own sum() goes through floats)."""
    items = value if isinstance(value, list) else [value]
    return sum((_decimal(item, arg, ctx, tables) for item in items if item is not None), Decimal(0))


def _abs(value: Any, arg: str | None, ctx: SourceContext, tables: Any) -> Any:
    """Magnitude of an amount, for sources that report refunds as negative totals."""
    return abs(_decimal(value, arg, ctx, tables))


TRANSFORMS: dict[str, Transform] = {
    "strip": _strip,
    "lower": _lower,
    "upper": _upper,
    "str": _str,
    "blank_to_null": _blank_to_null,
    "before": _before,
    "after": _after,
    "decimal": _decimal,
    "int": _int,
    "datetime": _datetime,
    "date": _date,
    "partial_date": _partial_date,
    "phone": _phone,
    "lookup": _lookup,
    "sum": _sum,
    "abs": _abs,
}

# Transforms that take a whole list; every other transform applies to each element of a list.
LIST_TRANSFORMS = frozenset({"sum"})


def parse_transform(spec: str) -> tuple[str, str | None]:
    """Split ``name:argument``; raises ``KeyError`` naming the unknown transform."""
    name, _, arg = spec.partition(":")
    if name not in TRANSFORMS:
        raise KeyError(f"unknown transform {name!r}; known: {', '.join(sorted(TRANSFORMS))}")
    return name, (arg or None)
