"""Order tracking read model: per order its stage, milestones, money, shipments and anomalies.

The projection feeds each stored ``Order`` event to the event's own ``apply`` method on a
``TrackedOrder`` (which has the same ``progress`` as the aggregate), so the tracking view follows
exactly the domain's rules, by event time. Anomalies are derived when the view is read: the ones
of stuck orders depend on the clock, the ones of facts that break expectations on the facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from aggregates import Order, OrderProgress, PaymentTolerance
from aggregates.order import fact_of
from projections.order_anomalies import Thresholds, anomalies

__all__ = ["TrackedOrder", "apply_event", "concerns", "public_view"]


@dataclass
class TrackedOrder:
    order_id: str
    system: str
    order_ref: str
    channel: str
    customer_ref: str | None
    aliases: list[dict[str, str]]
    progress: OrderProgress
    updated_at: str
    sources: list[str] = field(default_factory=list)
    references: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def requested_date(self) -> str | None:
        return self.progress.requested_date

    def to_document(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "system": self.system,
            "order_ref": self.order_ref,
            "channel": self.channel,
            "customer_ref": self.customer_ref,
            "aliases": self.aliases,
            "progress": self.progress.to_dict(),
            "updated_at": self.updated_at,
            "sources": self.sources,
            "references": self.references,
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any], tolerance: PaymentTolerance | None = None) -> TrackedOrder:
        return cls(
            order_id=doc["order_id"],
            system=doc["system"],
            order_ref=doc["order_ref"],
            channel=doc["channel"],
            customer_ref=doc["customer_ref"],
            aliases=doc["aliases"],
            progress=OrderProgress.from_dict(doc["progress"], tolerance),
            updated_at=doc["updated_at"],
            sources=doc.get("sources", []),
            references=doc.get("references", {}),
        )


def concerns(event: Any) -> bool:
    """Whether an event changes order tracking (events of other aggregates do not)."""
    return isinstance(event, (Order.Placed, Order.Event))


def apply_event(
    current: TrackedOrder | None, event: Any, tolerance: PaymentTolerance | None = None
) -> TrackedOrder | None:
    """Advance one order's tracking by one stored event (other aggregates' events are ignored)."""
    if isinstance(event, Order.Placed):
        progress = OrderProgress(tolerance)
        progress.record(fact_of(event))
        current = TrackedOrder(
            order_id=str(event.originator_id),
            system=event.system,
            order_ref=event.order_ref,
            channel=event.channel,
            customer_ref=event.customer_ref,
            aliases=[{"system": event.system, "ref": event.order_ref}, *event.aliases],
            progress=progress,
            updated_at=event.timestamp.isoformat(),
        )
    elif isinstance(event, Order.Event) and current is not None:
        event.apply(current)  # type: ignore[arg-type]
        current.updated_at = event.timestamp.isoformat()
    else:
        return current
    provenance = event.provenance
    source = f"{provenance['system']}:{provenance['message_id']}"
    if source not in current.sources:
        current.sources.append(source)
    return current


def public_view(
    doc: dict[str, Any], thresholds: Thresholds, now: datetime, tolerance: PaymentTolerance | None = None
) -> dict[str, Any]:
    """The stable JSON shape of one order (the CLI's and the HTTP API's contract)."""
    tracked = TrackedOrder.from_document(doc, tolerance)
    progress = tracked.progress

    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "order_ref": tracked.order_ref,
        "order_id": str(UUID(tracked.order_id)),
        "system": tracked.system,
        "channel": tracked.channel,
        "customer_ref": tracked.customer_ref,
        "stage": progress.stage,
        "currency": progress.currency,
        "total_amount": str(progress.total_amount),
        "paid_amount": str(progress.paid_amount),
        "refunded_amount": str(progress.refunded_amount),
        "placed_at": iso(progress.placed_at),
        "requested_date": tracked.requested_date,
        "paid_at": iso(progress.paid_at),
        "shipped_at": iso(progress.shipped_at),
        "delivered_at": iso(progress.delivered_at),
        "confirmed_at": iso(progress.confirmed_at),
        "cancelled_at": iso(progress.cancelled_at),
        "returned_at": iso(progress.returned_at),
        "amended_at": iso(progress.amended_at),
        # Sorted by key everywhere: the stored document sorts its keys, and a view replayed from
        # the log (audit as-of) must be the same, item for item.
        "lines": [{"sku": sku, "quantity": str(q)} for sku, q in sorted(progress.ordered.items())],
        "payments": [
            {
                "payment_id": pid,
                "status": p["status"],
                "amount": p["refunded"] if p["status"] == "refunded" else p["captured"],
                "currency": p.get("currency") or progress.currency,
                "method": p.get("method"),
                "instalments": p.get("instalments"),
                "occurred_at": p["updated_at"],
            }
            for pid, p in sorted(progress.payments.items())
        ],
        "shipments": [
            {
                "shipment_id": sid,
                "carrier": s.get("carrier"),
                "tracking_number": s.get("tracking_number"),
                "status": s["status"],
                "lines": [{"sku": sku, "quantity": q} for sku, q in sorted(s["lines"].items())],
                "updated_at": s.get("updated_at"),
            }
            for sid, s in sorted(progress.shipments.items())
        ],
        "aliases": tracked.aliases,
        "references": [{"system": system, **ref} for system, ref in sorted(tracked.references.items())],
        "anomalies": [
            {"code": a.code, "message": a.message, "since": a.since}
            for a in anomalies(progress, thresholds, now)
        ],
        "sources": tracked.sources,
        "updated_at": tracked.updated_at,
    }
