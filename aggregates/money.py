"""How close to the total counts as paid in full: rounding slack per currency and payment row.

Sources split a total into instalments or vouchers and round each row to the currency's minor
unit, so a correctly paid order can come out short by up to half a minor unit per row. The
default tolerance is exactly that; an operator can set another figure per currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache

__all__ = ["MINOR_UNIT_DIGITS", "PaymentTolerance", "minor_unit"]

# ISO 4217 currencies whose minor unit is not 1/100 (all others in circulation have two digits).
MINOR_UNIT_DIGITS: Mapping[str, int] = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}


@cache
def minor_unit(currency: str) -> Decimal:
    """The smallest amount the currency is written in (0.01 for EUR, 1 for JPY)."""
    return Decimal(1).scaleb(-MINOR_UNIT_DIGITS.get(currency, 2))


@dataclass(frozen=True)
class PaymentTolerance:
    """``per_row``: currency -> the shortfall each payment row may leave (default: half a minor unit)."""

    per_row: Mapping[str, Decimal] = field(default_factory=dict)

    def allowed(self, currency: str, rows: int) -> Decimal:
        """The shortfall that still counts as paid in full, for ``rows`` payment rows."""
        per_row = self.per_row.get(currency)
        if per_row is None:
            per_row = _half_minor_unit(currency)
        return per_row if rows <= 1 else per_row * rows


@cache
def _half_minor_unit(currency: str) -> Decimal:
    return minor_unit(currency) / 2
