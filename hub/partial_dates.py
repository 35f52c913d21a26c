"""Dates known only in part: a birth year, a year and month. Kept as ISO text of the known parts.

A source that knows only the year of a birth must not be read as the first of January: a matcher
would then take two people born in one year for two people born on one day.
"""

from __future__ import annotations

import re
from datetime import date

__all__ = ["partial_date"]

_PARTIAL = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def partial_date(text: str) -> str:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (``00`` = unknown) as the ISO text of the known
    parts; raises ``ValueError`` naming the value when it is no such date."""
    match = _PARTIAL.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD)")
    year, month, day = match.groups()
    if month in (None, "00"):
        if day not in (None, "00"):
            raise ValueError(f"{text!r} has a day but no month")
        return year
    if not 1 <= int(month) <= 12:
        raise ValueError(f"{text!r} has no month {month}")
    if day in (None, "00"):
        return f"{year}-{month}"
    try:
        return date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        raise ValueError(f"{text!r} is not a day of the calendar") from None
