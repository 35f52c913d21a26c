"""Benchmark: audit by replay over a large log, and what tamper evidence and encryption cost.

    python bench/audit.py [--events 1000000] [--backend sqlite|postgres|both]

Per backend, on a log built from Shopify-shaped traffic (orders, payments, fulfilments, customers):
  * raw read: page scan of the events table with JSON decoding of every state, rows/s (the limit);
  * replay: every event decoded by the hub (upcasting, opening sealed personal fields) and applied
    to its aggregate — the state of everything as of the end of the log — events/s, and ÷ raw;
  * rebuild of the order-tracking projection, events/s, and ÷ raw;
  * `hub audit verify` over the whole log, events/s;
  * as-of latency of one aggregate with 1,000 events (median of 20), ms;
  * ingest (receive + process + project) with and without hash chain and personal-data sealing,
    same run, messages/s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import hub.bootstrap as bootstrap_module  # noqa: E402
from bench.ingest import postgres_database, postgres_server, settings, sqlite_database  # noqa: E402
from hub.audit.verify import verify  # noqa: E402
from hub.bootstrap import Hub, bootstrap  # noqa: E402
from hub.persistence.chain import ChainedRecording  # noqa: E402
from hub.runtime import tune_garbage_collector  # noqa: E402
from hub.store import Store  # noqa: E402
from simulators.bulk import shop_messages  # noqa: E402
from tests.shop_messages import envelope, fixture, order  # noqa: E402

PAGE = 10_000


def build_log(hub: Hub, events: int) -> int:
    """Feed traffic until the log holds at least ``events`` events."""
    seed, first = 1, 1
    while hub.store.head() < events:
        needed = max(int((events - hub.store.head()) / 1.45), 1000)
        batch = list(shop_messages(min(needed, 200_000), seed=seed, first_order=first))
        seed, first = seed + 1, first + len(batch)  # fresh order numbers: nothing is a duplicate
        for start in range(0, len(batch), 2000):
            hub.receive("shopify", batch[start : start + 2000])
        hub.process()
    return hub.store.head()


def raw_read(store: Store) -> float:
    table = store.recorder.events_table_name
    column = "rowid" if store.dialect == "sqlite" else "notification_id"
    started, after, rows = time.perf_counter(), 0, 0
    while True:
        page = store.query(
            f"SELECT {column} AS n, state FROM {table} WHERE {column} > ? ORDER BY {column} LIMIT ?",
            (after, PAGE),
        )
        if not page:
            break
        for row in page:
            json.loads(bytes(row["state"]))
        rows += len(page)
        after = page[-1]["n"]
    return rows / (time.perf_counter() - started)


def replay(store: Store) -> float:
    started, position, count = time.perf_counter(), 0, 0
    aggregates: dict = {}
    while notifications := store.notifications(position, PAGE):
        for notification in notifications:
            event = store.decode(notification)
            aggregates[event.originator_id] = event.mutate(aggregates.get(event.originator_id))
        count += len(notifications)
        position = notifications[-1].id
    return count / (time.perf_counter() - started)


def timed(action: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    action()
    return count / (time.perf_counter() - started)


def as_of_latency(hub: Hub) -> float:
    """Order 1 and 999 failed payment attempts on it: one aggregate with 1,000 events."""
    hub.receive("shopify", [order(1)])
    attempts = []
    for number in range(999):
        body = {
            **fixture("transaction"),
            "id": 10_000 + number,
            "order_id": 1,
            "kind": "authorization",
            "status": "failure",
        }
        attempts.append(envelope("order_transactions/create", body))
    hub.receive("shopify", attempts)
    hub.process()
    key = hub.orders.order_id("1", "shopify")
    assert key is not None and len(hub.history.events(key)) == 1000, "expected 1,000 events"
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        hub.history.as_of(key, datetime.now(UTC) + timedelta(seconds=1))
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def ingest_rate(database: Callable, messages: list[dict], *, chain: bool, seal: bool) -> float:
    original_chain, original_keys = ChainedRecording.links, bootstrap_module.open_keys
    if not chain:
        ChainedRecording.links = lambda self, cursor, stored, ids: []  # type: ignore[method-assign]
    if not seal:
        bootstrap_module.open_keys = lambda settings: None  # type: ignore[assignment,return-value]
    try:
        with database() as url:
            hub = bootstrap(settings(url))
            try:
                started = time.perf_counter()
                for start in range(0, len(messages), 1000):
                    hub.receive("shopify", messages[start : start + 1000])
                hub.process()
                return len(messages) / (time.perf_counter() - started)
            finally:
                hub.close()
    finally:
        ChainedRecording.links, bootstrap_module.open_keys = original_chain, original_keys  # type: ignore[method-assign]


def run(name: str, database: Callable, events: int) -> None:
    with database() as url:
        hub = bootstrap(settings(url))
        try:
            started = time.perf_counter()
            total = build_log(hub, events)
            print(
                f"{name}: log of {total:,} events built in {time.perf_counter() - started:,.0f} s", flush=True
            )
            raw = statistics.median(raw_read(hub.store) for _ in range(3))
            replayed = statistics.median(replay(hub.store) for _ in range(3))
            rebuilt = timed(lambda: hub.projector.rebuild("order_tracking", verify=False), total)
            verified = timed(lambda: verify(hub.store), total)
            latency = as_of_latency(hub)
        finally:
            hub.close()
    print(
        f"{name}: raw read {raw:,.0f} rows/s; replay {replayed:,.0f} events/s (ratio {replayed / raw:.2f}); "
        f"rebuild {rebuilt:,.0f} events/s (ratio {rebuilt / raw:.2f}); verify {verified:,.0f} events/s; "
        f"as-of of a 1,000-event aggregate {latency:.1f} ms",
        flush=True,
    )


def run_ingest(name: str, database: Callable, runs: int = 5) -> None:
    """The three variants interleaved run by run, so drift on a shared machine hits all alike."""
    sample = list(shop_messages(20_000, seed=77))
    variants = {"plain": (False, False), "chained": (True, False), "sealed": (True, True)}
    rates: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(runs):
        for variant, (chain, seal) in variants.items():
            rates[variant].append(ingest_rate(database, sample, chain=chain, seal=seal))
    plain, chained, full = (statistics.median(rates[v]) for v in variants)
    print(
        f"{name}: ingest (median of {runs}, interleaved) without chain and sealing {plain:,.0f} msg/s, "
        f"with chain {chained:,.0f} ({chained / plain - 1:+.1%}), with chain and sealing {full:,.0f} "
        f"({full / plain - 1:+.1%})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--part", choices=["replay", "ingest", "all"], default="all")
    args = parser.parse_args()
    tune_garbage_collector()
    with postgres_server() as admin:
        backends = {"sqlite": sqlite_database, "postgres": lambda: postgres_database(admin)}
        for name, database in backends.items():
            if args.backend not in (name, "both"):
                continue
            if args.part in ("replay", "all"):
                run(name, database, args.events)
            if args.part in ("ingest", "all"):
                run_ingest(name, database)


if __name__ == "__main__":
    main()
