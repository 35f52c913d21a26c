"""Snapshot times as aggregates keep them: text comparable as text (one zone, one precision)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["utc_stamp"]


def utc_stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="microseconds")
