"""A data subject's request to be erased, in the log: who asked, why, which records it covered
and what was erased. It outlives the erasure it records (it holds references, not the person's
data), so an auditor can show that and when a person was erased, and on whose request.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate

__all__ = ["ErasureRequest"]


class ErasureRequest(Aggregate):
    class Requested(Aggregate.Created):
        class_version = 1
        customer: str | None  # the customer the identity graph held the records in, if asked by it
        records: list[str]  # SYSTEM:REF of every source record to erase
        requested_by: str
        reason: str

    class Completed(Aggregate.Event):
        class_version = 1
        erased: dict[str, Any]  # per record: keys destroyed, raw messages, dead letters, profiles

        def apply(self, aggregate: ErasureRequest) -> None:
            aggregate.erased = self.erased

    def __init__(self, customer: str | None, records: list[str], requested_by: str, reason: str) -> None:
        self.customer, self.records = customer, records
        self.requested_by, self.reason = requested_by, reason
        self.erased: dict[str, Any] | None = None

    @classmethod
    def request(
        cls, *, customer: str | None, records: list[str], requested_by: str, reason: str
    ) -> ErasureRequest:
        if not records:
            raise ValueError("an erasure covers at least one record")
        if not requested_by.strip():
            raise ValueError("an erasure names who asked for it")
        return cls._create(
            cls.Requested,
            customer=customer,
            records=sorted(records),
            requested_by=requested_by,
            reason=reason,
        )

    def complete(self, erased: dict[str, Any]) -> None:
        self.trigger_event(self.Completed, erased=erased)
