"""The capacity-aware schedule on constructed cases: capacity per day is never exceeded, the
emptiest buffer goes first (then the earliest due date), and what cannot make its date is flagged
with a promise date."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal as D

from projections.schedule import Job, schedule

TODAY = date(2026, 11, 23)


def job(
    ref: str, quantity: int, rate: int | None, percent: str | None, due_in: int, centre: str = "SEW-1"
) -> Job:
    return Job(
        ref=ref,
        kind="recommended",
        sku=ref.lower(),
        quantity=D(quantity),
        due=TODAY + timedelta(days=due_in),
        work_centre=centre,
        rate_per_day=None if rate is None else D(rate),
        buffer_percent=None if percent is None else D(percent),
        colour=None,
    )


def test_lowest_buffer_first_then_due_date_and_capacity_per_day_is_never_exceeded() -> None:
    jobs = [
        job("GREEN", 60, 40, "80.0", 3),  # 1.5 days
        job("RED", 50, 20, "12.5", 9),  # 2.5 days, emptiest buffer: first despite the later due date
        job("YELLOW-LATE", 20, 40, "45.0", 10),  # 0.5 day
        job("YELLOW-SOON", 20, 40, "45.0", 2),  # same status, earlier due date: before YELLOW-LATE
    ]
    [(centre, slots)] = schedule(jobs, TODAY).items()
    assert centre == "SEW-1"
    assert [s.job.ref for s in slots] == ["RED", "YELLOW-SOON", "YELLOW-LATE", "GREEN"]
    per_day: dict[date, D] = defaultdict(D)
    for slot in slots:
        for day, share in slot.load.items():
            per_day[day] += share
        assert sum(slot.load.values()) == slot.days == slot.job.quantity / slot.job.rate_per_day
    assert all(share <= 1 for share in per_day.values())
    assert sum(per_day.values()) == D("5.0")  # 2.5 + 0.5 + 0.5 + 1.5 days of work
    assert [(s.start, s.finish) for s in slots] == [
        (TODAY, TODAY + timedelta(days=2)),  # days 0, 1 and half of 2
        (TODAY + timedelta(days=2), TODAY + timedelta(days=2)),  # the other half of day 2
        (TODAY + timedelta(days=3), TODAY + timedelta(days=3)),
        (TODAY + timedelta(days=3), TODAY + timedelta(days=4)),  # half of day 3, all of day 4
    ]


def test_an_order_that_cannot_make_its_due_date_gets_a_promise_date_and_a_flag() -> None:
    jobs = [job("FIRST", 120, 40, "5.0", 2), job("SECOND", 40, 40, "30.0", 2)]
    first, second = schedule(jobs, TODAY)["SEW-1"]
    assert (first.finish, first.late, first.promise) == (TODAY + timedelta(days=2), False, None)
    assert (second.finish, second.late) == (TODAY + timedelta(days=3), True)
    assert second.promise == TODAY + timedelta(days=3)


def test_work_centres_are_scheduled_independently() -> None:
    plan = schedule([job("A", 40, 40, "10.0", 1, "SEW-1"), job("B", 80, 40, "90.0", 5, "KNIT-1")], TODAY)
    assert sorted(plan) == ["KNIT-1", "SEW-1"]
    assert plan["KNIT-1"][0].start == plan["SEW-1"][0].start == TODAY  # no shared capacity


def test_unknown_rate_is_reported_and_takes_no_capacity_and_unbuffered_orders_go_last() -> None:
    plan = schedule(
        [
            job("NO-RATE", 10, None, "1.0", 1),
            job("UNBUFFERED", 40, 40, None, 1),
            job("BUFFERED", 40, 40, "99.0", 9),
        ],
        TODAY,
    )["SEW-1"]
    assert [s.job.ref for s in plan] == ["NO-RATE", "BUFFERED", "UNBUFFERED"]
    assert plan[0].problem is not None and "capacity_per_day" in plan[0].problem and plan[0].load == {}
    assert (plan[1].start, plan[2].start) == (TODAY, TODAY + timedelta(days=1))
