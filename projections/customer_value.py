"""One customer's golden record and value, from their source records and orders. Pure.

Definitions (README, "The single customer view"):

* **golden record**: per attribute, the value the configured survivorship rule picks among the
  source records — ``source_priority`` (the first system in the list that has a value),
  ``most_recent`` (the record updated last), ``most_frequent`` (the value most records agree on,
  ties to the most recent), ``most_complete`` (the longest value: the most lines, the fullest
  name) or ``never_blank`` (any value at all, the most recent first); blank values never survive.
  Each value keeps its source: system, record, rule.
* **revenue**: the order totals of orders not cancelled, less refunds; **orders**: their number;
  **average order value**: revenue ÷ orders; **first/last order**: placement times;
* **usual interval**: the median number of days between consecutive orders;
* **lifecycle**: *prospect* (no order), *new* (one order, within the last 90 days), *active*
  (ordered within the last 180 days, or within twice the usual interval), *loyal* (active with
  at least 4 orders), *at risk* (the time since the last order exceeds twice the usual interval
  — or 180 days for a one-time buyer — but not 365 days), *lost* (over 365 days);
* **RFM**: recency, frequency and monetary value each scored 1-5 by the quintiles of all
  customers with orders (5 = the most recent / most frequent / highest); the segment is named
  from them (champions, loyal, promising, at risk, hibernating, …);
* **Pareto class**: A for the customers who together make the first 80 % of all revenue (the
  biggest first), B for the next 15 %, C for the last 5 %;
* **channel mix**: orders per channel (web, phone, edi, …) and their share;
* **credit flags**: open receivables (shipped but not fully paid), and ``overdue`` when a
  shipment is older than the payment terms (30 days) and still not paid.
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

__all__ = [
    "RULES",
    "SourceRecord",
    "Thresholds",
    "display_name",
    "golden_record",
    "lifecycle",
    "pareto_class",
    "rfm",
    "value",
]

RULES = ("source_priority", "most_recent", "most_frequent", "most_complete", "never_blank")


@dataclass(frozen=True)
class SourceRecord:
    record: str  # "system:ref"
    system: str
    fields: Mapping[str, Any]
    updated: str  # ISO time the source last changed it (or the hub recorded it)


def _blank(value: Any) -> bool:
    return value in (None, "", [], {}, "[erased]")


def _size(value: Any) -> int:
    if isinstance(value, list):
        return sum(_size(v) for v in value) + len(value)
    if isinstance(value, dict):
        return sum(_size(v) for v in value.values())
    return len(str(value))


def golden_record(
    records: Sequence[SourceRecord], rules: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``rules``: attribute → {"rule": name, "systems": [...] for source_priority}."""
    golden: dict[str, dict[str, Any]] = {}
    newest_first = sorted(records, key=lambda r: (r.updated, r.record), reverse=True)
    for attribute, spec in rules.items():
        rule = spec.get("rule", "most_recent")
        candidates = [r for r in newest_first if not _blank(r.fields.get(attribute))]
        if not candidates:
            continue
        if rule == "source_priority":
            order = list(spec.get("systems") or [])
            candidates.sort(key=lambda r: order.index(r.system) if r.system in order else len(order))
        elif rule == "most_frequent":
            counts = Counter(repr(r.fields[attribute]) for r in candidates)
            candidates.sort(key=lambda r: -counts[repr(r.fields[attribute])])
        elif rule == "most_complete":
            candidates.sort(key=lambda r: -_size(r.fields[attribute]))
        elif rule not in ("most_recent", "never_blank"):
            raise ValueError(f"unknown survivorship rule {rule!r} for {attribute}: {', '.join(RULES)}")
        chosen = candidates[0]
        golden[attribute] = {
            "value": chosen.fields[attribute],
            "system": chosen.system,
            "record": chosen.record,
            "rule": rule,
            "updated": chosen.updated,
        }
    return golden


def display_name(golden: Mapping[str, Mapping[str, Any]]) -> str:
    """The golden record's name as people read it: "given family", or the firm's name."""
    parts = [golden[a]["value"] for a in ("given_name", "family_name", "organisation_name") if a in golden]
    return " ".join(str(p) for p in parts)


def value(orders: Sequence[Mapping[str, Any]], now: datetime, payment_days: int = 30) -> dict[str, Any]:
    """Money and timing from the customer's orders (order-tracking JSON)."""
    kept = [o for o in orders if o["stage"] != "cancelled"]
    placed = sorted(datetime.fromisoformat(o["placed_at"]) for o in kept)
    revenue = sum((Decimal(o["total_amount"]) - Decimal(o["refunded_amount"]) for o in kept), Decimal(0))
    gaps = [(b - a).total_seconds() / 86400 for a, b in itertools.pairwise(placed)]
    channels = Counter(o["channel"] for o in kept)
    owed = [(o, Decimal(o["total_amount"]) - Decimal(o["paid_amount"])) for o in kept if o["shipped_at"]]
    receivable = sum((amount for _, amount in owed if amount > 0), Decimal(0))
    overdue = sum(
        (
            amount
            for o, amount in owed
            if amount > 0 and now - datetime.fromisoformat(o["shipped_at"]) > timedelta(days=payment_days)
        ),
        Decimal(0),
    )
    return {
        "revenue": str(revenue),
        "orders": len(kept),
        "average_order_value": str((revenue / len(kept)).quantize(Decimal("0.01"))) if kept else None,
        "first_order_at": placed[0].isoformat() if placed else None,
        "last_order_at": placed[-1].isoformat() if placed else None,
        "days_since_last_order": round((now - placed[-1]).total_seconds() / 86400, 1) if placed else None,
        "usual_interval_days": round(statistics.median(gaps), 1) if gaps else None,
        "channels": {
            channel: {"orders": n, "share": round(n / len(kept), 3)} for channel, n in channels.most_common()
        },
        "open_receivables": str(receivable),
        "overdue_receivables": str(overdue),
        "credit_flags": ["overdue"] if overdue > 0 else [],
    }


def lifecycle(metrics: Mapping[str, Any]) -> str:
    if not metrics["orders"]:
        return "prospect"
    since = metrics["days_since_last_order"]
    if since > 365:
        return "lost"
    interval = metrics["usual_interval_days"]
    if metrics["orders"] == 1:
        return "new" if since <= 90 else ("at_risk" if since > 180 else "active")
    if since > max(2 * interval, 30):
        return "at_risk"
    return "loyal" if metrics["orders"] >= 4 else "active"


@dataclass(frozen=True)
class Thresholds:
    """Quintile cut-offs over all customers with orders, and the Pareto revenue cut-offs."""

    recency_days: list[float]  # ascending: fewer days = more recent
    frequency: list[float]
    monetary: list[float]
    pareto_a: float  # revenue at or above: class A
    pareto_b: float
    customers: int

    @classmethod
    def of(cls, rows: Sequence[tuple[float, int, float]]) -> Thresholds:
        """``rows``: (days since last order, orders, revenue) per customer with orders."""

        def cuts(values: list[float]) -> list[float]:
            values = sorted(values)
            return (
                [values[min(len(values) - 1, int(len(values) * q / 5))] for q in range(1, 5)]
                if values
                else []
            )

        revenues = sorted((r[2] for r in rows), reverse=True)
        total, running, a, b = sum(revenues), 0.0, float("inf"), float("inf")
        for revenue in revenues:  # the smallest revenue still inside the first 80 % / 95 %
            if running < 0.8 * total:
                a = revenue
            if running < 0.95 * total:
                b = revenue
            running += revenue
        return cls(
            cuts([r[0] for r in rows]),
            cuts([float(r[1]) for r in rows]),
            cuts([r[2] for r in rows]),
            a,
            b,
            len(rows),
        )


def _score(value: float, cuts: list[float], higher_is_better: bool = True) -> int:
    if not cuts:
        return 3
    rank = bisect.bisect_right(cuts, value)  # 0..4
    return rank + 1 if higher_is_better else 5 - rank


_SEGMENTS = [  # (R at least, F at least, segment), first match wins
    (4, 4, "champions"),
    (3, 4, "loyal"),
    (4, 1, "promising"),
    (3, 2, "needs_attention"),
    (1, 4, "at_risk"),
    (1, 1, "hibernating"),
]


def rfm(metrics: Mapping[str, Any], thresholds: Thresholds) -> dict[str, Any] | None:
    if not metrics["orders"]:
        return None
    r = _score(metrics["days_since_last_order"], thresholds.recency_days, higher_is_better=False)
    f = _score(float(metrics["orders"]), thresholds.frequency)
    m = _score(float(metrics["revenue"]), thresholds.monetary)
    segment = next(name for min_r, min_f, name in _SEGMENTS if r >= min_r and f >= min_f)
    return {"recency": r, "frequency": f, "monetary": m, "score": f"{r}{f}{m}", "segment": segment}


def pareto_class(revenue: Decimal, thresholds: Thresholds) -> str | None:
    if revenue <= 0:
        return None
    if revenue >= Decimal(str(thresholds.pareto_a)):
        return "A"
    return "B" if revenue >= Decimal(str(thresholds.pareto_b)) else "C"
