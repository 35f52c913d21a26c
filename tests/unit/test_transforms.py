"""Named transforms: each converts what real sources send, and names the value it cannot."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from hub.mapping.transforms import TRANSFORMS, SourceContext, TransformError

BERLIN = SourceContext(timezone="Europe/Berlin", phone_region="DE")


def apply(name: str, value: object, arg: str | None = None, tables: dict | None = None) -> object:
    return TRANSFORMS[name](value, arg, BERLIN, tables or {})


def test_decimal_reads_plain_and_legacy_comma_amounts() -> None:
    assert apply("decimal", "409.94") == Decimal("409.94")
    assert apply("decimal", "1.234,56", "comma") == Decimal("1234.56")
    assert apply("decimal", 3) == Decimal(3)


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", "", True])
def test_decimal_refuses_what_is_not_a_finite_number(value: object) -> None:
    with pytest.raises(TransformError):
        apply("decimal", value)


def test_local_time_without_offset_is_read_in_the_source_zone() -> None:
    converted = apply("datetime", "2026-07-01 12:00:00")
    assert converted.astimezone(UTC) == datetime(2026, 7, 1, 10, 0, tzinfo=UTC)  # CEST = UTC+2


def test_time_with_offset_keeps_its_offset() -> None:
    converted = apply("datetime", "2008-01-10T11:00:00-05:00")
    assert converted.astimezone(UTC) == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)


def test_datetime_with_a_legacy_format() -> None:
    converted = apply("datetime", "31.12.2025 23:30", "%d.%m.%Y %H:%M")
    assert converted.astimezone(UTC) == datetime(2025, 12, 31, 22, 30, tzinfo=UTC)


def test_phone_numbers_become_e164_in_the_sources_region() -> None:
    assert apply("phone", "030 1234567") == "+49301234567"
    assert apply("phone", "555-625-1199", "US") == "+15556251199"
    with pytest.raises(TransformError, match="not a"):
        apply("phone", "call me maybe")


def test_lookup_translates_codes_and_names_unknown_ones() -> None:
    tables = {"status": {"B": "captured", "O": "authorised"}}
    assert apply("lookup", "B", "status", tables) == "captured"
    with pytest.raises(TransformError, match="'X' is not in lookup table 'status'"):
        apply("lookup", "X", "status", tables)


def test_sum_is_exact_where_floats_are_not() -> None:
    assert apply("sum", ["0.10", "0.20"]) == Decimal("0.30")
    assert apply("abs", "-19.35") == Decimal("19.35")
