"""What the mandated libraries cost on their own, measured beside the raw limits the throughput
targets of issue 21 are stated against: a floor no design built on them can go below.

    python bench/floors.py [--messages 20000] [--runs 3] [--backend sqlite|postgres|both] [--webhooks 10000]

* event store: the ``eventsourcing`` library as shipped (its own SQLite / PostgreSQL recorders,
  not the hub's), one new aggregate per message - one event whose payload is the ``OrderPlaced``
  the hub's Shopify mapping makes of Shopify's own order fixture - saved in batches of 500 with
  ``Application.save``: no inbox, no mapping, no handler reading earlier state, no hash chain,
  no projection. Beside it the raw limit of the same backend in the same run
  (``bench/ingest.py``'s: batched INSERT on SQLite, COPY on PostgreSQL), and the ratio;
* reading back: the same events read in pages of 1,000 with the recorder's
  ``select_notifications`` and turned into domain events by the library's mapper, events/s
  (what a rebuild or a replay cannot beat; nothing is folded or written), beside the raw read
  of ``bench/audit.py`` (a page scan with every state JSON-decoded) of the same rows;
* HTTP: ``fastapi`` on ``uvicorn`` as ``hub run`` serves it, one POST route that reads the body
  and answers 200 at once (no signature check, no parsing, no database), driven by the webhook
  benchmark's 50 clients (``bench/webhooks.py:blast``) on the same machine.

Medians over the runs. PostgreSQL: HUB_BENCH_DATABASE_URL or HUB_TEST_DATABASE_URL, else a
private server from the ``pgserver`` wheel.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
import uvicorn  # noqa: E402
from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402
from fastapi import FastAPI, Request  # noqa: E402

from bench.ingest import postgres_database, postgres_server, raw_rate, settings, sqlite_database  # noqa: E402
from bench.webhooks import blast  # noqa: E402
from entrypoints.server_thread import free_port  # noqa: E402
from hub.bootstrap import bootstrap  # noqa: E402
from hub.contracts import OrderPlaced  # noqa: E402
from hub.store import parse_database_url  # noqa: E402
from tests.shop_messages import fixture  # noqa: E402

BATCH = 500  # the hub's default batch_size
STOCK = {"sqlite": "eventsourcing.sqlite", "postgres": "eventsourcing.postgres"}


class PlacedOrder(Aggregate):
    """One aggregate, one event: the least an event-sourced hub writes per order message."""

    @event("Placed")
    def __init__(self, ref: str, body: dict[str, Any]) -> None:
        self.ref, self.body = ref, body


@contextmanager
def stock_application(url: str) -> Iterator[Application]:
    """The library's own application on the hub's database, with the library's own recorder."""
    target = parse_database_url(url)
    env = {**target.env, "PERSISTENCE_MODULE": STOCK[target.dialect]}
    if target.dialect == "postgres":
        env["CREATE_TABLE"] = "y"
    application = Application(env=env)
    try:
        yield application
    finally:
        application.close()


def event_store(url: str, orders: list[dict[str, Any]]) -> tuple[float, float]:
    """Messages/s saved, then events/s read back and decoded."""
    with stock_application(url) as application:
        began = time.perf_counter()
        for start in range(0, len(orders), BATCH):
            application.save(
                *[PlacedOrder(order["order_ref"], order) for order in orders[start : start + BATCH]]
            )
        saved = len(orders) / (time.perf_counter() - began)
        began, position, read = time.perf_counter(), 1, 0
        while True:
            page = application.recorder.select_notifications(position, 1000)
            if not page:
                break
            read += len([application.mapper.to_domain_event(n) for n in page])
            position = page[-1].id + 1
        assert read == len(orders), (read, len(orders))
        return saved, read / (time.perf_counter() - began)


def raw_read(url: str, rows: int) -> float:
    """The stored events read as ``bench/audit.py`` reads them for its raw limit - a page scan
    through the database driver, every state JSON-decoded - rows/s (best of 3)."""
    with stock_application(url) as application:
        table = application.recorder.events_table_name
    target = parse_database_url(url)
    sqlite = target.dialect == "sqlite"
    column = "rowid" if sqlite else "notification_id"
    query = f"SELECT {column}, state FROM {table} WHERE {column} > %s ORDER BY {column} LIMIT 1000"
    best = 0.0
    for _ in range(3):
        connection: Any = (
            sqlite3.connect(target.env["SQLITE_DBNAME"]) if sqlite else psycopg.connect(url, autocommit=True)
        )
        began, after, found = time.perf_counter(), 0, 0
        while page := connection.execute(query.replace("%s", "?") if sqlite else query, (after,)).fetchall():
            for _, state in page:
                json.loads(bytes(state))
            found, after = found + len(page), page[-1][0]
        best = max(best, found / (time.perf_counter() - began))
        connection.close()
        assert found == rows, (found, rows)
    return best


def recorded_order(order: dict[str, Any]) -> dict[str, Any]:
    """The Shopify fixture as the hub records it: its mapping's ``OrderPlaced``, as JSON data."""
    with sqlite_database() as url:
        hub = bootstrap(settings(url))
        try:
            envelope = {"headers": {"X-Shopify-Topic": "orders/create"}, "body": order}
            mapping = hub.catalog.mappings("shopify").select(envelope)
            record, _ = mapping.translate(envelope, hub.catalog.context("shopify"))
        finally:
            hub.close()
    assert isinstance(record, OrderPlaced), record
    return record.model_dump(mode="json")


def backend_floors(hub_url: str, library_url: str, orders: list[dict[str, Any]]) -> dict[str, float]:
    """The raw limit on one database, the library on another of the same backend (so neither
    waits on the other's connections)."""
    hub = bootstrap(settings(hub_url))
    try:
        raw = raw_rate(hub, len(orders))
    finally:
        hub.close()
    saved, decoded = event_store(library_url, orders)
    return {"raw": raw, "saved": saved, "decoded": decoded, "raw_read": raw_read(library_url, len(orders))}


async def take(request: Request) -> dict[str, str]:
    await request.body()
    return {"status": "stored"}


def serve(port: int) -> None:
    """The HTTP floor's server: the framework and server the hub uses, doing nothing else."""
    app = FastAPI()
    app.post("/webhooks/shopify")(take)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def http_floor(payloads: list[bytes], clients: int) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        for _ in range(200):
            try:
                httpx.post(f"http://127.0.0.1:{port}/webhooks/shopify", content=b"{}", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        return blast(port, payloads, clients)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--webhooks", type=int, default=10_000, help="0: no HTTP floor")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    order = fixture("order")
    placed = recorded_order(order)
    orders = [{**placed, "order_ref": f"#F{i}"} for i in range(args.messages)]
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        runs = []
        for run in range(args.runs):
            if backend == "sqlite":
                with sqlite_database() as hub_url, sqlite_database() as library_url:
                    runs.append(backend_floors(hub_url, library_url, orders))
            else:
                with (
                    postgres_server() as admin,
                    postgres_database(admin) as hub_url,
                    postgres_database(admin) as library_url,
                ):
                    runs.append(backend_floors(hub_url, library_url, orders))
            figures = runs[-1]
            print(
                f"{backend} run {run + 1}: raw {figures['raw']:,.0f} rows/s; eventsourcing save "
                f"{figures['saved']:,.0f} msg/s; read and decode {figures['decoded']:,.0f} events/s; "
                f"raw read {figures['raw_read']:,.0f} rows/s",
                flush=True,
            )
        median = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        print(
            f"{backend}, medians of {args.runs}: eventsourcing alone saves {median['saved']:,.0f} msg/s "
            f"({1e6 / median['saved']:.0f} us a message) = {median['saved'] / median['raw']:.3f}x the raw "
            f"limit ({median['raw']:,.0f} rows/s); reads and decodes {median['decoded']:,.0f} events/s = "
            f"{median['decoded'] / median['raw_read']:.3f}x the raw read ({median['raw_read']:,.0f} rows/s)",
            flush=True,
        )
    if args.webhooks:
        payloads = [json.dumps({**order, "id": 7_000_000 + i}).encode() for i in range(args.webhooks)]
        runs = [http_floor(payloads, args.clients) for _ in range(args.runs)]
        for run, figures in enumerate(runs, 1):
            print(
                f"http run {run}: {figures['accepted_per_s']:,.0f}/s, p50 {figures['p50_ms']:.0f} ms, "
                f"p99 {figures['p99_ms']:.0f} ms, not 2xx {figures['not_2xx']:.0f}, "
                f"unanswered {figures['unanswered']:.0f}",
                flush=True,
            )
        rate = statistics.median(r["accepted_per_s"] for r in runs)
        p99 = statistics.median(r["p99_ms"] for r in runs)
        print(
            f"http, medians of {args.runs}: fastapi on uvicorn answering at once takes {rate:,.0f} "
            f"requests/s from {args.clients} clients, p99 {p99:.0f} ms",
            flush=True,
        )


if __name__ == "__main__":
    main()
