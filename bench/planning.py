"""Benchmark: demand-driven planning at 10,000 items and 1,000,000 order lines over a year.

    python bench/planning.py [--items 10000] [--lines 1000000] [--runs 3] [--database-url URL]

Setup (timed, printed, not part of the figures): item master, stock counts and a year of sales
orders (3 lines each; orders older than a week shipped) are built with the domain aggregates and
fed to the planning projection's own ``apply`` in batches — the path a rebuild takes — so the
tables hold what the hub would hold after processing them.

Each run measures:
  * full: every item's buffer recomputed (``PlanningTables.refresh`` with every item dirty), and
    the raw limit of the same backend: one plain indexed SELECT of exactly the rows the recompute
    reads (order lines in the ADU window or open, supply, stock, item master);
  * incremental: one new order (3 lines) applied through the projection — its rows written, its
    three items' buffers recomputed in the same transaction — median of 25 orders.
Prints both, full ÷ incremental, and full ÷ raw read. Medians over the runs last.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aggregates import MasterRecord, Order, StockPosition  # noqa: E402
from hub.bootstrap import bootstrap  # noqa: E402
from hub.planning.tables import PlanningTables  # noqa: E402
from hub.runtime import tune_garbage_collector  # noqa: E402
from hub.settings import HubSettings  # noqa: E402

PROVENANCE = {
    "system": "bench",
    "message_id": "m",
    "received_at": "2026-01-01T00:00:00+00:00",
    "mapping": "b@1",
}
LINES_PER_ORDER = 3


def seed(tables: PlanningTables, items: int, lines: int, now: datetime, rng: random.Random) -> None:
    store = tables.store
    skus = [f"ITEM-{n:05d}" for n in range(items)]
    # Popular items sell more (a Pareto-like skew), every order on one day of the past year.
    weights = [1 / (1 + n // 50) for n in range(items)]
    units_per_day = lines / 365 * 10.5 / sum(weights)  # 10.5: the mean quantity of a line
    events: list[Any] = []
    for n, sku in enumerate(skus):
        lead_time = rng.choice([5, 10, 15, 20])
        on_hand = round(units_per_day * weights[n] * lead_time * rng.uniform(0.2, 2.5))
        record = MasterRecord.register(
            kind="item",
            ref=sku,
            fields={
                "sku": sku,
                "lead_time_days": str(lead_time),
                "minimum_order": "50",
                "order_multiple": "10",
                "buffer_profile": "M21",
                "work_centre": f"WC-{n % 20:02d}",
                "capacity_per_day": "400",
            },
            provenance=PROVENANCE,
            as_of=None,
        )
        stock = StockPosition.open(sku, "WH1")
        stock.count(on_hand=Decimal(on_hand), allocated=Decimal(0), as_of=now, provenance=PROVENANCE)
        events += record.collect_events() + stock.collect_events()
    apply(tables, events)
    cumulative = list(itertools.accumulate(weights))  # choices() bisects: O(log items) a line
    orders = lines // LINES_PER_ORDER
    started = time.perf_counter()
    batch: list[Any] = []
    for number in range(orders):
        placed = now - timedelta(days=rng.uniform(0, 365))
        chosen: set[str] = set()
        while len(chosen) < LINES_PER_ORDER:
            chosen.update(rng.choices(skus, cum_weights=cumulative, k=LINES_PER_ORDER - len(chosen)))
        order = place(f"SO-{number}", sorted(chosen), placed, rng)
        if placed < now - timedelta(days=7):
            ship(order, placed + timedelta(days=2))
        batch += order.collect_events()
        if len(batch) >= 10_000:
            apply(tables, batch)
            batch = []
        if number and number % 50_000 == 0:
            rate = number * LINES_PER_ORDER / (time.perf_counter() - started)
            print(f"  seeded {number * LINES_PER_ORDER:,} lines ({rate:,.0f} lines/s)", flush=True)
    apply(tables, batch)
    count = store.query(f"SELECT COUNT(*) AS n FROM {tables.demand}")[0]["n"]
    print(f"  seeded {count:,} order lines of {orders:,} orders in {time.perf_counter() - started:.0f} s")


def place(ref: str, skus: list[str], placed: datetime, rng: random.Random) -> Order:
    lines = [
        {"sku": sku, "description": "", "quantity": str(rng.randint(1, 20)), "unit_price": "10.00"}
        for sku in skus
    ]
    return Order.place(
        system="bench",
        order_ref=ref,
        channel="web",
        customer_ref=None,
        currency="EUR",
        total_amount=Decimal(10) * sum(Decimal(line["quantity"]) for line in lines),
        lines=lines,
        placed_at=placed,
        aliases=[],
        provenance=PROVENANCE,
    )


def ship(order: Order, at: datetime) -> None:
    order.record_shipment(
        shipment_id="S1",
        status="delivered",
        carrier=None,
        tracking_number=None,
        lines={sku: str(q) for sku, q in order.progress.ordered.items()},
        occurred_at=at,
        provenance=PROVENANCE,
    )


def apply(tables: PlanningTables, events: list[Any]) -> None:
    with tables.store.transaction() as cursor:
        tables.apply(cursor, events, 0, 0)


def full_recompute(tables: PlanningTables) -> float:
    with tables.store.transaction() as cursor:
        cursor.execute(
            f"INSERT INTO {tables.dirty} (sku) SELECT sku FROM {tables.records} WHERE kind = 'item' "
            "ON CONFLICT (sku) DO NOTHING"
        )
    started = time.perf_counter()
    recomputed = tables.refresh()
    elapsed = time.perf_counter() - started
    assert recomputed >= 1, "nothing recomputed"
    return elapsed


def raw_read(tables: PlanningTables) -> float:
    """The rows a full recompute reads, in one plain query per table (no decoding, no arithmetic)."""
    window_start = (tables.today() - timedelta(days=tables.policy.adu_window_days)).isoformat()
    started = time.perf_counter()
    with tables.store.reading() as cursor:
        cursor.execute(
            tables.store.sql(f"SELECT * FROM {tables.demand} WHERE due >= ? OR is_open = 1"), [window_start]
        )
        cursor.fetchall()
        for table in (tables.records, tables.stock):
            cursor.execute(f"SELECT * FROM {table}")
            cursor.fetchall()
    return time.perf_counter() - started


def incremental(
    tables: PlanningTables, skus: list[str], now: datetime, rng: random.Random, run: int
) -> float:
    times = []
    for n in range(25):
        order = place(f"NEW-{run}-{n}", rng.sample(skus, LINES_PER_ORDER), now, rng)
        events = order.collect_events()
        started = time.perf_counter()
        apply(tables, events)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temporary folder")
    args = parser.parse_args()
    tune_garbage_collector()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/plan.db"
        hub = bootstrap(HubSettings(database_url=url))
        tables: PlanningTables = hub.projector.get("planning")
        rng = random.Random(5)
        now = datetime.now(UTC)
        print(
            f"planning benchmark: {args.items:,} items, {args.lines:,} order lines, "
            f"{hub.store.target.display}"
        )
        seed(tables, args.items, args.lines, now, rng)
        skus = [r["ref"] for r in hub.store.query(f"SELECT ref FROM {tables.records} WHERE kind = 'item'")]
        results = []
        for run in range(1, args.runs + 1):
            full = full_recompute(tables)
            raw = raw_read(tables)
            one = incremental(tables, skus, now, rng, run)
            results.append((full, raw, one))
            print(
                f"run {run}: full recompute {full:.2f} s ({args.items / full:,.0f} items/s), "
                f"raw read {raw:.2f} s "
                f"(full ÷ raw {full / raw:.1f}); one new order {one * 1000:.1f} ms; full ÷ incremental "
                f"{full / one:,.0f}",
                flush=True,
            )
        full, raw, one = (statistics.median(r[i] for r in results) for i in range(3))
        print(
            f"median: full recompute {full:.2f} s, raw read of its rows {raw:.2f} s "
            f"(ratio {full / raw:.1f}), "
            f"incremental after one new order {one * 1000:.1f} ms, full ÷ incremental {full / one:,.0f}"
        )
        buffers = hub.store.query(f"SELECT colour, COUNT(*) AS n FROM {tables.buffers} GROUP BY colour")
        print("buffers: " + ", ".join(f"{r['colour']} {r['n']:,}" for r in buffers))
        hub.close()


if __name__ == "__main__":
    main()
