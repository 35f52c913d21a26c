"""Demand-driven planning arithmetic (DDMRP): buffer zones, average daily usage, qualified demand,
net-flow position, buffer status and the supply recommendation.

Pure functions over plain numbers and dates, following Ptak & Smith, *Orlicky's Material
Requirements Planning*, 3rd ed. (McGraw-Hill, 2011), chapters 24 ("Buffer Profiles and Level
Determination") and 26 ("Demand-Driven Planning"); the unit tests reproduce that book's worked
examples (parts 403P, 707, 501D, 408 and XYZ) figure for figure.

Rounding follows the book: every zone is a whole number of units, rounded half up, and red zone
safety is taken from the rounded red zone base (403P: 178.5 → 179, 179 x 0.3 = 53.7 → 54).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

__all__ = [
    "BufferProfile",
    "Demand",
    "Zones",
    "average_daily_usage",
    "buffer_status",
    "qualified_demand",
    "recommend",
    "zones",
]

ONE = Decimal(1)


def _units(value: Decimal) -> Decimal:
    return value.quantize(ONE, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class BufferProfile:
    """What a group of parts shares: lead-time factor, variability factor, order spike threshold."""

    lead_time_factor: Decimal  # share of usage over lead time for green zone and red zone base
    variability_factor: Decimal  # red zone safety as a share of red zone base
    spike_threshold: Decimal = Decimal("0.5")  # order spike threshold, share of the red zone


@dataclass(frozen=True)
class Zones:
    green: Decimal
    yellow: Decimal
    red_base: Decimal
    red_safety: Decimal

    @property
    def red(self) -> Decimal:
        return self.red_base + self.red_safety

    @property
    def top_of_red(self) -> Decimal:
        return self.red

    @property
    def top_of_yellow(self) -> Decimal:
        return self.red + self.yellow

    @property
    def top_of_green(self) -> Decimal:
        return self.red + self.yellow + self.green


def zones(
    adu: Decimal,
    lead_time_days: Decimal,
    profile: BufferProfile,
    *,
    minimum_order: Decimal = Decimal(0),
    order_cycle_days: Decimal = Decimal(0),
) -> Zones:
    """Green = the largest of usage over lead time x LTF, the MOQ and usage over the order cycle;
    yellow = usage over lead time; red = base (usage x LTF) + safety (base x VF)."""
    usage = adu * lead_time_days
    red_base = _units(usage * profile.lead_time_factor)
    green = max(_units(usage * profile.lead_time_factor), minimum_order, _units(adu * order_cycle_days))
    return Zones(
        green=green,
        yellow=_units(usage),
        red_base=red_base,
        red_safety=_units(red_base * profile.variability_factor),
    )


@dataclass(frozen=True)
class Demand:
    """Open quantity of one sales-order line, due on a day."""

    reference: str
    quantity: Decimal
    due: date


def average_daily_usage(
    demand: Iterable[Demand], today: date, window_days: int, method: str = "past"
) -> Decimal:
    """Demand per day over a rolling window: ``past`` (the window up to yesterday), ``forward``
    (today and the window ahead) or ``blended`` (the mean of both)."""
    if window_days <= 0:
        raise ValueError(f"window of {window_days} days: must be at least one day")
    lines = list(demand)
    past_start, past_end = today - timedelta(days=window_days), today - timedelta(days=1)
    forward_end = today + timedelta(days=window_days - 1)
    past = sum((d.quantity for d in lines if past_start <= d.due <= past_end), Decimal(0)) / window_days
    forward = sum((d.quantity for d in lines if today <= d.due <= forward_end), Decimal(0)) / window_days
    if method == "past":
        return past
    if method == "forward":
        return forward
    if method == "blended":
        return (past + forward) / 2
    raise ValueError(f"unknown ADU method {method!r}: past, forward or blended")


@dataclass(frozen=True)
class Qualified:
    past_due: Decimal
    due_today: Decimal
    spikes: Decimal
    threshold: Decimal
    spike_days: tuple[date, ...]

    @property
    def total(self) -> Decimal:
        return self.past_due + self.due_today + self.spikes


def qualified_demand(
    demand: Iterable[Demand], today: date, horizon_days: int, red_zone: Decimal, profile: BufferProfile
) -> Qualified:
    """Past due + due today + order spikes: days within the horizon whose summed demand reaches
    the order spike threshold (a share of the red zone)."""
    threshold = _units(red_zone * profile.spike_threshold)
    past_due = due_today = Decimal(0)
    by_day: dict[date, Decimal] = {}
    horizon_end = today + timedelta(days=horizon_days)
    for line in demand:
        if line.due < today:
            past_due += line.quantity
        elif line.due == today:
            due_today += line.quantity
        elif line.due <= horizon_end:
            by_day[line.due] = by_day.get(line.due, Decimal(0)) + line.quantity
    spike_days = tuple(sorted(day for day, quantity in by_day.items() if quantity >= threshold))
    spikes = sum((by_day[day] for day in spike_days), Decimal(0))
    return Qualified(past_due, due_today, spikes, threshold, spike_days)


def buffer_status(net_flow: Decimal, buffer: Zones) -> tuple[Decimal, str]:
    """Net flow as a percentage of top of green, and its zone colour (dark red: at or below zero)."""
    percent = (
        (net_flow / buffer.top_of_green * 100).quantize(Decimal("0.1")) if buffer.top_of_green else Decimal(0)
    )
    if net_flow <= 0:
        return percent, "dark_red"
    if net_flow <= buffer.top_of_red:
        return percent, "red"
    if net_flow <= buffer.top_of_yellow:
        return percent, "yellow"
    if net_flow <= buffer.top_of_green:
        return percent, "green"
    return percent, "over_top_of_green"


def recommend(
    net_flow: Decimal,
    buffer: Zones,
    *,
    minimum_order: Decimal = Decimal(0),
    order_multiple: Decimal = Decimal(0),
) -> Decimal:
    """Supply to order: when the net flow is at or below top of yellow, up to top of green,
    raised to the minimum and rounded up to the order multiple (408: 150 → 160 by 20s)."""
    if net_flow > buffer.top_of_yellow:
        return Decimal(0)
    quantity = max(buffer.top_of_green - net_flow, minimum_order)
    if order_multiple > 0:
        quantity = (quantity / order_multiple).to_integral_value(rounding=ROUND_CEILING) * order_multiple
    return quantity
