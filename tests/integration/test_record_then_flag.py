"""Record, then flag: facts that break expectations are kept and named; a bad optional field does
not lose its record; messages that wait for their order end as if they had come in time order.
Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregates import customer_id
from hub.bootstrap import Hub
from hub.settings import TrackingThresholds
from tests.conftest import FIXTURES
from tests.shop_messages import envelope, fixture, fulfillment, order, paid

MARKETPLACE = "marketplace"


def placed(ref: str, items: int = 1, at: str = "2018-03-01T10:00:00Z") -> dict[str, Any]:
    rows = [{"product_id": f"P{n}", "price": "10.00", "freight_value": "0"} for n in range(items)]
    return envelope("", {"order_id": ref, "order_purchase_timestamp": at, "items": rows})


def payment(ref: str, seq: int, value: str, at: str, instalments: int = 1) -> dict[str, Any]:
    body = {
        "order_id": ref,
        "payment_sequential": str(seq),
        "payment_type": "credit_card",
        "payment_installments": str(instalments),
        "payment_value": value,
        "order_approved_at": at,
    }
    return envelope("", body)


def handed_over(ref: str, at: str) -> dict[str, Any]:
    return envelope("", {"order_id": ref, "order_delivered_carrier_date": at})


def delivered(ref: str, at: str) -> dict[str, Any]:
    return envelope("", {"order_id": ref, "order_delivered_customer_date": at})


def review(ref: str, at: str, score: str = "5") -> dict[str, Any]:
    return envelope(
        "", {"review_id": f"r-{ref}", "order_id": ref, "review_score": score, "review_creation_date": at}
    )


def anomalies(hub: Hub, ref: str, system: str = MARKETPLACE) -> list[str]:
    shown = hub.orders.show(ref, system)
    assert shown is not None
    return [a["code"] for a in shown["anomalies"]]


def test_expectations_broken_are_recorded_and_named(hub: Hub) -> None:
    hub.receive(
        MARKETPLACE,
        [
            placed("no-items", items=0),
            placed("early-review"),
            payment("early-review", 1, "10.00", "2018-03-01T11:00:00Z"),
            review("early-review", "2018-03-02T00:00:00Z"),
        ],
    )
    hub.receive(
        "shopify",
        [
            order(7001),
            fulfillment(7001, status="success"),
            envelope(
                "orders/cancelled",
                {**order(7001)["body"], "cancelled_at": "2026-01-01T00:00:00Z", "cancel_reason": "customer"},
            ),
        ],
    )
    report = hub.process()
    assert report.dead_lettered == 0
    assert hub.dead_letters.list() == []
    assert anomalies(hub, "no-items") == ["no_lines"]
    early = hub.orders.show("early-review", MARKETPLACE)
    assert early is not None and early["stage"] == "paid"
    assert anomalies(hub, "early-review") == ["confirmed_before_delivery", "paid_not_shipped"]
    cancelled = hub.orders.show("7001", "shopify")
    assert cancelled is not None and cancelled["stage"] == "cancelled"
    assert "cancelled_after_shipment" in anomalies(hub, "7001", "shopify")


def test_a_refund_of_nothing_paid_and_a_parcel_of_unordered_goods_are_recorded(hub: Hub) -> None:
    refund = {**fixture("refund"), "order_id": 7005}
    parcel = fulfillment(7005, status="success")
    parcel["body"]["line_items"][0]["sku"] = "NOT-ORDERED"
    hub.receive("shopify", [order(7005), envelope("refunds/create", refund), parcel])
    report = hub.process()
    assert (report.processed, report.dead_lettered) == (3, 0)
    shown = hub.orders.show("7005", "shopify")
    assert shown is not None and shown["refunded_amount"] == "209.00"
    assert {"refund_exceeds_paid", "shipment_not_ordered"} <= set(anomalies(hub, "7005", "shopify"))


def test_goods_leaving_after_a_cancellation_and_an_amendment_after_payment_are_named(hub: Hub) -> None:
    cancelled = {**order(7006)["body"], "cancelled_at": "2008-01-10T12:00:00Z", "cancel_reason": "customer"}
    late_parcel = fulfillment(7006, status="success", created_at="2026-01-01T00:00:00Z")
    raised = {
        **order(7007, total_price="999.00", updated_at="2026-01-02T00:00:00Z"),
        "message_id": "upd:7007",
    }
    hub.receive(
        "shopify",
        [order(7006), envelope("orders/cancelled", cancelled), late_parcel, order(7007), paid(7007), raised],
    )
    assert hub.process().dead_lettered == 0
    assert "shipped_after_cancellation" in anomalies(hub, "7006", "shopify")
    amended = hub.orders.show("7007", "shopify")
    assert amended is not None and (amended["stage"], amended["total_amount"]) == ("paid", "999.00")
    assert "amended_unpaid" in anomalies(hub, "7007", "shopify")


def test_a_changed_placement_is_an_amendment_with_its_history(hub: Hub) -> None:
    hub.receive("shopify", [order(7002)])
    hub.process()
    changed = order(7002, total_price="99.00", updated_at="2026-01-02T00:00:00Z")
    resent = {**changed, "message_id": "orders/updated:7002:2"}  # the same change, another webhook
    hub.receive("shopify", [{**changed, "message_id": "orders/updated:7002:1"}, resent])
    report = hub.process()
    assert report.dead_lettered == 0
    shown = hub.orders.show("7002", "shopify")
    assert shown is not None
    assert (shown["total_amount"], shown["amended_at"]) == ("99.00", "2026-01-02T00:00:00+00:00")
    events = [e["event"] for e in hub.history.entries(hub.history.resolve("7002", "shopify"))]
    assert events == ["Order.Placed", "Order.Amended"]  # the re-send of the same change adds nothing


def test_rounding_within_the_tolerance_is_paid_in_full(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub()
    hub.receive(
        MARKETPLACE,
        [
            placed("rounded", items=10),  # 100.00
            payment("rounded", 1, "99.97", "2018-03-01T11:00:00Z", instalments=10),
            placed("short", items=10),
            payment("short", 1, "99.97", "2018-03-01T11:00:00Z"),
        ],
    )
    hub.process()
    assert [hub.orders.show(r, MARKETPLACE)["stage"] for r in ("rounded", "short")] == [
        "paid",
        "partially_paid",
    ]
    strict = make_hub(tracking=TrackingThresholds(payment_tolerance={"BRL": Decimal("0.001")}))
    strict.projector.rebuild("order_tracking", verify=False)
    assert strict.orders.show("rounded", MARKETPLACE)["stage"] == "partially_paid"


def _people_mapping(tmp_path: Path) -> Path:
    folder = tmp_path / "people"
    shutil.copytree(FIXTURES / "mappings" / "people", folder)
    mapping = folder / "customer.yaml"
    text = mapping.read_text().replace(
        "  birth_date: birth_date\n",
        "  birth_date: {path: birth_date, transforms: [partial_date], on_error: null}\n",
    )
    mapping.write_text(text)
    return folder


def test_a_bad_birth_date_keeps_the_customer_and_is_noted(
    make_hub: Callable[..., Hub], tmp_path: Path
) -> None:
    hub = make_hub(mapping_folders={"crm": _people_mapping(tmp_path)})
    people = [
        {"ref": "1", "given_name": "Aurel", "family_name": "Stein", "birth_date": "1845-81-08"},
        {"ref": "2", "given_name": "Sarah", "family_name": "Leonard", "birth_date": "1861"},
        {"ref": "3", "given_name": "Fred", "family_name": "Molloy", "birth_date": "1861-03-00"},
    ]
    hub.receive("crm", [{"headers": {}, "body": body} for body in people])
    report = hub.process()
    assert (report.processed, report.dead_lettered) == (3, 0)
    births = {}
    for ref in ("1", "2", "3"):
        (registered, *_) = hub.history.entries(customer_id("crm", ref))
        births[ref] = (registered["data"]["fields"]["birth_date"], [n["field"] for n in registered["notes"]])
    assert births == {"1": (None, ["birth_date"]), "2": ("1861", []), "3": ("1861-03", [])}
    (registered, *_) = hub.history.entries(customer_id("crm", "1"))
    assert registered["notes"][0]["value"] == '"1845-81-08"'
    assert "1845-81-08" in registered["notes"][0]["reason"]
    noted = hub.metrics.field_notes_total.labels("crm", "birth_date")._value.get()
    assert noted == 1


def test_parked_list_names_the_dead_letter_that_holds_the_awaited_order(hub: Hub) -> None:
    hub.receive("shopify", [order(7003, total_price="12,50,00"), fulfillment(7003)])
    hub.process()
    (letter,) = hub.dead_letters.list()
    (waiting,) = hub.parked.listing()
    assert waiting["order_dead_letter"] == letter.id


def test_process_counts_parked_messages_that_expire(make_hub: Callable[..., Hub]) -> None:
    hub = make_hub(tracking=TrackingThresholds(parked_timeout_hours=1e-9))
    hub.receive("shopify", [fulfillment(7004)])
    report = hub.process()
    assert report.dead_lettered == 1
    assert [letter.stage for letter in hub.dead_letters.list()] == ["parking"]


_T0 = datetime(2018, 3, 1, 10, tzinfo=UTC)
_STEPS = st.lists(st.integers(0, 4), min_size=6, max_size=6)  # days after placement of each fact


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(days=_STEPS, arrival=st.permutations(range(6)))
def test_parked_messages_in_any_arrival_order_end_as_in_time_order(
    hub: Hub, days: list[int], arrival: list[int]
) -> None:
    """One hub for every example (the fixture is shared on purpose): each has orders of its own."""
    views = []
    for suffix, order_of_arrival in (("time", sorted(range(6), key=lambda i: days[i])), ("any", arrival)):
        ref = f"{'-'.join(map(str, days))}.{'-'.join(map(str, arrival))}.{suffix}"
        at = [(_T0 + timedelta(days=d, hours=i)).isoformat() for i, d in enumerate(days)]
        facts = [
            placed(ref, items=2, at=at[0]),
            payment(ref, 1, "15.00", at[1]),
            payment(ref, 2, "5.00", at[2]),
            handed_over(ref, at[3]),
            delivered(ref, at[4]),
            review(ref, at[5]),
        ]
        for index in order_of_arrival:  # one message at a time: parked across batches
            hub.receive(MARKETPLACE, [facts[index]])
            hub.process()
        view = hub.orders.show(ref, MARKETPLACE)
        assert view is not None and hub.parked.listing() == []
        for volatile in ("order_id", "sources", "updated_at"):  # ids of its own; when recorded
            del view[volatile]
        views.append(json.loads(json.dumps(view).replace(ref, "REF")))
    assert views[0] == views[1]


def _implausible(number: int, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    message = order(number)
    change(message["body"])
    return message


def test_implausible_values_are_dead_lettered_naming_the_field_and_the_bound(hub: Hub) -> None:
    """What no business sends (an order placed in 9999, 10^30 units, a NUL in a name, a name of
    half a million letters) is recorded in the inbox and dead-lettered with the field and the
    bound it broke, not accepted into the log where it would rule every "latest" comparison."""

    def far_future(body: dict[str, Any]) -> None:
        body["created_at"] = "9999-12-31T00:00:00Z"

    def huge_quantity(body: dict[str, Any]) -> None:
        body["line_items"][0]["quantity"] = 1e30

    def nul_in_name(body: dict[str, Any]) -> None:
        body["customer"]["first_name"] = "Bob\x00by"

    def endless_name(body: dict[str, Any]) -> None:
        body["customer"]["last_name"] = "x" * 500_000

    changes = [far_future, huge_quantity, nul_in_name, endless_name]
    messages = [_implausible(8100 + n, change) for n, change in enumerate(changes)]
    hub.receive("shopify", [*messages, order(8199)])
    report = hub.process()
    assert (report.processed, report.dead_lettered) == (1, 4)
    by_order = {letter.message_id.rsplit(":", 1)[-1]: letter.reason for letter in hub.dead_letters.list()}
    assert "event_ahead_hours" in by_order["8100"] and "9999-12-31" in by_order["8100"]
    assert "max_quantity" in by_order["8101"]
    assert "U+0000" in by_order["8102"] and "given_name" in by_order["8102"]
    assert "max_text_length" in by_order["8103"]
    assert hub.inbox.count_after(0) == 5  # recorded first: replayable once the bounds or the source change


def test_the_bounds_are_configuration(make_hub: Callable[..., Hub]) -> None:
    from hub.settings import LimitSettings

    hub = make_hub(limits=LimitSettings(max_quantity=Decimal("10")))
    big = _implausible(8200, lambda body: body["line_items"][0].update(quantity=11))
    hub.receive("shopify", [big])
    assert hub.process().dead_lettered == 1
    assert "10 ([limits] max_quantity)" in hub.dead_letters.list()[0].reason
