"""Benchmark: pulling a legacy ERP through the whole pipeline, against zeep alone on the same pages.

    python bench/erp.py [--customers 50000] [--orders 100000] [--page-size 500] [--runs 3]

The simulated ERP (spyne) runs in its own process, as a real ERP would, so server and client do
not share an interpreter. Each run measures, interleaved:
  * zeep: the same "changed since" pages fetched and parsed by a bare zeep client — the transport
    limit (HTTP, SOAP serialisation on the server, XML parsing into objects);
  * hub: ``hub adapters poll`` end to end — zeep, records to plain data, pages into the inbox with
    their cursor, and processing into aggregates and order tracking by the background processor
    while the poll goes on, until the last record is processed — records/s and the ratio hub ÷ zeep.
Medians over the runs are printed last. SQLite (the embedded default) only.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import zeep  # noqa: E402

from adapters.soap import soap_pollers  # noqa: E402
from entrypoints.background import BackgroundProcessor  # noqa: E402
from entrypoints.settings import Settings  # noqa: E402
from hub.bootstrap import bootstrap  # noqa: E402
from hub.processing import PROCESSOR  # noqa: E402
from hub.runtime import tune_garbage_collector  # noqa: E402
from simulators.erp import ErpBook, ErpSimulator, erp_system  # noqa: E402
from simulators.erp.book import LOCAL_FORMAT  # noqa: E402
from simulators.traffic import CATALOGUE, FIRST, LAST  # noqa: E402

OPERATIONS = {"customers": "GetCustomersChangedSince", "orders": "GetSalesOrdersChangedSince"}


def fill(book: ErpBook, customers: int, orders: int, seed: int = 11) -> None:
    """Debtors and sales orders changed over a year, a few per second of ERP time."""
    rng = random.Random(seed)
    for sku, description, _ in CATALOGUE:
        book.add_item(sku, description, lead_time_days=5, lot_size=50, moq=100)
    numbers = []
    for i in range(customers):
        numbers.append(
            book.add_debtor(
                rng.choice(LAST),
                name2=rng.choice(FIRST),
                street=f"Hauptstr. {i % 200 + 1}",
                postcode=f"{10000 + i % 80000}",
                city="Köln",
                phone=f"0221 {1000000 + i}",
                email=f"kunde{i}@example.org",
            )
        )
        if i % 3 == 2:
            book.tick()
    for _ in range(orders):
        lines = [
            (sku, description, Decimal(rng.randint(1, 5)), price)
            for sku, description, price in rng.sample(CATALOGUE, rng.randint(1, 3))
        ]
        book.add_order(rng.choice(numbers), lines)
        if rng.random() < 0.3:
            book.tick()


def serve(customers: int, orders: int, queue: Any, stop: Any) -> None:
    book = ErpBook(datetime(2025, 11, 1, 8, 0, 0))
    fill(book, customers, orders)
    with ErpSimulator(book) as erp:
        queue.put(erp.wsdl_url)
        stop.wait()


def zeep_only(wsdl: str, page_size: int) -> tuple[int, float]:
    """The same keyset walk as the adapter, with nothing but zeep: records fetched, seconds."""
    client = zeep.Client(wsdl)
    started = time.perf_counter()
    total = 0
    for operation in OPERATIONS.values():
        call = getattr(client.service, operation)
        since, page = "01.01.2000 00:00:00", 1
        while True:
            records = call(since, page, page_size) or []
            total += len(records)
            if len(records) < page_size:
                break
            last = records[-1].ChangedAt
            if datetime.strptime(last, LOCAL_FORMAT) > datetime.strptime(since, LOCAL_FORMAT):
                since, page = last, 1
            else:
                page += 1
    return total, time.perf_counter() - started


def hub_pipeline(wsdl: str, page_size: int, folder: Path) -> tuple[int, float, int]:
    """Poll both entities with processing running alongside: records, seconds, messages stored."""
    erp = erp_system(wsdl, page_size=page_size, outbound=False)
    erp["soap"]["entities"] = {k: v for k, v in erp["soap"]["entities"].items() if k in OPERATIONS}
    settings = Settings(
        database_url=f"sqlite:///{folder / 'hub.db'}",
        mappings_dir=ROOT / "mappings",
        batch_size=1000,
        systems={"erp": erp},
    )
    hub = bootstrap(settings)
    background = BackgroundProcessor(hub, idle_seconds=0.05)
    try:
        started = time.perf_counter()
        background.start()
        reports = soap_pollers(hub.ports)["erp"].poll(on_page=lambda _report: background.wake())
        for report in reports:
            if report.error:
                raise SystemExit(f"poll failed: {report.error}")
        while hub.store.position(PROCESSOR) < hub.inbox.head():
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        background.stop()
        letters = hub.dead_letters.list("open")
        if letters:
            raise SystemExit(f"{len(letters)} dead letters, first: {letters[0].reason}")
        return sum(r.records for r in reports), elapsed, hub.inbox.head()
    finally:
        background.stop()
        hub.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tune_garbage_collector()
    context = multiprocessing.get_context("spawn")
    queue, stop = context.Queue(), context.Event()
    server = context.Process(target=serve, args=(args.customers, args.orders, queue, stop), daemon=True)
    loading = time.perf_counter()
    server.start()
    wsdl = queue.get(timeout=600)
    print(
        f"ERP simulator ready with {args.customers:,} debtors and {args.orders:,} orders "
        f"in {time.perf_counter() - loading:.0f} s ({wsdl})",
        flush=True,
    )
    results: list[dict[str, float]] = []
    try:
        for run in range(1, args.runs + 1):
            fetched, zeep_seconds = zeep_only(wsdl, args.page_size)
            with tempfile.TemporaryDirectory() as folder:
                records, hub_seconds, stored = hub_pipeline(wsdl, args.page_size, Path(folder))
            unique = args.customers + args.orders  # both walks re-read the records at each page boundary
            row = {"zeep": unique / zeep_seconds, "hub": unique / hub_seconds}
            row["ratio"] = row["hub"] / row["zeep"]
            results.append(row)
            print(
                f"run {run}: zeep only {fetched:,} records in {zeep_seconds:.1f} s = {row['zeep']:,.0f}/s; "
                f"hub end to end {records:,} records ({stored:,} messages) in {hub_seconds:.1f} s = "
                f"{row['hub']:,.0f}/s; ratio {row['ratio']:.2f}",
                flush=True,
            )
    finally:
        stop.set()
        server.join(timeout=30)
    medians = {key: statistics.median(r[key] for r in results) for key in ("zeep", "hub", "ratio")}
    print(
        f"median of {len(results)}: zeep only {medians['zeep']:,.0f} records/s, hub end to end "
        f"{medians['hub']:,.0f} records/s, ratio {medians['ratio']:.2f} (target ≥ 0.5)"
    )


if __name__ == "__main__":
    main()
