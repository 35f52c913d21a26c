"""Event time decides state: any arrival order of one order's facts gives the same order view.

Hypothesis draws fact sets for one order — placement and amendments, payments (partial, full,
short by rounding, in another currency, refunded, failed), several shipments through hand-over,
transit, delivery, failure and return, confirmations, cancellations, exact re-sends — and one
arrival order of them. Facts that arrive before the order is known wait (as the processor parks
them) and are driven once it is placed. The view after all have arrived must equal the view of
the same facts delivered in time order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregates import Order
from projections import Thresholds, apply_event, public_view

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=400)
THRESHOLDS = Thresholds(timedelta(hours=48), timedelta(hours=24), timedelta(days=7))
PROVENANCE = {"system": "shop", "message_id": "m", "received_at": T0.isoformat(), "mapping": "t@1"}
SKUS = ("A", "B", "C")
PAYMENT_STATUSES = ("authorised", "captured", "received", "refunded", "failed")
SHIPMENT_STATUSES = (
    "packed",
    "handed_over",
    "in_transit",
    "out_for_delivery",
    "attempt_failed",
    "delivered",
    "failed",
    "returned",
)

# Few distinct instants, so that many facts share one and the business step breaks the tie.
times = st.integers(0, 12).map(lambda hours: T0 + timedelta(hours=6 * hours))
contents = st.dictionaries(st.sampled_from(SKUS), st.integers(1, 3), max_size=3)


@st.composite
def fact_sets(draw: st.DrawFn) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    """An order's content versions and shipments, and its facts (re-sends included)."""
    versions = draw(st.lists(contents, min_size=1, max_size=3, unique_by=lambda c: tuple(sorted(c.items()))))
    facts: list[tuple[Any, ...]] = [("content", i, draw(times)) for i in range(len(versions))]
    for p in range(draw(st.integers(0, 3))):
        currency = draw(st.sampled_from([None, None, "EUR", "USD"]))
        instalments = draw(st.sampled_from([None, 1, 4]))
        for status in draw(st.lists(st.sampled_from(PAYMENT_STATUSES), min_size=1, max_size=3)):
            amount = draw(st.sampled_from(["10.00", "19.99", "20.00", "29.98", "40.00", "60.00"]))
            facts.append(("payment", f"p{p}", status, amount, currency, instalments, draw(times)))
    shipments = {}
    for s in range(draw(st.integers(0, 3))):
        shipments[f"s{s}"] = {
            "lines": draw(st.dictionaries(st.sampled_from((*SKUS, "Z")), st.integers(1, 3), max_size=2)),
            "carrier": draw(st.sampled_from([None, "DHL"])),
        }
        for status in draw(st.lists(st.sampled_from(SHIPMENT_STATUSES), min_size=1, max_size=4)):
            facts.append(("shipment", f"s{s}", status, draw(st.booleans()), draw(st.booleans()), draw(times)))
    facts += [("confirmation", draw(times)) for _ in range(draw(st.integers(0, 2)))]
    facts += [("cancellation", draw(times)) for _ in range(draw(st.integers(0, 2)))]
    facts += draw(st.lists(st.sampled_from(facts), max_size=3))  # exact re-sends
    return {"versions": versions, "shipments": shipments}, facts


def _lines(version: dict[str, int]) -> tuple[list[dict[str, str]], Decimal]:
    lines = [
        {"sku": sku, "description": "", "quantity": str(q), "unit_price": "10.00"}
        for sku, q in sorted(version.items())
    ]
    return lines, sum((Decimal(10) * q for q in version.values()), Decimal(0))


def _time(fact: tuple[Any, ...]) -> datetime:
    return fact[-1]


def _drive(order: Order, spec: dict[str, Any], fact: tuple[Any, ...]) -> None:
    kind, at = fact[0], _time(fact)
    if kind == "content":
        lines, total = _lines(spec["versions"][fact[1]])
        order.amend(
            currency="EUR",
            total_amount=total,
            lines=lines,
            placed_at=T0,
            requested_date=None,
            amended_at=at,
            provenance=PROVENANCE,
        )
    elif kind == "payment":
        _, payment_id, status, amount, currency, instalments, _ = fact
        order.record_payment(
            payment_id=payment_id,
            status=status,
            amount=Decimal(amount),
            currency=currency,
            occurred_at=at,
            provenance=PROVENANCE,
            instalments=instalments,
        )
    elif kind == "shipment":
        _, shipment_id, status, with_lines, with_carrier, _ = fact
        shipment = spec["shipments"][shipment_id]
        order.record_shipment(
            shipment_id=shipment_id,
            status=status,
            carrier=shipment["carrier"] if with_carrier else None,
            tracking_number=None,
            lines={sku: str(q) for sku, q in shipment["lines"].items()} if with_lines else {},
            occurred_at=at,
            provenance=PROVENANCE,
        )
    elif kind == "confirmation":
        order.confirm_delivery(confirmed_at=at, rating=None, comment=None, provenance=PROVENANCE)
    else:
        order.cancel(cancelled_at=at, reason=None, provenance=PROVENANCE)


def deliver(spec: dict[str, Any], arrivals: list[tuple[Any, ...]]) -> dict[str, Any]:
    """The order view after ``arrivals``; facts before the placement wait for it, in arrival order."""
    order: Order | None = None
    waiting: list[tuple[Any, ...]] = []
    events: list[Any] = []
    for fact in arrivals:
        if order is None and fact[0] != "content":
            waiting.append(fact)
            continue
        if order is None:
            lines, total = _lines(spec["versions"][fact[1]])
            order = Order.place(
                system="shop",
                order_ref="1001",
                channel="web",
                customer_ref=None,
                currency="EUR",
                total_amount=total,
                lines=lines,
                placed_at=T0,
                updated_at=_time(fact),
                aliases=[],
                provenance=PROVENANCE,
            )
            for parked in waiting:
                _drive(order, spec, parked)
            waiting = []
        else:
            _drive(order, spec, fact)
        events += order.collect_events()
    assert order is not None
    tracked = None
    for event in events:
        tracked = apply_event(tracked, event)
    assert tracked is not None
    view = public_view(tracked.to_document(), THRESHOLDS, NOW)
    assert view["stage"] == order.progress.stage  # the aggregate folds the same facts the same way
    del view["sources"], view["updated_at"]  # which messages, and when recorded: arrival, by nature
    return view


def in_time_order(facts: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(facts, key=_time)


@settings(max_examples=10_000, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(fact_sets().flatmap(lambda drawn: st.tuples(st.just(drawn), st.permutations(drawn[1]))))
def test_every_arrival_order_gives_the_view_of_time_order(
    drawn: tuple[tuple[dict[str, Any], list[tuple[Any, ...]]], list[tuple[Any, ...]]],
) -> None:
    (spec, facts), arrival = drawn
    assert deliver(spec, arrival) == deliver(spec, in_time_order(facts))


def test_the_reported_reordering_ends_delivered() -> None:
    """The reported case: placed, paid, delivered, then the earlier hand-over arrives last."""
    spec = {"versions": [{"A": 3}], "shipments": {"s1": {"lines": {}, "carrier": None}}}
    delivered, handed_over = T0 + timedelta(days=62), T0 + timedelta(days=34)
    view = deliver(
        spec,
        [
            ("content", 0, T0),
            ("payment", "p1", "captured", "30.00", None, None, T0),
            ("shipment", "s1", "delivered", False, False, delivered),
            ("shipment", "s1", "handed_over", False, False, handed_over),
        ],
    )
    assert view["stage"] == "delivered"
    assert view["shipments"][0]["status"] == "delivered"
    assert (view["shipped_at"], view["delivered_at"]) == (handed_over.isoformat(), delivered.isoformat())
    assert [a["code"] for a in view["anomalies"]] == ["delivered_unconfirmed"]
