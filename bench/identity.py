"""Identity resolution: accuracy on generated data with a known truth, and speed through the hub.

    python bench/identity.py accuracy [--size 5000] [--seeds 3] [--noise realistic|fewer-gaps]
    python bench/identity.py speed [--records 100000] [--backend sqlite|postgres|both]
    python bench/identity.py calibrate [--size 5000] [--seeds 2]
    python bench/identity.py compare [--size 2000] [--seeds 1] [--only NAME] [--csv FILE --id C --truth C]

compare: the hub and Splink side by side on each dataset, in one run (``identity_compare.py``):
FEBRL4 (two systems) and FEBRL1-3 (dedups) without the national id, the generated household data
(a two-system link and a dedup, with twins, family members and namesakes as hard negatives), and
any CSV with a known truth. Per tool: precision, recall, pairwise F1, exact clusters, blocking
recall, hard-negative links, review-queue size, records/s (in memory). Needs ``pip install -e
".[reference]"``.

accuracy: for a two-system link task (persons only, no national id) and a four-system dedup task
(persons and firms), records are resolved one at a time in random arrival order by the resolver
(in memory); prints pairwise precision, recall and F1, the share of true clusters reproduced
exactly, and the links among the hard negatives (twins and family members at one address with
different first names and birthdays; namesakes in different cities), per seed and as medians,
with the recall ceiling of the records themselves: the share of true pairs with any evidence
beyond the name (``hub.identity.accuracy.recall_ceiling``) and the F1 that recall would give at
precision 1; and how many true pairs, and pairs of two people, a rule linking a name found on two
records only (nothing else either way) would link (``name_alone``).

calibrate: the agreement levels' shares that the default model's m and u stand for, measured on
generated data with its known truth — m over every true pair of both tasks, u over 100,000 random
pairs of two people per task and seed — printed beside the defaults, with the weights each gives.
The defaults' u are deliberately above the measured ones (``hub/identity/model.py`` says why).

speed: the dedup task's records go through the whole hub (inbox, mapping, SourceCustomer
aggregates, identity resolution with its tables and CustomerLink events, the customers
projection) in batches of 1,000; prints records/s overall and of identity resolution alone, the
raw limit of the same backend (plain indexed point lookups, the reads a record's neighbourhood
needs), and then ``customers show`` latency p50/p99 over 1,000 random customers and ``customers
search`` latency for 500 names typed with a typo (with how often the person is among the hits). How the
per-record cost grows with the data is measured on probes of the same mix at each tenth (half
a second record of people known by one, half new people): early in a random arrival order
most records are new people, late most join someone, so the stream's own tenths would compare
different work. PostgreSQL: HUB_BENCH_DATABASE_URL or HUB_TEST_DATABASE_URL (an admin URL; a
database is created and dropped per run).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.bootstrap import bootstrap  # noqa: E402
from hub.identity.accuracy import (  # noqa: E402
    level_shares,
    measure,
    name_alone,
    recall_ceiling,
    resolve_in_order,
    review_queue,
)
from hub.identity.compare import compare  # noqa: E402
from hub.identity.model import DEFAULT_MODEL  # noqa: E402
from hub.identity.normalise import normalise  # noqa: E402
from hub.runtime import tune_garbage_collector  # noqa: E402
from hub.settings import HubSettings, SystemConfig  # noqa: E402
from simulators.people import (  # noqa: E402
    FEWER_GAPS,
    REALISTIC,
    Entity,
    Noise,
    Record,
    dedup_task,
    hard_negatives,
    link_task,
    population,
    record_of,
)

PEOPLE = ROOT / "tests" / "fixtures" / "mappings" / "people"
NOISE = {"realistic": REALISTIC, "fewer-gaps": FEWER_GAPS}
SYSTEMS = ("shop", "erp", "crm", "phone", "shop-2", "erp-2", "crm-2", "phone-2", "probe", "fresh")


def accuracy(size: int, seeds: int, noise: Noise) -> None:
    results: dict[str, list[tuple[float, ...]]] = defaultdict(list)
    for seed in range(1, seeds + 1):
        for name, task in (("two-system link", link_task), ("multi-system dedup", dedup_task)):
            rng = random.Random(seed)
            records = task(size, rng, noise)
            rng.shuffle(records)
            profiles = {r.record: normalise(r.record, r.fields) for r in records}
            placed, reviewed = resolve_in_order(profiles.values())
            truth = {r.record: r.truth for r in records}
            result = measure(placed, truth)
            hard = hard_negative_links(task, size, seed, placed)
            ceiling = recall_ceiling(profiles, truth)
            alone = name_alone(profiles, truth)
            queue = review_queue(placed, reviewed, truth)
            row = (result.precision, result.recall, result.f1, result.clusters_exact, hard, ceiling)
            row += (queue.pairs, queue.same_person)
            results[name].append(row)
            print(
                f"seed {seed} {name}: {len(records):,} records, "
                f"P {result.precision:.4f} R {result.recall:.4f} "
                f"F1 {result.f1:.4f}, clusters exact {result.clusters_exact:.4f}, "
                f"hard-negative links {hard}; recall ceiling without name-only links {ceiling:.4f} "
                f"(F1 {2 * ceiling / (1 + ceiling):.4f}); a name on two records only, nothing else "
                f"either way: {alone.true_pairs} true pairs of {result.true_pairs:,}, "
                f"{alone.false_pairs} of two people; review queue {queue.pairs} pairs of customers, "
                f"{queue.same_person} of them one person",
                flush=True,
            )
    for name, rows in results.items():
        p, r, f, c, h, top, shown, same = (statistics.median(x[i] for x in rows) for i in range(8))
        print(
            f"median {name}: P {p:.4f} R {r:.4f} F1 {f:.4f}, clusters exact {c:.4f}, "
            f"hard-negative links {h:g}; recall ceiling without name-only links {top:.4f} "
            f"(F1 {2 * top / (1 + top):.4f}); review queue {shown:g} pairs of customers, "
            f"{same:g} of them one person"
        )


def calibrate(size: int, seeds: int) -> None:
    same, different = [], []
    for seed in range(1, seeds + 1):
        for task in (link_task, dedup_task):
            rng = random.Random(seed)
            records = task(size, rng)
            profiles = [normalise(r.record, r.fields) for r in records]
            by_truth: dict[str, list[int]] = defaultdict(list)
            for i, r in enumerate(records):
                by_truth[r.truth].append(i)
            for group in by_truth.values():
                same += [compare(profiles[i], profiles[j])[0] for i in group for j in group if i < j]
            for _ in range(100_000):
                i, j = rng.randrange(len(records)), rng.randrange(len(records))
                if records[i].truth != records[j].truth:
                    different.append(compare(profiles[i], profiles[j])[0])
    m, u = level_shares(same), level_shares(different)
    print(
        f"{len(same):,} true pairs, {len(different):,} random pairs of two people "
        f"({seeds} seeds, {size:,} entities)"
    )
    print(
        f"{'attribute':<13}{'level':<12}{'m measured':>11}{'default':>9}{'u measured':>12}{'default':>9}"
        f"{'weight measured':>17}{'default':>9}"
    )
    for attribute, levels in DEFAULT_MODEL.m.items():
        for level in levels:
            mm, uu = m.get(attribute, {}).get(level, 0.0), u.get(attribute, {}).get(level, 0.0)
            weight = f"{math.log2(mm / uu):+.1f}" if mm and uu else "n/a"
            print(
                f"{attribute:<13}{level:<12}{mm:>11.4f}{DEFAULT_MODEL.m[attribute][level]:>9}{uu:>12.4f}"
                f"{DEFAULT_MODEL.u[attribute][level]:>9}{weight:>17}{DEFAULT_MODEL.weights[attribute][level]:>+9.1f}"
            )


def hard_negative_links(task: object, size: int, seed: int, placed: dict[str, str]) -> int:
    """Links between twins/family members (different first names and birthdays) or namesakes
    in different cities: the population is rebuilt from the same seed."""
    people = population(size, random.Random(seed), firms=0.0 if task is link_task else 0.1)
    by_truth: dict[str, set[str]] = defaultdict(set)
    for record, customer in placed.items():
        by_truth[record.split(":", 1)[1]].add(customer)
    pairs = hard_negatives(people)
    return sum(1 for a, b in pairs if by_truth.get(a, set()) & by_truth.get(b, set()))


def speed(records_wanted: int, backends: list[str]) -> None:
    for backend in backends:
        with _database(backend) as url:
            _speed(url, records_wanted)


class _database:
    def __init__(self, backend: str) -> None:
        self.backend = backend

    def __enter__(self) -> str:
        if self.backend == "sqlite":
            self.folder = tempfile.TemporaryDirectory()
            return f"sqlite:///{self.folder.name}/identity.db"
        import psycopg

        admin = os.environ.get("HUB_BENCH_DATABASE_URL") or os.environ.get("HUB_TEST_DATABASE_URL")
        if not admin:
            raise SystemExit(
                "PostgreSQL: set HUB_BENCH_DATABASE_URL (or HUB_TEST_DATABASE_URL) to an admin URL"
            )
        self.admin, self.name = admin, f"hub_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {self.name}")
        return admin.rsplit("/", 1)[0] + f"/{self.name}"

    def __exit__(self, *exc: object) -> None:
        if self.backend == "sqlite":
            self.folder.cleanup()
            return
        import psycopg

        with psycopg.connect(self.admin, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def _speed(url: str, wanted: int) -> None:
    # Personal fields are sealed as in production: a throwaway key-encryption key for the run.
    os.environ.setdefault("HUB_KEY_ENCRYPTION_KEY", base64.b64encode(os.urandom(32)).decode())
    systems = {s: SystemConfig(adapter="file", phone_region="DE", mappings=PEOPLE) for s in SYSTEMS}
    hub = bootstrap(HubSettings(database_url=url, systems=systems))
    rng = random.Random(7)
    records = dedup_task(int(wanted / 2.1), rng)[:wanted]
    rng.shuffle(records)
    print(f"{hub.store.target.display}: {len(records):,} records", flush=True)
    follow = hub.identity.follow
    resolving = [0.0]

    def timed_follow(upto: int | None = None) -> int:
        began = time.perf_counter()
        try:
            return follow(upto)
        finally:
            resolving[0] += time.perf_counter() - began

    hub.projector.feeds["customers"] = timed_follow  # the stage that feeds the customer view
    entities = {e.id: e for e in population(int(wanted / 2.1), random.Random(7))}  # dedup_task's own

    def feed(batch: list[Record]) -> tuple[float, float]:
        """Seconds through the whole hub, and of those in identity resolution."""
        by_system: dict[str, list[dict[str, object]]] = defaultdict(list)
        for r in batch:
            system, ref = r.record.split(":", 1)
            by_system[system].append({"headers": {}, "body": {"ref": ref, **r.fields}})
        began, resolved_before = time.perf_counter(), resolving[0]
        for system, envelopes in by_system.items():
            hub.receive(system, envelopes)
        hub.process()
        return time.perf_counter() - began, resolving[0] - resolved_before

    main = [0.0, 0.0]
    probes: list[tuple[int, float, float, float]] = []
    probed: set[str] = set()
    step = len(records) // 10 or 1000  # a probe at every tenth
    for start in range(0, len(records), 1000):
        spent = feed(records[start : start + 1000])
        main = [main[0] + spent[0], main[1] + spent[1]]
        done = start + 1000
        if done % step == 0 or done >= len(records):
            # the growth is read from the first and the last probe: there, the median of three
            # (a stall of the shared machine's disk must not make the figure)
            ends = done == step or done >= len(records)
            runs = []
            for k in range(3 if ends else 1):
                hub_s, res_s = feed(_probe(records[:done], entities, done * 10 + k, probed))
                runs.append((hub_s, res_s, _raw_lookups(hub, 5000)))
            hub_s, res_s, raw_s = (statistics.median(run[i] for run in runs) for i in range(3))
            probes.append((done, hub_s, res_s, raw_s))
            print(
                f"  {min(done, len(records)):,} records: probe of {PROBE:,} at "
                f"{PROBE / hub_s:,.0f} records/s through the hub, {PROBE / res_s:,.0f} resolving; "
                f"raw indexed lookups {raw_s:,.0f}/s" + (" (medians of three probes)" if ends else ""),
                flush=True,
            )
    raw = _raw_lookups(hub, 20_000)
    (n0, hub0, res0, raw0), (n1, hub1, res1, raw1) = probes[0], probes[-1]
    print(
        f"  resolved through the hub: {len(records) / main[0]:,.0f} records/s overall (inbox, mapping, "
        f"aggregates, resolution, projections); raw indexed lookups {raw:,.0f}/s",
        flush=True,
    )
    print(
        f"  of that, identity resolution alone (reading the records' events, neighbourhood, decisions, "
        f"tables and CustomerLink events): {len(records) / main[1]:,.0f} records/s, "
        f"{main[1] / main[0]:.0%} of the time; ratio to raw lookups {len(records) / main[1] / raw:.4f}",
        flush=True,
    )
    print(
        f"  per-record cost of the same mix (half new people, half a second record of people known by one) "
        f"from "
        f"{n0:,} to {n1:,} records: through the hub {hub1 / hub0:.2f}x, resolving {res1 / res0:.2f}x; "
        f"the raw lookups' own cost {raw0 / raw1:.2f}x",
        flush=True,
    )
    customers = [r["customer"] for r in hub.store.query("SELECT DISTINCT customer FROM hub_cust_members")]
    sample = random.Random(3).sample(customers, min(1000, len(customers)))
    hub.customers.thresholds()  # the population cut-offs, computed once per 10 minutes
    latencies = []
    for customer in sample:
        began = time.perf_counter()
        json.dumps(hub.customers.show(customer), default=str)
        latencies.append((time.perf_counter() - began) * 1000)
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1]
    print(
        f"  customers show over {len(sample)} of {len(customers):,} customers: "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
    )
    _search_latency(hub)
    hub.close()


PROBE = 1000


def _search_latency(hub: object) -> None:
    """``customers search`` for 500 random persons' names with a letter of the family name lost
    (a typo): latency, and how often the person's customer is among the hits."""
    rows = hub.store.query(  # type: ignore[attr-defined]
        "SELECT customer, profile FROM hub_identity_records ORDER BY record"
    )
    people = [(r["customer"], json.loads(r["profile"])) for r in rows]
    people = [(c, p) for c, p in people if p["kind"] == "person" and p["given"] and len(p["family"]) > 4]
    rng = random.Random(5)
    latencies, found = [], 0
    for customer, profile in rng.sample(people, min(500, len(people))):
        family = profile["family"]
        cut = rng.randrange(1, len(family))
        query = f"{profile['given'].split()[0]} {family[:cut] + family[cut + 1 :]}"
        began = time.perf_counter()
        hits = hub.customers.search(query)  # type: ignore[attr-defined]
        latencies.append((time.perf_counter() - began) * 1000)
        found += any(h["customer_id"] == customer for h in hits)
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1]
    print(
        f"  customers search for {len(latencies)} names with a typo: p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
        f"the person among the hits {found / len(latencies):.1%}"
    )


def _probe(loaded: list[Record], entities: dict[str, Entity], tag: int, probed: set[str]) -> list[Record]:
    """The same work at every size: half records of people the hub knows by one record so far (a
    record in a further system), half of people new to it. Known people with more records would
    make the late probes compare more records of the same person: more work of another kind, not
    the cost of a larger database. ``probed``: people an earlier probe gave a second record;
    ``tag``: this probe's own, for its seeds and record ids."""
    rng = random.Random(tag)
    seen = Counter(r.truth for r in loaded)
    pool = sorted(e for e, n in seen.items() if n == 1 and e not in probed)
    if len(pool) < PROBE // 2:  # a short run: not enough such people left for every probe
        print(f"  (probe {tag}: only {len(pool)} people known by one record left; the rest new)")
    known = rng.sample(pool, min(PROBE // 2, len(pool)))
    probed.update(known)
    fresh = population(PROBE - len(known), random.Random(-tag), beside=list(entities.values()))
    return [record_of(entities[e], f"probe:{e}-{tag}", rng) for e in known] + [
        record_of(e, f"fresh:{e.id}-{tag}", rng) for e in fresh
    ]


def _raw_lookups(hub: object, lookups: int) -> float:
    """Plain indexed point reads of the kind a record's neighbourhood needs: blocking keys drawn
    at random from all of them, one query each."""
    store = hub.store  # type: ignore[attr-defined]
    every = [r["key"] for r in store.query("SELECT key FROM hub_identity_keys")]
    keys = random.Random(lookups).sample(every, min(lookups, len(every)))
    began, n = time.perf_counter(), 0
    with store.reading() as cursor:
        for key in keys:
            cursor.execute(store.sql("SELECT record FROM hub_identity_keys WHERE key = ?"), [key])
            cursor.fetchall()
            n += 1
    return n / (time.perf_counter() - began)


def compare_tools(args: argparse.Namespace) -> None:
    import logging
    from functools import partial

    from febrl import TASKS as FEBRL
    from identity_compare import compare_all, csv_task, febrl_task, generated_task

    logging.getLogger("splink").setLevel(logging.ERROR)
    attributes = dict(a.split("=", 1) for a in args.attribute)
    tasks = {name: partial(febrl_task, name, files) for name, files in FEBRL.items()}
    tasks |= {f"households {kind}": partial(generated_task, kind, args.size) for kind in ("link", "dedup")}
    for path in args.csv:
        tasks[path.name] = lambda seed, path=path: csv_task(
            path, ident=args.id, truth=args.truth, source=args.source, attributes=attributes
        )
    chosen = [make for name, make in tasks.items() if not args.only or any(o in name for o in args.only)]
    compare_all(chosen, args.seeds, engine=args.engine)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="part", required=True)
    acc = sub.add_parser("accuracy")
    acc.add_argument("--size", type=int, default=5000, help="entities per task")
    acc.add_argument("--seeds", type=int, default=3)
    acc.add_argument(
        "--noise",
        choices=sorted(NOISE),
        default="realistic",
        help="realistic: the generator's default; fewer-gaps: the same errors, fewer blank fields",
    )
    cal = sub.add_parser("calibrate")
    cal.add_argument("--size", type=int, default=5000, help="entities per task")
    cal.add_argument("--seeds", type=int, default=2)
    cmp = sub.add_parser("compare")
    cmp.add_argument("--size", type=int, default=2000, help="entities per generated task")
    cmp.add_argument("--seeds", type=int, default=1, help="arrival orders (and generated populations)")
    cmp.add_argument("--only", action="append", default=[], help="datasets whose name contains this")
    cmp.add_argument("--engine", action="store_true", help="also Splink scoring one record at a time")
    cmp.add_argument("--csv", type=Path, action="append", default=[], help="a CSV with a known truth")
    cmp.add_argument("--id", default="unique_id", help="CSV: the record id column")
    cmp.add_argument("--truth", default="cluster", help="CSV: the column naming the true entity")
    cmp.add_argument("--source", default=None, help="CSV: the column naming the system (two: a link)")
    cmp.add_argument(
        "--attribute", action="append", default=[], help="CSV: NAME=exact|fuzzy|numeric, compared by the hub"
    )
    spd = sub.add_parser("speed")
    spd.add_argument("--records", type=int, default=100_000)
    spd.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    args = parser.parse_args()
    tune_garbage_collector()
    if args.part == "accuracy":
        accuracy(args.size, args.seeds, NOISE[args.noise])
    elif args.part == "calibrate":
        calibrate(args.size, args.seeds)
    elif args.part == "compare":
        compare_tools(args)
    else:
        speed(args.records, ["sqlite", "postgres"] if args.backend == "both" else [args.backend])


if __name__ == "__main__":
    main()
