"""Capacity-aware schedule: production orders sequenced per work centre by buffer priority.

Finite forward loading. Each work centre has one day of capacity per calendar day; an order of
Q units of an item the centre makes at R units a day needs Q / R days of it. Orders are taken in
priority order — lowest buffer status first (the emptiest buffer is the most urgent, as in the
DDMRP planning screen), then earliest due date, then reference — and each fills the capacity
left from the first free day on. An order that finishes after its due date gets that finish day
as its promise date and is flagged late.

Pure: the planning queries feed it the recommendations and open production orders of the moment.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

__all__ = ["Job", "Scheduled", "schedule"]

ONE_DAY = Decimal(1)


@dataclass(frozen=True)
class Job:
    ref: str
    kind: str  # recommended | planned | released
    sku: str
    quantity: Decimal
    due: date
    work_centre: str
    rate_per_day: Decimal | None  # units the work centre makes in a day; None: unknown
    buffer_percent: Decimal | None  # the item's buffer status; None: not buffered (last)
    colour: str | None

    def priority(self) -> tuple[int, Decimal, date, str]:
        unbuffered = self.buffer_percent is None
        return (1 if unbuffered else 0, self.buffer_percent or Decimal(0), self.due, self.ref)


@dataclass
class Scheduled:
    job: Job
    sequence: int
    start: date | None = None
    finish: date | None = None
    days: Decimal = Decimal(0)
    load: dict[date, Decimal] = field(default_factory=dict)
    problem: str | None = None  # why it could not be scheduled

    @property
    def late(self) -> bool:
        return self.finish is not None and self.finish > self.job.due

    @property
    def promise(self) -> date | None:
        return self.finish if self.late else None


def schedule(jobs: Iterable[Job], today: date) -> dict[str, list[Scheduled]]:
    """Per work centre, the jobs in sequence with the days they occupy."""
    by_centre: dict[str, list[Job]] = defaultdict(list)
    for job in jobs:
        by_centre[job.work_centre].append(job)
    result = {}
    for centre, centre_jobs in sorted(by_centre.items()):
        day, free = today, ONE_DAY  # first day with capacity left, and how much
        planned = []
        for sequence, job in enumerate(sorted(centre_jobs, key=Job.priority), start=1):
            slot = Scheduled(job, sequence)
            planned.append(slot)
            if not job.rate_per_day:
                slot.problem = f"no capacity per day for {job.sku} at {centre}: set capacity_per_day"
                continue
            need = slot.days = job.quantity / job.rate_per_day
            slot.start = day
            while True:
                taken = min(need, free)
                if taken > 0:
                    slot.load[day] = slot.load.get(day, Decimal(0)) + taken
                need -= taken
                free -= taken
                if need <= 0:
                    slot.finish = day
                    break
                day, free = day + timedelta(days=1), ONE_DAY
            if free <= 0:
                day, free = day + timedelta(days=1), ONE_DAY
        result[centre] = planned
    return result
