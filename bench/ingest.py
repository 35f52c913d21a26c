"""Benchmark: realistic shop messages through the whole pipeline, against the raw write limit of
the same backend measured in the same run.

    python bench/ingest.py [--messages 100000] [--runs 3] [--backend sqlite|postgres|both]
                           [--baseline bench/baseline.json] [--save-baseline] [--fail-on-regression]

For each backend and run it measures
  * raw: batched INSERT (SQLite) / COPY (PostgreSQL) of equivalent rows — ~400-byte JSON, a unique
    (stream, version) index and a global position — rows/s;
  * hub: receive (inbox, batches of 1000 as the adapters do) + process + order-tracking projection,
    messages/s, and the ratio hub ÷ raw;
  * rebuild: order-tracking projection rebuilt from the whole log, events/s;
  * latency (SQLite): receipt → visible in order tracking under a steady 1,000 messages/s
    (``--latency-rate``), p50/p99,
    with the stages on their threads as ``hub run`` runs them;
  * the cost per message of each stage (receive, map, handle, write — append, hash chain and
    commit —, each projection, identity resolution and its one-off training), read from the
    hub's own ``hub_stage_seconds_total`` metric: in microseconds, in raw rows (the same time
    spent writing raw rows of the same run) and in units of a CPU reference measured in the same
    run (the same messages through JSON and back), of the stage's CPU time (the thread's, from
    ``hub_stage_cpu_seconds_total``): on a shared machine wall time and the raw disk rate of
    one run vary by half with the other tenants' load, a thread's CPU time far less.
Medians over the runs are printed last, then each stage against ``bench/baseline.json`` (committed,
written by ``--save-baseline`` from a run of the same message count): a stage whose cost in CPU
units grew by more than 15 % beyond the drift of the median stage is flagged
(``--fail-on-regression``: exit status 1 then); the total's change is printed beside it. The raw
rate is the best of five short runs, the CPU reference too.
PostgreSQL: HUB_BENCH_DATABASE_URL (an admin URL; a database is created and dropped per run),
else HUB_TEST_DATABASE_URL, else a private pgserver.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from entrypoints.background import BackgroundProcessor  # noqa: E402
from hub.bootstrap import Hub, bootstrap  # noqa: E402
from hub.processing import BatchReport  # noqa: E402
from hub.runtime import tune_garbage_collector  # noqa: E402
from hub.settings import HubSettings, SystemConfig  # noqa: E402
from simulators.bulk import shop_messages  # noqa: E402

CHUNK = 1000
BASELINE = ROOT / "bench" / "baseline.json"
SLOWER = 1.15  # a stage more than 15 % dearer, in raw rows, than in the baseline is flagged
RAW_ROW = json.dumps({"order": "x" * 300, "lines": [1, 2, 3], "amount": "123.45"})  # ~360 bytes


def settings(url: str) -> HubSettings:
    return HubSettings(
        database_url=url,
        mappings_dir=ROOT / "mappings",
        batch_size=1000,
        systems={"shopify": SystemConfig(adapter="shopify")},
    )


# -- databases -------------------------------------------------------------------------------------


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


@contextmanager
def postgres_server() -> Iterator[str]:
    admin = os.environ.get("HUB_BENCH_DATABASE_URL") or os.environ.get("HUB_TEST_DATABASE_URL")
    if admin:
        yield admin
        return
    import pgserver

    with tempfile.TemporaryDirectory() as folder:
        server = pgserver.get_server(folder, cleanup_mode="stop")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


@contextmanager
def postgres_database(admin: str) -> Iterator[str]:
    import psycopg

    name = f"hub_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- raw limit -------------------------------------------------------------------------------------


def raw_rate(hub: Hub, rows: int, tries: int = 5) -> float:
    """Equivalent rows written the fastest batched way the backend offers: the best of
    ``tries`` (a limit, and one short run on a shared disk varies by half)."""
    return max(_raw_once(hub, rows) for _ in range(tries))


def cpu_reference(messages: list[dict], tries: int = 5) -> float:
    """Seconds per message of a fixed CPU-bound work on the same messages (JSON out and back),
    the best of ``tries``: the stages are mostly CPU, so their cost in this unit compares across
    days and machines where the raw disk rate does not."""
    best = float("inf")
    for _ in range(tries):
        began = time.thread_time()
        for message in messages:
            json.loads(json.dumps(message))
        best = min(best, time.thread_time() - began)
    return best / len(messages)


def _raw_once(hub: Hub, rows: int) -> float:
    store = hub.store
    serial = "INTEGER" if store.dialect == "sqlite" else "BIGSERIAL"
    with store.transaction() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw")
        cursor.execute(
            f"CREATE TABLE bench_raw (position {serial} PRIMARY KEY, stream TEXT NOT NULL, "
            "version INTEGER NOT NULL, data TEXT NOT NULL, UNIQUE (stream, version))"
        )
    streams = [uuid.uuid4().hex for _ in range(rows // 3 + 1)]
    data = [(streams[i // 3], i % 3, RAW_ROW) for i in range(rows)]
    started = time.perf_counter()
    for start in range(0, rows, CHUNK):
        chunk = data[start : start + CHUNK]
        with store.transaction() as cursor:
            if store.dialect == "sqlite":
                cursor.executemany("INSERT INTO bench_raw (stream, version, data) VALUES (?, ?, ?)", chunk)
            else:
                with cursor.copy("COPY bench_raw (stream, version, data) FROM STDIN") as copy:
                    for row in chunk:
                        copy.write_row(row)
    elapsed = time.perf_counter() - started
    with store.transaction() as cursor:
        cursor.execute("DROP TABLE bench_raw")
    return rows / elapsed


# -- the hub pipeline ------------------------------------------------------------------------------


def pipeline(hub: Hub, messages: list[dict]) -> dict[str, float]:
    started = time.perf_counter()
    for start in range(0, len(messages), CHUNK):
        hub.receive("shopify", messages[start : start + CHUNK])
    stored = time.perf_counter()
    report = hub.process()
    finished = time.perf_counter()
    assert report.processed + report.dead_lettered == len(messages), report
    stages = hub.metrics.stages()
    events = hub.store.head()
    rebuild_started = time.perf_counter()
    hub.projector.rebuild("order_tracking", verify=False)
    rebuilt = time.perf_counter()
    return {
        "hub_rate": len(messages) / (finished - started),
        "receive_rate": len(messages) / (stored - started),
        "process_rate": len(messages) / (finished - stored),
        "events": events,
        "rebuild_rate": events / (rebuilt - rebuild_started),
        # seconds per message: wall and this thread's CPU
        **{f"stage {stage}": wall / len(messages) for stage, (wall, _, _) in stages.items()},
        **{f"cpu {stage}": cpu / len(messages) for stage, (_, cpu, _) in stages.items()},
    }


def latency(hub: Hub, messages: list[dict], rate: int = 1000, seconds: float = 10) -> tuple[float, float]:
    """Receipt → visible in order tracking while a producer sends ``rate`` messages/s, with the
    stages on their threads as ``hub run`` runs them (processing, which follows order tracking
    inline; identity and the other projections catching up beside it). A message counts as
    visible when the batch that processed it has committed."""
    count = min(len(messages), int(rate * seconds))
    received: dict[int, float] = {}
    visible: dict[int, float] = {}
    base = hub.inbox.head()

    def processed(report: BatchReport) -> None:
        now = time.perf_counter()
        for position in range(len(visible) + 1, report.position - base + 1):
            visible[position] = now

    background = BackgroundProcessor(hub, idle_seconds=0.05, on_batch=processed)
    background.start()
    try:
        tick = 0.01
        per_tick = max(1, int(rate * tick))
        started = time.perf_counter()
        sent = 0
        while sent < count:
            target = started + (sent / rate)
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            batch = messages[sent : sent + per_tick]
            hub.receive("shopify", batch)
            now = time.perf_counter()
            for offset in range(len(batch)):
                received[sent + offset + 1] = now
            sent += len(batch)
            background.wake()
        deadline = time.perf_counter() + 600
        while len(visible) < count and time.perf_counter() < deadline:
            time.sleep(0.01)
    finally:
        background.stop()
    samples = sorted(visible[p] - received[p] for p in received)
    return statistics.median(samples) * 1000, samples[int(len(samples) * 0.99) - 1] * 1000


# -- driver ----------------------------------------------------------------------------------------


def run_backend(
    name: str,
    database: Callable[[], Iterator[str]],
    messages: list[dict],
    runs: int,
    latency_rate: int | None,
) -> list[dict[str, float]]:
    results = []
    for run in range(1, runs + 1):
        with database() as url:
            hub = bootstrap(settings(url))
            try:
                raw = raw_rate(hub, len(messages))
                reference = cpu_reference(messages)
                figures = pipeline(hub, messages)
                figures["raw_rate"] = raw
                figures["cpu_reference_us"] = reference * 1e6
                figures["ratio"] = figures["hub_rate"] / raw
            finally:
                hub.close()
        if latency_rate:
            with database() as url:
                hub = bootstrap(settings(url))
                try:
                    figures["p50_ms"], figures["p99_ms"] = latency(hub, messages, rate=latency_rate)
                finally:
                    hub.close()
        print(
            f"{name} run {run}: "
            + ", ".join(
                f"{k} {v:,.3f}" if k == "ratio" else f"{k} {v:,.1f}"
                for k, v in figures.items()
                if not k.startswith(("stage ", "cpu "))
            ),
            flush=True,
        )
        results.append(figures)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--baseline", type=Path, default=BASELINE, help="figures to compare with")
    parser.add_argument("--save-baseline", action="store_true", help="write this run's medians there")
    parser.add_argument("--fail-on-regression", action="store_true", help="exit 1 when a stage is flagged")
    parser.add_argument(
        "--latency-rate", type=int, default=1000, help="messages/s the latency run sends (SQLite)"
    )
    args = parser.parse_args()
    # Throwaway databases: a key of the benchmark's own encrypts their personal fields unless the
    # caller set one (PostgreSQL has no key-file fallback, and nobody should have to set it).
    os.environ.setdefault("HUB_KEY_ENCRYPTION_KEY", "YmVuY2gta2V5LWVuY3J5cHRpb24ta2V5LTMyLWJ5dGU=")
    tune_garbage_collector()  # as the hub command does
    messages = list(shop_messages(args.messages, seed=11))
    size = sum(len(json.dumps(m)) for m in messages) / len(messages)
    print(f"{len(messages):,} messages, {size:.0f} bytes each on average; {args.runs} run(s) per backend")
    summary = {}
    if args.backend in ("sqlite", "both"):
        summary["sqlite"] = run_backend(
            "sqlite", sqlite_database, messages, args.runs, latency_rate=args.latency_rate
        )
    if args.backend in ("postgres", "both"):
        with postgres_server() as admin:
            summary["postgres"] = run_backend(
                "postgres", lambda: postgres_database(admin), messages, args.runs, latency_rate=None
            )
    print("\nmedians")
    medians_of: dict[str, dict[str, float]] = {}
    for backend, results in summary.items():
        keys = {k for r in results for k in r}
        medians = {k: statistics.median(r.get(k, 0.0) for r in results) for k in sorted(keys)}
        medians_of[backend] = medians
        print(
            f"  {backend:<8} hub {medians['hub_rate']:,.0f} msg/s (receive {medians['receive_rate']:,.0f}, "
            f"process+project {medians['process_rate']:,.0f}); raw {medians['raw_rate']:,.0f} rows/s; "
            f"ratio {medians['ratio']:.3f}; rebuild {medians['rebuild_rate']:,.0f} events/s"
            + (
                f"; latency p50 {medians['p50_ms']:.1f} ms, p99 {medians['p99_ms']:.1f} ms "
                f"at {args.latency_rate:,} msg/s"
                if "p50_ms" in medians
                else ""
            )
        )
    flagged = guard(medians_of, args.messages, args.baseline)
    if args.save_baseline:
        save_baseline(medians_of, args.messages, args.baseline)
    if flagged and args.fail_on_regression:
        raise SystemExit(1)


# -- regression guard ------------------------------------------------------------------------------


def stage_costs(medians: dict[str, float]) -> dict[str, tuple[float, float, float]]:
    """Per stage: wall microseconds per message, the same time in raw rows of the run, and its
    CPU time in units of the run's CPU reference (what the guard compares)."""
    return {
        key.removeprefix("stage "): (
            seconds * 1e6,
            seconds * medians["raw_rate"],
            medians.get("cpu " + key.removeprefix("stage "), 0.0) * 1e6 / medians["cpu_reference_us"],
        )
        for key, seconds in medians.items()
        if key.startswith("stage ")
    }


def guard(medians_of: dict[str, dict[str, float]], messages: int, path: Path) -> list[str]:
    """Each stage's cost per message now and in the baseline; returns the stages flagged."""
    baseline = json.loads(path.read_text()) if path.exists() else {}
    if baseline and baseline.get("messages") != messages:
        print(
            f"\nnote: the baseline ({path.name}) was measured on {baseline.get('messages'):,} messages, "
            f"this run on {messages:,}: costs grow with the data, so compare like with like"
        )
    flagged = []
    for backend, medians in medians_of.items():
        before = baseline.get("backends", {}).get(backend, {})
        old = {k: tuple(v) for k, v in before.get("stages", {}).items() if len(v) == 3}
        print(
            f"\n{backend}: cost per message by stage; raw rows: the same time spent writing raw rows; "
            f"cpu: the stage's CPU time in units of the CPU reference ({medians['cpu_reference_us']:.1f} "
            "µs a message, JSON out and back), what the guard compares"
            + (f"; against {path.name} of {baseline.get('commit', '?')}" if old else "; no baseline")
        )
        heading = f"  {'stage':<22}{'µs/msg':>10}{'raw rows':>10}{'cpu':>8}"
        print(heading + (f"{'baseline':>10}{'change':>9}{'vs drift':>10}" if old else ""))
        costs = stage_costs(medians)
        changes = {s: costs[s][2] / old[s][2] for s in costs if s in old and old[s][2] > 0}
        # The machine's drift between the two runs: the median change of all stages (a shared
        # machine's CPU time varies by a fifth from hour to hour, the same for every stage); a
        # stage is flagged when it grew more than 15 % beyond that.
        drift = statistics.median(changes.values()) if changes else 1.0
        for stage in sorted(costs.keys() | old.keys(), key=lambda s: -costs.get(s, (0.0, 0.0, 0.0))[2]):
            micro, rows, cpu = costs.get(stage, (0.0, 0.0, 0.0))
            line = f"  {stage:<22}{micro:>10,.1f}{rows:>10.2f}{cpu:>8.2f}"
            if stage in changes:
                line += f"{old[stage][2]:>10.2f}{changes[stage]:>8.2f}x{changes[stage] / drift:>9.2f}x"
                if changes[stage] / drift > SLOWER:
                    line += "  SLOWER"
                    flagged.append(f"{backend} {stage}")
            elif old:
                line += f"{'-':>10}{'new':>9}"
            print(line)
        totals = [sum(cost[i] for cost in costs.values()) for i in range(3)]
        print(f"  {'all stages':<22}{totals[0]:>10,.1f}{totals[1]:>10.2f}{totals[2]:>8.2f}")
        if before:
            old_total = sum(v[2] for v in old.values())
            print(
                f"  all stages in CPU units {totals[2] / old_total:.2f}x the baseline (the drift of the "
                f"median stage {drift:.2f}x); hub ÷ raw: {medians['ratio']:.4f} now, "
                f"{before['ratio']:.4f} in the baseline"
            )
    if flagged:
        print(
            f"\nflagged (> {SLOWER - 1:.0%} dearer than the baseline in CPU units, beyond the machine's "
            f"drift): {', '.join(flagged)}"
        )
    return flagged


def save_baseline(medians_of: dict[str, dict[str, float]], messages: int, path: Path) -> None:
    import platform
    import subprocess

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    document = {
        "commit": commit or "unknown",
        "measured": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "messages": messages,
        "backends": {
            backend: {
                "hub_rate": round(m["hub_rate"], 1),
                "raw_rate": round(m["raw_rate"], 1),
                "ratio": round(m["ratio"], 5),
                "cpu_reference_us": round(m["cpu_reference_us"], 3),
                "p99_ms": round(m.get("p99_ms", 0.0), 1),
                # per stage: µs a message, raw rows, CPU reference units
                "stages": {name: [round(x, 4) for x in cost] for name, cost in stage_costs(m).items()},
            }
            for backend, m in medians_of.items()
        },
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nbaseline written to {path}")


if __name__ == "__main__":
    main()
