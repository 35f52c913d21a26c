"""The simulated CRM's data: accounts, contacts, tasks (calls, e-mails, visits) and cases, the
way Salesforce keeps them — 18-character ids, ``SystemModstamp`` on every change, UTC times."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from itertools import count
from typing import Any

__all__ = ["OBJECTS", "CrmBook", "salesforce_id"]

OBJECTS = {"Account": "001", "Contact": "003", "Task": "00T", "Case": "500"}
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id(prefix: str, serial: int) -> str:
    """A case-safe 18-character id: 15 characters and the three-character checksum Salesforce
    appends (one bit per upper-case letter in each block of five)."""
    base = f"{prefix}5g000{serial:07d}"[:15]
    suffix = ""
    for block in range(3):
        bits = sum(1 << i for i, c in enumerate(base[block * 5 : block * 5 + 5]) if c.isupper())
        suffix += _SUFFIX[bits]
    return base + suffix


class CrmBook:
    """Records per object type; every write stamps ``SystemModstamp`` (now, or the time given)."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in OBJECTS}
        self._serial = count(1)
        self._case_numbers = count(1001)
        self._lock = threading.Lock()

    def add(self, kind: str, fields: dict[str, Any], at: datetime | None = None) -> str:
        stamp = _second(at)
        with self._lock:
            record_id = salesforce_id(OBJECTS[kind], next(self._serial))
            record = {"Id": record_id, "CreatedDate": stamp, **fields}
            if kind == "Case":
                record.setdefault("CaseNumber", f"{next(self._case_numbers):08d}")
            record.update(LastModifiedDate=stamp, SystemModstamp=stamp)
            self.objects[kind][record_id] = record
        return record_id

    def change(self, kind: str, record_id: str, at: datetime | None = None, **fields: Any) -> None:
        stamp = _second(at)
        with self._lock:
            self.objects[kind][record_id].update(fields, LastModifiedDate=stamp, SystemModstamp=stamp)

    def get(self, kind: str, record_id: str) -> dict[str, Any]:
        return dict(self.objects[kind][record_id])

    def records(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self.objects[kind].values()]


def _second(at: datetime | None) -> datetime:
    return (at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
