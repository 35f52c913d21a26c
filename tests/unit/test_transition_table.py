"""The transition table of docs/CLI.md is what the fold does: for every stage and every kind of fact, the
stage that follows and the anomaly raised. The table is computed here from the real rules and must
stand in docs/CLI.md as it is (run this file with python to print it)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from aggregates import STAGES, OrderProgress
from aggregates.order_facts import Fact, content_fact
from projections import Thresholds, anomalies
from tests.conftest import ROOT

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LINES = [
    {"sku": "A", "description": "", "quantity": "2", "unit_price": "10.00"},
    {"sku": "B", "description": "", "quantity": "1", "unit_price": "10.00"},
]
NEVER = Thresholds(timedelta(days=9999), timedelta(days=9999), timedelta(days=9999))  # no clock


def _pay(status: str, amount: str, ref: str = "p1", currency: str | None = None) -> Callable[[int], Fact]:
    return lambda h: Fact(
        "payment", T0 + timedelta(hours=h), status, ref, {"amount": amount, "currency": currency}
    )


def _ship(status: str, lines: dict[str, str] | None = None, ref: str = "s1") -> Callable[[int], Fact]:
    return lambda h: Fact("shipment", T0 + timedelta(hours=h), status, ref, {"lines": lines or {}})


def _once(kind: str) -> Callable[[int], Fact]:
    return lambda h: Fact(kind, T0 + timedelta(hours=h))


def _amend(h: int) -> Fact:
    lines = [*LINES, {"sku": "C", "description": "", "quantity": "1", "unit_price": "10.00"}]
    return content_fact(
        at=T0 + timedelta(hours=h),
        currency="EUR",
        total_amount=Decimal("40.00"),
        lines=lines,
        placed_at=T0,
        requested_date=None,
    )


# How an order reaches each stage (facts after the placement).
REACH: dict[str, list[Callable[[int], Fact]]] = {
    "placed": [],
    "partially_paid": [_pay("captured", "10.00")],
    "paid": [_pay("captured", "30.00")],
    "partially_shipped": [_pay("captured", "30.00"), _ship("handed_over", {"A": "2"})],
    "shipped": [_pay("captured", "30.00"), _ship("handed_over")],
    "delivered": [_pay("captured", "30.00"), _ship("handed_over"), _ship("delivered")],
    "confirmed": [_pay("captured", "30.00"), _ship("handed_over"), _ship("delivered"), _once("confirmation")],
    "cancelled": [_once("cancellation")],
    "returned": [_pay("captured", "30.00"), _ship("handed_over"), _ship("returned")],
}

# Each kind of fact, as it arrives after the ones above (a new payment, a new parcel).
FACTS: dict[str, Callable[[int], Fact]] = {
    "payment authorised": _pay("authorised", "30.00", "p9"),
    "payment of part": _pay("captured", "10.00", "p9"),
    "payment of the rest": _pay("captured", "30.00", "p9"),
    "payment failed": _pay("failed", "30.00", "p9"),
    "payment in another currency": _pay("captured", "30.00", "p9", "USD"),
    "refund of 30.00": _pay("refunded", "30.00", "p9"),
    "parcel packed": _ship("packed", ref="s9"),
    "hand-over of part": _ship("handed_over", {"B": "1"}, "s9"),
    "hand-over of everything": _ship("handed_over", ref="s9"),
    "delivery of everything": _ship("delivered", ref="s9"),
    "delivery failed": _ship("failed", ref="s1"),
    "goods returned": _ship("returned", ref="s9"),
    "confirmation": _once("confirmation"),
    "cancellation": _once("cancellation"),
    "amendment (a line more)": _amend,
}


def _progress(facts: list[Callable[[int], Fact]]) -> OrderProgress:
    progress = OrderProgress()
    progress.record(
        content_fact(
            at=T0,
            currency="EUR",
            total_amount=Decimal("30.00"),
            lines=LINES,
            placed_at=T0,
            requested_date=None,
        )
    )
    for hour, fact in enumerate(facts, start=1):
        progress.record(fact(hour))
    return progress


def _codes(progress: OrderProgress) -> set[str]:
    return {a.code for a in anomalies(progress, NEVER, T0 + timedelta(days=1))}


def transition_table() -> str:
    rows = ["| fact \\ stage | " + " | ".join(f"`{s}`" for s in STAGES) + " |"]
    rows.append("| --- |" + " --- |" * len(STAGES))
    for name, fact in FACTS.items():
        cells = []
        for stage in STAGES:
            before = _progress(REACH[stage])
            assert before.stage == stage, (stage, before.stage)
            after = _progress([*REACH[stage], fact])
            raised = sorted(_codes(after) - _codes(before))
            cell = after.stage if after.stage != stage else "="
            cells.append(" ".join([cell, *(f"`{code}`" for code in raised)]))
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def test_the_readme_shows_the_transition_table_the_rules_give() -> None:
    documented = (ROOT / "docs" / "CLI.md").read_text(encoding="utf-8")
    assert transition_table() in documented, "docs/CLI.md transition table is stale:\n" + transition_table()


if __name__ == "__main__":
    print(transition_table())
