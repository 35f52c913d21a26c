"""The best batch linkage tool on the same records as the hub, in the same run: the reference the
accuracy targets are stated against.

    pip install -e ".[reference]"
    python bench/splink_reference.py [--size 5000] [--seeds 3] [--noise realistic|fewer-gaps]

Splink (the Ministry of Justice's Fellegi-Sunter linker on DuckDB) links in batch: it sees every
record at once, learns its weights from them without labels (u by random sampling, m by
expectation maximisation) and clusters the scored pairs by connected components at a threshold.
The hub resolves the same records one at a time, as they arrive, with its default model. Both are
given the same preparation: the hub's normalised profile of each record (names folded, e-mail
canonical, phone in E.164, street spelt out), so the comparison is of matching, not of cleaning.

Tasks: the two-system link and the dedup of ``bench/identity.py accuracy`` (the dedup's persons:
Splink's comparisons here are for people), FEBRL4's two-system link and the FEBRL1, 2 and 3
dedups (``bench/febrl.py``), all without a national id. Splink is given two models that differ
in the address, compared field by field as its own examples do or as one comparison (three
columns of one address are not independent evidence), and the better one per task is reported.
Its pairwise precision, recall and F1 are printed at the match probability of 0.9 its tutorials
use, and at the match weight that gives it its best F1 against the truth: an oracle no batch
tool has without labels, so an upper bound. With each, the links among the hard negatives
(twins, family members, namesakes: as in ``bench/identity.py``). Seconds: Splink's training,
scoring and clustering at 0.9 on DuckDB; the hub's resolution in memory.
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from febrl import TASKS as FEBRL  # noqa: E402
from febrl import febrl_records  # noqa: E402
from identity import NOISE, hard_negative_links  # noqa: E402

from hub.demo.people import dedup_task, link_task  # noqa: E402
from hub.identity.accuracy import measure, resolve_in_order  # noqa: E402
from hub.identity.normalise import Profile, normalise  # noqa: E402

try:
    import pyarrow as pa
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
except ImportError:
    sys.exit('Splink is not installed: pip install -e ".[reference]" (splink 5, duckdb, pyarrow)')

WEIGHTS = tuple(range(-10, 41, 2))  # match weights (log2 Bayes factors) to cluster at
USUAL = 0.9  # match probability


@dataclass(frozen=True)
class Task:
    name: str
    profiles: dict[str, Profile]  # in arrival order
    truth: dict[str, str]
    systems: tuple[str, ...] | None  # two systems: a link; None: a dedup
    hard: Callable[[dict[str, str]], int] | None  # links among the hard negatives of a placement


def columns(p: Profile) -> dict[str, str | None]:
    """A profile as the flat row Splink compares: first e-mail and phone, street, postcode, town."""
    return {
        "unique_id": p.record,
        "source": p.record.split(":")[0],
        "given": p.given or None,
        "family": p.family or None,
        "birth": p.birth.isoformat() if p.birth else None,
        "email": min(p.emails) if p.emails else None,
        "phone": min(p.phones) if p.phones else None,
        "street": p.street or None,
        "postcode": p.postcode or None,
        "city": p.city or None,
    }


ADDRESS_MODELS = ("address fields apart", "address as one")


def settings(link: bool, address_model: str) -> SettingsCreator:
    """A model as Splink's own FEBRL and fake-people examples build it, with the address compared
    field by field (as those examples do) or as one comparison; the bench keeps the better."""
    apart = [
        cl.JaroWinklerAtThresholds("street", [0.9, 0.8]),
        cl.LevenshteinAtThresholds("postcode", 1),
        cl.ExactMatch("city").configure(term_frequency_adjustments=True),
    ]
    return SettingsCreator(
        link_type="link_only" if link else "dedupe_only",
        unique_id_column_name="unique_id",
        source_dataset_column_name="source",
        comparisons=[
            cl.NameComparison("given").configure(term_frequency_adjustments=True),
            cl.NameComparison("family").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("birth", input_is_string=True),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone"),
            *(apart if address_model == ADDRESS_MODELS[0] else [address()]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("email"),
            block_on("phone"),
            block_on("birth"),
            block_on("family", "postcode"),
            block_on("given", "family"),
            block_on("street", "postcode"),
            block_on("given", "postcode"),
        ],
        retain_intermediate_calculation_columns=False,
    )


def address() -> cl.CustomComparison:
    """Street, postcode and town as one comparison: three columns of one address are not three
    independent pieces of evidence, and counting them as such links whole households."""
    street, postcode, city = (
        cll.ExactMatchLevel("street"),
        cll.ExactMatchLevel("postcode"),
        cll.ExactMatchLevel("city"),
    )
    return cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.And(cll.NullLevel("street"), cll.NullLevel("postcode")),
            cll.And(street, postcode),
            cll.And(cll.JaroWinklerLevel("street", 0.9), cll.Or(postcode, city)),
            postcode,
            city,
            cll.ElseLevel(),
        ],
    )


def splink(task: Task, address_model: str) -> tuple[dict[str, str], dict[float, dict[str, str]], float]:
    """Train, score and cluster: at the usual probability (timed: what a user would run), and at
    each match weight of the sweep. Clusters as record → cluster id."""
    started = time.perf_counter()
    db = DuckDBAPI()
    rows = [columns(p) for p in task.profiles.values()]
    if task.systems:
        tables = [
            db.register(
                pa.Table.from_pylist([r for r in rows if r["source"] == s]), table_name=f"records_{s}"
            )
            for s in task.systems
        ]
    else:
        tables = [db.register(pa.Table.from_pylist(rows), table_name="records")]
    linker = Linker(tables, settings(bool(task.systems), address_model), log_level=None)
    emails = any(r["email"] for r in rows)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given", "family", "birth")] + ([block_on("email")] if emails else []), recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    for rule in (block_on("birth"), block_on("postcode")) + ((block_on("email"),) if emails else ()):
        linker.training.estimate_parameters_using_expectation_maximisation(rule, record_sample_proportion=1.0)
    predictions = linker.inference.predict(threshold_match_weight=min(WEIGHTS))
    usual = _clusters(linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, USUAL))
    seconds = time.perf_counter() - started
    sweep = {
        w: _clusters(
            linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold_match_weight=w)
        )
        for w in WEIGHTS
    }
    return usual, sweep, seconds


def _clusters(table: object) -> dict[str, str]:
    return {r["unique_id"]: str(r["cluster_id"]) for r in table.as_record_list()}  # type: ignore[attr-defined]


def hub(task: Task) -> tuple[dict[str, str], float]:
    started = time.perf_counter()
    placed, _ = resolve_in_order(task.profiles.values())
    return placed, time.perf_counter() - started


def generated(kind: str, size: int, seed: int, noise_name: str) -> Task:
    rng = random.Random(seed)
    make = link_task if kind == "link" else dedup_task
    records = [r for r in make(size, rng, NOISE[noise_name]) if r.fields["kind"] == "person"]
    rng.shuffle(records)
    return Task(
        name=f"{'two-system link' if kind == 'link' else 'dedup (persons)'}, {noise_name}",
        profiles={r.record: normalise(r.record, r.fields) for r in records},
        truth={r.record: r.truth for r in records},
        systems=("crm", "shop") if kind == "link" else None,
        hard=lambda placed: hard_negative_links(make, size, seed, placed),
    )


def febrl(name: str, files: tuple[str, ...], seed: int) -> Task:
    profiles, truth = febrl_records(files)
    order = list(profiles)
    random.Random(seed).shuffle(order)
    return Task(
        name=name,
        profiles={record: profiles[record] for record in order},
        truth=truth,
        systems=tuple(str(system) for system in range(len(files))) if len(files) > 1 else None,
        hard=None,  # FEBRL has no households, twins or namesakes
    )


Row = tuple[float, float, float, float, float]  # P, R, F1, hard-negative links (nan: none known), s


def compare(task: Task) -> dict[str, Row]:
    """The hub and Splink on one task; Splink's best threshold is chosen against the truth."""
    placed, hub_seconds = hub(task)
    runs = {model: splink(task, model) for model in ADDRESS_MODELS}
    scored = {(m, w): measure(c, task.truth) for m, (_, sweep, _) in runs.items() for w, c in sweep.items()}
    model, best = max(scored, key=lambda key: scored[key].f1)
    usual, sweep, splink_seconds = runs[model]
    print(
        f"{task.name}: {len(task.profiles):,} records, {scored[model, best].true_pairs:,} true pairs; "
        f"Splink's better model: {model}",
        flush=True,
    )
    found = {
        "hub, one at a time": (placed, hub_seconds),
        f"Splink at p ≥ {USUAL}": (usual, splink_seconds),
        "Splink at its best threshold": (sweep[best], splink_seconds),
    }
    rows: dict[str, Row] = {}
    for label, (placement, seconds) in found.items():
        a = measure(placement, task.truth)
        hard = task.hard(placement) if task.hard else math.nan
        rows[label] = (a.precision, a.recall, a.f1, hard, seconds)
        print(
            f"  {label:<30} {_row(rows[label])}" + (f" (match weight ≥ {best})" if "best" in label else ""),
            flush=True,
        )
    return rows


def _row(row: Row) -> str:
    p, r, f, hard, seconds = row
    links = "no hard negatives known" if math.isnan(hard) else f"hard-negative links {hard:g}"
    return f"P {p:.4f} R {r:.4f} F1 {f:.4f}, {links}, {seconds:.1f} s"


def medians(name: str, runs: Sequence[dict[str, Row]]) -> None:
    print(f"median {name} ({len(runs)} seeds):")
    for label in runs[0]:
        print(
            f"  {label:<30} {_row(tuple(statistics.median(run[label][i] for run in runs) for i in range(5)))}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=5000, help="entities generated per task")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--noise", choices=sorted(NOISE), default="realistic")
    args = parser.parse_args()
    logging.getLogger("splink").setLevel(logging.ERROR)
    makers: list[tuple[str, Callable[[int], Task]]] = [
        ("two-system link", lambda seed: generated("link", args.size, seed, args.noise)),
        ("dedup (persons)", lambda seed: generated("dedup", args.size, seed, args.noise)),
    ] + [(name, partial(febrl, name, files)) for name, files in FEBRL.items()]
    for name, make in makers:
        medians(name, [compare(make(seed)) for seed in range(1, args.seeds + 1)])


if __name__ == "__main__":
    main()
