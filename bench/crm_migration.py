"""Benchmark: the initial migration of a legacy CRM export through ``hub ingest``'s path, against
the raw write limit of the same backend measured in the same run.

    python bench/crm_migration.py [--contacts 100000] [--runs 1] [--backend sqlite|postgres|both]

A generated export (``simulators/crm/legacy.py``: contacts of a realistic population with twins,
families and firms, ~1 activity per contact, tickets for one in ten, one unreadable contact row in
a thousand) is taken file by file as ``hub ingest`` does — streamed into the inbox, then processed
into aggregates, the projections and identity resolution (every contact resolved against all
before it). Per run: rows/s end to end, the part of it that is identity resolution, and the ratio
to the raw limit (batched INSERT/COPY of equivalent rows, ``bench/ingest.py``). Medians last.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.files import take_file  # noqa: E402
from bench.ingest import postgres_database, postgres_server, raw_rate, sqlite_database  # noqa: E402
from hub.bootstrap import bootstrap  # noqa: E402
from hub.runtime import tune_garbage_collector  # noqa: E402
from hub.settings import HubSettings, SystemConfig  # noqa: E402
from simulators.crm.legacy import write_legacy_export  # noqa: E402
from simulators.people import population  # noqa: E402


def migrate(url: str, files: list[Path], rows: int) -> dict[str, float]:
    settings = HubSettings(
        database_url=url,
        mappings_dir=ROOT / "mappings",
        batch_size=1000,
        systems={"legacy_crm": SystemConfig(adapter="file", timezone="Europe/Berlin", phone_region="DE")},
    )
    hub = bootstrap(settings)
    try:
        raw = raw_rate(hub, rows)
        started = time.perf_counter()
        for path in files:
            take_file(hub.ports, hub.receive, "legacy_crm", path)
        stored = time.perf_counter()
        report = hub.process()
        finished = time.perf_counter()
        customers = hub.store.query("SELECT COUNT(DISTINCT customer) AS n FROM hub_cust_members")[0]["n"]
        letters = hub.dead_letters.count()
    finally:
        hub.close()
    return {
        "rows": rows,
        "rate": rows / (finished - started),
        "receive_rate": rows / (stored - started),
        "process_rate": rows / (finished - stored),
        "raw_rate": raw,
        "ratio": rows / (finished - started) / raw,
        "dead_letters": letters,
        "processed": report.processed,
        "customers": customers,
    }


def run_backend(
    name: str, database: Callable[[], Iterator[str]], files: list[Path], rows: int, runs: int
) -> list[dict[str, float]]:
    results = []
    for run in range(1, runs + 1):
        with database() as url:
            figures = migrate(url, files, rows)
        print(
            f"{name} run {run}: "
            + ", ".join(f"{k} {v:,.3f}" if k == "ratio" else f"{k} {v:,.0f}" for k, v in figures.items()),
            flush=True,
        )
        results.append(figures)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    tune_garbage_collector()
    with tempfile.TemporaryDirectory() as folder:
        export = write_legacy_export(
            Path(folder), population(args.contacts, random.Random(3)), random.Random(3), bad_every=1000
        )
        files = [export.contacts, export.activities, export.tickets]
        rows = sum(sum(1 for _ in path.open(encoding="utf-8")) - 1 for path in files)
        print(
            f"export: {rows:,} rows ({args.contacts:,} contacts), "
            f"{sum(p.stat().st_size for p in files) / 1e6:.1f} MB"
        )
        summary = {}
        if args.backend in ("sqlite", "both"):
            summary["sqlite"] = run_backend("sqlite", sqlite_database, files, rows, args.runs)
        if args.backend in ("postgres", "both"):
            with postgres_server() as admin:
                summary["postgres"] = run_backend(
                    "postgres", lambda: postgres_database(admin), files, rows, args.runs
                )
    print("\nmedians")
    for backend, results in summary.items():
        median = {k: statistics.median(r[k] for r in results) for k in results[0]}
        print(
            f"  {backend:<8} {median['rate']:,.0f} rows/s end to end (store {median['receive_rate']:,.0f}, "
            f"process+resolve {median['process_rate']:,.0f}); raw {median['raw_rate']:,.0f} rows/s; "
            f"ratio {median['ratio']:.4f}; {median['customers']:,.0f} customers, "
            f"{median['dead_letters']:,.0f} dead letters"
        )


if __name__ == "__main__":
    main()
