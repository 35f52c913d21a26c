"""The golden record's survivorship rules and the value/risk definitions, on hand-made cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from hub.settings import HubSettings
from projections.customer_value import (
    SourceRecord,
    Thresholds,
    golden_record,
    lifecycle,
    pareto_class,
    rfm,
    value,
)

RECORDS = [
    SourceRecord(
        "erp:1", "erp", {"family_name": "Anna Rossi", "emails": ["a@erp.de"], "tax_id": ""}, "2026-01-01"
    ),
    SourceRecord("shop:1", "shop", {"family_name": "Rossi", "emails": ["a@shop.de"]}, "2026-03-01"),
    SourceRecord("crm:1", "crm", {"family_name": "Rossi", "emails": [], "tax_id": "DE123"}, "2026-02-01"),
]


def test_each_rule_picks_its_value_and_keeps_the_source() -> None:
    golden = golden_record(
        RECORDS,
        {
            "family_name": {"rule": "most_frequent"},
            "emails": {"rule": "most_recent"},
            "tax_id": {"rule": "never_blank"},
        },
    )
    assert golden["family_name"]["value"] == "Rossi" and golden["family_name"]["rule"] == "most_frequent"
    assert (golden["emails"]["value"], golden["emails"]["system"]) == (
        ["a@shop.de"],
        "shop",
    )  # blanks never win
    assert (golden["tax_id"]["value"], golden["tax_id"]["record"]) == ("DE123", "crm:1")
    priority = golden_record(
        RECORDS, {"family_name": {"rule": "source_priority", "systems": ["erp", "shop"]}}
    )
    assert priority["family_name"]["value"] == "Anna Rossi"
    longest = golden_record(RECORDS, {"family_name": {"rule": "most_complete"}})
    assert longest["family_name"]["system"] == "erp"
    with pytest.raises(ValueError, match="unknown survivorship rule 'loudest'"):
        golden_record(RECORDS, {"family_name": {"rule": "loudest"}})


def test_survivorship_is_configuration_and_checked() -> None:
    settings = HubSettings(
        customers={"survivorship": {"emails": {"rule": "source_priority", "systems": ["crm"]}}}
    )
    assert settings.customers.rules() == {"emails": {"rule": "source_priority", "systems": ["crm"]}}
    with pytest.raises(ValueError, match=r"survivorship\.emails\.rule"):
        HubSettings(customers={"survivorship": {"emails": {"rule": "loudest"}}})
    assert HubSettings().customers.rules()["given_name"]["systems"][0] == "crm"  # the default


NOW = datetime(2026, 11, 23, tzinfo=UTC)


def order(
    days_ago: float, total: str, *, stage: str = "delivered", paid: str | None = None, **extra: Any
) -> dict[str, Any]:
    placed = NOW - timedelta(days=days_ago)
    return {
        "stage": stage,
        "placed_at": placed.isoformat(),
        "total_amount": total,
        "refunded_amount": "0",
        "paid_amount": paid if paid is not None else total,
        "shipped_at": (placed + timedelta(days=1)).isoformat(),
        "channel": "web",
        **extra,
    }


def test_value_lifecycle_and_credit() -> None:
    regular = [order(d, "100.00") for d in (200, 170, 140, 110, 80)]  # every 30 days, last 80 days ago
    metrics = value(regular, NOW)
    assert (metrics["revenue"], metrics["orders"], metrics["average_order_value"]) == ("500.00", 5, "100.00")
    assert metrics["usual_interval_days"] == 30.0 and lifecycle(metrics) == "at_risk"  # 80 > 2 x 30
    assert lifecycle(value([*regular, order(10, "50.00")], NOW)) == "loyal"
    assert lifecycle(value([order(20, "10.00")], NOW)) == "new"
    assert lifecycle(value([order(400, "10.00")], NOW)) == "lost"
    assert lifecycle(value([], NOW)) == "prospect"
    owing = value(
        [order(60, "80.00", paid="0"), order(5, "20.00", paid="0"), order(3, "9.00", stage="cancelled")], NOW
    )
    assert (owing["open_receivables"], owing["overdue_receivables"], owing["credit_flags"]) == (
        "100.00",
        "80.00",
        ["overdue"],
    )


def test_pareto_and_rfm_over_the_population() -> None:
    # Ten customers: one makes 80 % of the revenue.
    rows = [(5.0, 10, 800.0)] + [(float(30 * i), 1, 200.0 / 9) for i in range(1, 10)]
    cuts = Thresholds.of(rows)
    assert pareto_class(D(800), cuts) == "A"
    assert pareto_class(D("22.22"), cuts) in ("B", "C") and pareto_class(D(0), cuts) is None
    best = rfm({"orders": 10, "days_since_last_order": 5.0, "revenue": "800"}, cuts)
    assert best is not None and best["score"] == "555" and best["segment"] == "champions"
    assert rfm({"orders": 0}, cuts) is None
