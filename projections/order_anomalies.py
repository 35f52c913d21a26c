"""What looks wrong with an order: facts that break expectations, and orders stuck between stages.

The hub records every fact a source sends, also an impossible one; this is where it is named.
Fact anomalies follow from the facts alone; stuck-order anomalies also from the clock and the
``[tracking]`` thresholds, and only while the order is still open (not cancelled or returned).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from aggregates import OrderProgress

__all__ = ["ANOMALIES", "Anomaly", "Thresholds", "anomalies"]

# Every code the view can raise, with what it means (the README's table says the same).
ANOMALIES = {
    "no_lines": "the source recorded the order without any line",
    "payment_currency": "a payment in another currency than the order's (not counted as paid)",
    "refund_exceeds_paid": "more was refunded than was paid",
    "shipment_not_ordered": "a shipment carries goods the order does not contain",
    "confirmed_before_delivery": "the customer confirmed before any delivery (stage waits for it)",
    "amended_unpaid": "an amendment raised the total above what was paid",
    "amended_unshipped": "an amendment added goods after everything had been shipped",
    "cancelled_after_shipment": "cancelled after goods had left: a return is expected",
    "shipped_after_cancellation": "goods left after the order was cancelled",
    "paid_not_shipped": "paid, and nothing shipped within the threshold",
    "shipped_not_paid": "shipped, and not paid in full within the threshold",
    "delivered_unconfirmed": "delivered, and not confirmed within the threshold",
}


@dataclass(frozen=True)
class Thresholds:
    paid_not_shipped: timedelta
    shipped_not_paid: timedelta
    delivered_unconfirmed: timedelta


@dataclass(frozen=True)
class Anomaly:
    code: str
    message: str
    since: str


def anomalies(progress: OrderProgress, thresholds: Thresholds, now: datetime) -> list[Anomaly]:
    """Every anomaly of the order at ``now``: fact anomalies first, then stuck-order ones."""
    found = _fact_anomalies(progress)
    if progress.cancelled_at is None and progress.returned_at is None:
        found += _stuck(progress, thresholds, now)
    return found


def _fact_anomalies(progress: OrderProgress) -> list[Anomaly]:
    found = []
    placed = progress.placed_at.isoformat() if progress.placed_at else ""
    if not progress.ordered:
        found.append(Anomaly("no_lines", "the order was recorded without any line", placed))
    for payment_id, payment in sorted(progress.payments.items()):
        currency = payment.get("currency", progress.currency)
        if currency != progress.currency:
            found.append(
                Anomaly(
                    "payment_currency",
                    f"payment {payment_id} is in {currency}, the order in {progress.currency} "
                    "(not counted as paid)",
                    payment["updated_at"],
                )
            )
    if progress.refunded_amount > progress.paid_amount:
        last_refund = max(p["updated_at"] for p in progress.payments.values() if Decimal(p["refunded"]) > 0)
        found.append(
            Anomaly(
                "refund_exceeds_paid",
                f"{progress.refunded_amount} {progress.currency} refunded but only "
                f"{progress.paid_amount} paid",
                last_refund,
            )
        )
    for shipment_id, shipment in sorted(progress.shipments.items()):
        extra = sorted(set(shipment["lines"]) - set(progress.ordered))
        if extra:
            found.append(
                Anomaly(
                    "shipment_not_ordered",
                    f"shipment {shipment_id} carries {', '.join(extra)}, which the order does not contain",
                    shipment["updated_at"],
                )
            )
    confirmed, delivered = progress.confirmed_at, progress.delivered_at
    if confirmed is not None and delivered is None:
        found.append(
            Anomaly(
                "confirmed_before_delivery",
                "the customer confirmed, but no delivery is recorded",
                confirmed.isoformat(),
            )
        )
    found += _cancellation_anomalies(progress)
    if progress.cancelled_at is None and progress.returned_at is None:
        found += _amendment_anomalies(progress)
    return found


def _amendment_anomalies(progress: OrderProgress) -> list[Anomaly]:
    """An amendment after payment or shipment leaves money or goods open that the stage hides."""
    amended = progress.amended_at
    if amended is None:
        return []
    found = []
    if progress.paid_at is not None and not progress.fully_paid:
        found.append(
            Anomaly(
                "amended_unpaid",
                f"amended after payment: {progress.paid_amount} of {progress.total_amount} "
                f"{progress.currency} paid",
                amended.isoformat(),
            )
        )
    if progress.shipped_at is not None and not progress.fully_shipped:
        shipped = progress.shipped_quantities()
        open_skus = sorted(sku for sku, q in progress.ordered.items() if shipped.get(sku, 0) < q)
        found.append(
            Anomaly(
                "amended_unshipped",
                f"amended after shipping: {', '.join(open_skus)} not shipped",
                amended.isoformat(),
            )
        )
    return found


def _cancellation_anomalies(progress: OrderProgress) -> list[Anomaly]:
    cancelled = progress.cancelled_at
    if cancelled is None or progress.returned_at is not None:
        return []
    left = sorted(
        (datetime.fromisoformat(s["left_at"]), shipment_id)
        for shipment_id, s in progress.shipments.items()
        if "left_at" in s
    )
    before = [(at, sid) for at, sid in left if at <= cancelled]
    after = [(at, sid) for at, sid in left if at > cancelled]
    found = []
    if before:
        at, sid = before[0]
        found.append(
            Anomaly(
                "cancelled_after_shipment",
                f"cancelled after shipment {sid} left on {at.isoformat()}: a return is expected",
                cancelled.isoformat(),
            )
        )
    if after:
        at, sid = after[0]
        found.append(
            Anomaly(
                "shipped_after_cancellation",
                f"shipment {sid} left on {at.isoformat()}, after the order was cancelled",
                at.isoformat(),
            )
        )
    return found


def _stuck(progress: OrderProgress, thresholds: Thresholds, now: datetime) -> list[Anomaly]:
    found = []
    if (
        progress.paid_at is not None
        and not progress.any_shipped
        and now - progress.paid_at > thresholds.paid_not_shipped
    ):
        found.append(Anomaly("paid_not_shipped", "paid but nothing shipped", progress.paid_at.isoformat()))
    first_left = progress.first_left_at
    if first_left is not None and not progress.fully_paid and now - first_left > thresholds.shipped_not_paid:
        found.append(
            Anomaly(
                "shipped_not_paid",
                f"shipped but only {progress.paid_amount} of {progress.total_amount} "
                f"{progress.currency} paid",
                first_left.isoformat(),
            )
        )
    if (
        progress.delivered_at is not None
        and progress.confirmed_at is None
        and now - progress.delivered_at > thresholds.delivered_unconfirmed
    ):
        found.append(
            Anomaly(
                "delivered_unconfirmed",
                "delivered but the customer has not confirmed",
                progress.delivered_at.isoformat(),
            )
        )
    return found
