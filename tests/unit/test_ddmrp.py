"""DDMRP arithmetic against the worked examples of Ptak & Smith, *Orlicky's Material Requirements
Planning*, 3rd ed. (McGraw-Hill, 2011): chapter 24, "Buffer Level Examples" (pp. 417-418, figures
24-14 to 24-16: parts 403P, 707, 501D), chapter 26, order spike thresholds (figures 26-6 to 26-8),
the order source screen of part XYZ (figure 26-10) and the order multiple of part 408 (figure
26-14). Every figure below is the book's; where the book leaves a number out it says so."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from projections.ddmrp import (
    BufferProfile,
    Demand,
    Zones,
    average_daily_usage,
    buffer_status,
    qualified_demand,
    recommend,
    zones,
)


def test_purchased_part_403p_moq_is_the_green_zone() -> None:
    # B11MOQ: lead time 21 days, ADU 17, MOQ 300, medium lead time (50 %), low variability (30 %).
    buffer = zones(D(17), D(21), BufferProfile(D("0.5"), D("0.3")), minimum_order=D(300))
    assert (buffer.green, buffer.yellow, buffer.red_base, buffer.red_safety) == (300, 357, 179, 54)
    assert (buffer.top_of_red, buffer.top_of_yellow, buffer.top_of_green) == (233, 590, 890)


def test_manufactured_part_707() -> None:
    # M21: ASRLT 13 days, ADU 6, no ordering policy, 45 % of usage over lead time, medium variability.
    buffer = zones(D(6), D(13), BufferProfile(D("0.45"), D("0.5")))
    assert (buffer.green, buffer.yellow, buffer.red_base, buffer.red_safety) == (35, 78, 35, 18)
    assert (buffer.top_of_red, buffer.top_of_yellow, buffer.top_of_green) == (53, 131, 166)


def test_distributed_part_501d_moq_far_exceeds_the_calculated_green() -> None:
    # D22MOQ at Newark: lead time 28 days, ADU 40, MOQ 1,000, long lead time (30 %), 60 % variability.
    buffer = zones(D(40), D(28), BufferProfile(D("0.3"), D("0.6")), minimum_order=D(1000))
    assert (buffer.green, buffer.yellow, buffer.red_base, buffer.red_safety) == (1000, 1120, 336, 202)
    assert (buffer.top_of_red, buffer.top_of_yellow, buffer.top_of_green) == (538, 1658, 2658)


def test_order_spike_thresholds_at_half_the_red_zone() -> None:
    # Figures 26-7 and 26-8: OST 50 % -> 27 for part 707 (red 53), 269 for part 501D (red 538).
    none = [Demand("-", D(0), date(2026, 1, 1))]
    profile = BufferProfile(D("0.45"), D("0.5"), spike_threshold=D("0.5"))
    assert qualified_demand(none, date(2026, 1, 1), 13, D(53), profile).threshold == 27
    assert qualified_demand(none, date(2026, 1, 1), 28, D(538), profile).threshold == 269


XYZ_ORDERS = [  # figure 26-10: order source screen for part XYZ, today 06/21, horizon 14 days
    ("SO# 1234", 50, (6, 23)),
    ("SO# 1235", 70, (6, 25)),
    ("SO# 1236", 20, (6, 27)),
    ("SO# 1237", 35, (6, 28)),
    ("SO# 1238", 50, (6, 29)),
    ("SO# 1239", 35, (6, 30)),
    ("SO# 1240", 20, (7, 1)),
    ("SO# 1241", 35, (7, 3)),
    ("SO# 1242", 120, (7, 5)),
    ("SO# 1243", 50, (7, 8)),  # outside the horizon
    ("SO# 1244", 160, (7, 11)),  # outside the horizon
]


def test_part_xyz_only_so_1242_qualifies_as_a_spike() -> None:
    demand = [Demand(ref, D(q), date(2026, m, d)) for ref, q, (m, d) in XYZ_ORDERS]
    # The book prints no red zone for XYZ; its threshold lies between 70 (SO 1235, not a spike)
    # and 120 (SO 1242, a spike). A red zone of 200 at the usual 50 % puts it at 100.
    qualified = qualified_demand(demand, date(2026, 6, 21), 14, D(200), BufferProfile(D("0.5"), D("0.5")))
    assert qualified.spike_days == (date(2026, 7, 5),)
    assert (qualified.past_due, qualified.due_today, qualified.spikes, qualified.total) == (0, 0, 120, 120)


def test_past_due_and_due_today_always_count() -> None:
    today = date(2026, 6, 21)
    demand = [
        Demand("a", D(5), today - timedelta(days=3)),
        Demand("b", D(7), today),
        Demand("c", D(9), today + timedelta(days=1)),
    ]
    qualified = qualified_demand(demand, today, 14, D(200), BufferProfile(D("0.5"), D("0.5")))
    assert (qualified.past_due, qualified.due_today, qualified.spikes) == (5, 7, 0)


def test_part_408_order_multiple_rounds_150_up_to_160() -> None:
    # Figure 26-14: TOG 500, TOY 400, TOR 200, available stock 350, order minimum 20, multiple 20.
    buffer = Zones(green=D(100), yellow=D(200), red_base=D(150), red_safety=D(50))
    assert (buffer.top_of_red, buffer.top_of_yellow, buffer.top_of_green) == (200, 400, 500)
    assert buffer_status(D(350), buffer) == (D("70.0"), "yellow")
    assert recommend(D(350), buffer) == 150
    assert recommend(D(350), buffer, minimum_order=D(20), order_multiple=D(20)) == 160
    assert recommend(D(401), buffer) == 0  # above top of yellow: no supply needed


@pytest.mark.parametrize(
    ("net_flow", "colour"),
    [
        (-5, "dark_red"),
        (0, "dark_red"),
        (53, "red"),
        (54, "yellow"),
        (131, "yellow"),
        (166, "green"),
        (167, "over_top_of_green"),
    ],
)
def test_buffer_status_colours_on_part_707(net_flow: int, colour: str) -> None:
    buffer = zones(D(6), D(13), BufferProfile(D("0.45"), D("0.5")))
    assert buffer_status(D(net_flow), buffer)[1] == colour


def test_average_daily_usage_past_forward_and_blended() -> None:
    today = date(2026, 6, 21)
    past = [Demand(f"p{i}", D(17), today - timedelta(days=i)) for i in range(1, 22)]  # 357 over 21 days
    ahead = [Demand(f"f{i}", D(20), today + timedelta(days=i)) for i in range(0, 21)]  # 420 ahead
    demand = past + ahead + [Demand("old", D(1000), today - timedelta(days=22))]  # outside the window
    assert average_daily_usage(demand, today, 21, "past") == 17
    assert average_daily_usage(demand, today, 21, "forward") == 20
    assert average_daily_usage(demand, today, 21, "blended") == D("18.5")
    with pytest.raises(ValueError, match="unknown ADU method"):
        average_daily_usage(demand, today, 21, "median")
