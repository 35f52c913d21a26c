"""One item's plan from raw demand, supply and stock, on part 707 of Ptak & Smith, *Orlicky's
Material Requirements Planning*, 3rd ed. (2011), figures 24-15 and 26-7: ADU 6, lead time 13 days,
lead-time factor 45 %, variability 50 % → red 35 + 18, yellow 78, green 35 (TOR 53, TOY 131, TOG
166), order spike threshold 27. The order lines, stock and supply around it are ours."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from projections.ddmrp import BufferProfile
from projections.planning import DemandLine, PlanningPolicy, StockLine, SupplyLine, plan_item

TODAY = date(2026, 6, 21)
POLICY = PlanningPolicy(
    adu_window_days=10,
    adu_method="past",
    spike_horizon_days=None,  # the item's lead time: 13 days
    profiles={"M21": BufferProfile(D("0.45"), D("0.5"))},
)
ITEM = {"buffer_profile": "M21", "lead_time_days": "13", "order_multiple": "25", "work_centre": "ASSY"}


def line(ref: str, quantity: int, days: int, open_quantity: int | None = None) -> DemandLine:
    return DemandLine(
        sku="707",
        order_id=ref,
        order_ref=ref,
        system="shop",
        channel="web",
        quantity=D(quantity),
        open_quantity=D(quantity if open_quantity is None else open_quantity),
        due=TODAY + timedelta(days=days),
    )


DEMAND = [
    *(line(f"past-{n}", 6, -n, open_quantity=0) for n in range(1, 11)),  # 60 shipped in 10 days: ADU 6
    line("late", 10, -20),  # past due (and before the ADU window)
    line("today", 5, 0),
    line("spike", 30, 5),  # ≥ 27 within 13 days
    line("small", 20, 6),  # below the threshold
    line("far", 40, 20),  # beyond the horizon
]
STOCK = [StockLine("WH1", D(60), D(5)), StockLine("WH2", D(40), D(0))]
SUPPLY = [
    SupplyLine("MO-1", "production", D(20), TODAY + timedelta(days=4), "released", "ASSY"),
    SupplyLine("MO-0", "production", D(500), TODAY - timedelta(days=2), "completed", "ASSY"),  # not open
]


def test_part_707_zones_net_flow_status_and_recommendation() -> None:
    plan = plan_item("707", ITEM, DEMAND, SUPPLY, STOCK, POLICY, TODAY)
    assert plan is not None
    assert plan["adu"] == "6.000"
    assert plan["zones"] == {
        "red_base": "35",
        "red_safety": "18",
        "yellow": "78",
        "green": "35",
        "top_of_red": "53",
        "top_of_yellow": "131",
        "top_of_green": "166",
    }
    qualified = plan["qualified_demand"]
    assert (qualified["spike_threshold"], qualified["spike_horizon_days"]) == ("27", 13)
    assert (qualified["past_due"], qualified["due_today"], qualified["spikes"], qualified["total"]) == (
        "10",
        "5",
        "30",
        "45",
    )
    assert (plan["on_hand"], plan["allocated"], plan["on_order"]) == ("100", "5", "20")
    assert plan["net_flow"] == "75"  # 100 + 20 - 45
    assert (plan["status_percent"], plan["colour"]) == ("45.2", "yellow")
    # Up to top of green: 166 - 75 = 91, rounded up to the multiple of 25; due after the lead time.
    assert plan["recommendation"] == {"quantity": "100", "due": "2026-07-04"}


def test_the_inputs_name_the_orders_behind_adu_and_qualified_demand() -> None:
    plan = plan_item("707", ITEM, DEMAND, SUPPLY, STOCK, POLICY, TODAY)
    assert plan is not None
    inputs = plan["inputs"]
    assert [x["order_ref"] for x in inputs["adu_lines"]] == [f"past-{n}" for n in range(10, 0, -1)]
    assert [(x["order_ref"], x["why"], x["quantity"]) for x in inputs["qualified_lines"]] == [
        ("late", "past due", "10"),
        ("today", "due today", "5"),
        ("spike", "spike", "30"),
    ]
    assert [s["order_ref"] for s in inputs["supply"]] == ["MO-1"]
    assert [s["location"] for s in inputs["stock"]] == ["WH1", "WH2"]


def test_adu_window_methods_use_the_lines_on_either_side_of_today() -> None:
    forward = PlanningPolicy(10, "forward", None, POLICY.profiles)
    plan = plan_item("707", ITEM, DEMAND, SUPPLY, STOCK, forward, TODAY)
    assert plan is not None
    assert plan["adu"] == "5.500"  # today 5 + day 5: 30 + day 6: 20 = 55 over 10 days
    assert {x["order_ref"] for x in plan["inputs"]["adu_lines"]} == {"today", "spike", "small"}


def test_items_that_cannot_be_planned_say_why() -> None:
    assert plan_item("X", {"lead_time_days": "5"}, [], [], [], POLICY, TODAY) is None  # not buffered
    unknown = plan_item("X", {"buffer_profile": "Z99", "lead_time_days": "5"}, [], [], [], POLICY, TODAY)
    assert unknown is not None and unknown["colour"] == "unplanned"
    assert "'Z99' is not in [planning.profiles] (known: M21)" in unknown["problem"]
    no_lead_time = plan_item("X", {"buffer_profile": "M21"}, [], [], [], POLICY, TODAY)
    assert no_lead_time is not None and no_lead_time["problem"] == "no lead_time_days in the item master"
