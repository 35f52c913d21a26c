"""Where one source customer record belongs: the identity-resolution decisions about it.

One aggregate per source record (system and reference). Every decision that places the record —
the matcher linking it to a customer or starting a new one, unlinking it after a change, a
customer splitting apart, a steward merging or splitting — is an event with its evidence (the
attribute levels and weights, the rule, the model version) and who decided. The identity graph
as of any instant is these events up to it, and any placement can be explained.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate

from aggregates.identity import link_id
from aggregates.provenance import Provenance

__all__ = ["CustomerLink"]


class CustomerLink(Aggregate):
    class Opened(Aggregate.Created):
        """How logs written before ``Placed`` begin: the record alone, its first decision next."""

        class_version = 1
        record: str  # "system:ref"
        provenance: Provenance  # the source message that first brought the record

    class Decided(Aggregate.Event):
        class_version = 1
        record: str  # repeated from Opened, so a reader needs no second event
        kind: str  # new | link | unlink | split | merge | review | confirm | reject
        customer: str | None  # where the record is now
        other: str | None  # the record it was compared with, or the other customer
        score: float | None
        evidence: dict[str, Any]
        model: str | None
        by: str  # matcher | steward name
        provenance: Provenance  # the message whose record was being resolved, or the steward's act

        def apply(self, link: CustomerLink) -> None:
            if self.customer is not None:
                link.customer = self.customer

    class Placed(Decided, Aggregate.Created):
        """The first decision about a record, which also begins its log: one event, not two, for
        every record the hub sees (a reader of decisions takes it as one: it is a ``Decided``)."""

        class_version = 1

    def __init__(self, record: str, provenance: Provenance) -> None:
        self.record = record
        self.customer: str | None = None

    @classmethod
    def place(cls, record: str, **decision: Any) -> CustomerLink:
        """A record's log begun with its first decision (the keyword arguments of ``decide``)."""
        return cls._create(cls.Placed, id=link_id(record), record=record, **decision)

    def decide(
        self,
        *,
        kind: str,
        customer: str | None,
        other: str | None,
        score: float | None,
        evidence: dict[str, Any],
        model: str | None,
        by: str,
        provenance: Provenance,
    ) -> None:
        self.trigger_event(
            self.Decided,
            record=self.record,
            kind=kind,
            customer=customer,
            other=other,
            score=score,
            evidence=evidence,
            model=model,
            by=by,
            provenance=provenance,
        )
