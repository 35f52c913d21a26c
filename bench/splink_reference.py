"""Splink, the best batch linkage tool, as the reference of ``python bench/identity.py compare``
(``identity_compare.py``): on the same records as the hub, in the same run.

    pip install -e ".[reference]"

Splink (the Ministry of Justice's Fellegi-Sunter linker on DuckDB) links in batch: it sees every
record at once, learns its weights from them without labels (u by random sampling, m by
expectation maximisation) and clusters the scored pairs by connected components at a threshold.
It is given the hub's normalised profile of each record (names folded, e-mail canonical, phone in
E.164, street spelt out), so the comparison is of matching, not of cleaning. Two models that
differ in the address - compared field by field as its own examples do, or as one comparison
(three columns of one address are not independent evidence) - are trained, and the better one
per dataset is reported. Rows: at the match probability of 0.9 its tutorials use; at the match
weight that gives its best F1 against the truth (an oracle no tool has without labels, so an
upper bound); and, where the dataset's systems are free of duplicates, its one-to-one
clustering (``cluster_using_single_best_links``) at 0.9. Seconds: training, scoring and
clustering on DuckDB.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from identity_compare import Row, Task  # noqa: E402

from hub.identity.accuracy import measure  # noqa: E402
from hub.identity.normalise import Profile  # noqa: E402

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
class Run:
    usual: dict[str, str]  # record → cluster, at p ≥ 0.9
    sweep: dict[float, dict[str, str]]  # the same at each match weight
    one_to_one: dict[str, str] | None  # at p ≥ 0.9, each system free of duplicates (if declared)
    seconds: float  # training, scoring and clustering at p ≥ 0.9
    blocking: float  # share of true pairs among the scored pairs


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


def splink(task: Task, address_model: str) -> Run:
    """Train, score and cluster: at the usual probability (timed: what a user would run), at each
    match weight of the sweep, and one-to-one where the systems are free of duplicates."""
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
    present = {column for r in rows for column, value in r.items() if value}
    emails = "email" in present
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given", "family", "birth")] + ([block_on("email")] if emails else []), recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    # EM sessions as its examples train: on the birth date and the postcode where the data has
    # them (else on the names), and on the e-mail
    sessions = [block_on(c) for c in ("birth", "postcode", "email") if c in present]
    if "postcode" not in present:
        sessions.append(block_on("given", "family"))
    for rule in sessions:
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
    one_to_one = None
    if task.duplicate_free:
        one_to_one = _clusters(
            linker.clustering.cluster_using_single_best_links(
                predictions,
                duplicate_free_datasets=[f"records_{s}" for s in task.duplicate_free],
                threshold_match_probability=USUAL,
            )
        )
    scored = {
        frozenset((r["unique_id_l"], r["unique_id_r"]))
        for r in predictions.as_record_list()  # type: ignore[attr-defined]
    }
    by_truth: dict[str, list[str]] = {}
    for record, entity in task.truth.items():
        by_truth.setdefault(entity, []).append(record)
    true_pairs = [frozenset((a, b)) for g in by_truth.values() for i, a in enumerate(g) for b in g[i + 1 :]]
    blocking = sum(pair in scored for pair in true_pairs) / len(true_pairs) if true_pairs else 1.0
    return Run(usual, sweep, one_to_one, seconds, blocking)


def _clusters(table: object) -> dict[str, str]:
    return {r["unique_id"]: str(r["cluster_id"]) for r in table.as_record_list()}  # type: ignore[attr-defined]


def splink_rows(task: Task) -> dict[str, Row]:
    """Splink's rows for one dataset: the better of its two address models (by its best F1; the
    model and the match weight it was best at are printed as a comment)."""
    runs = {model: splink(task, model) for model in ADDRESS_MODELS}
    scored = {(m, w): measure(c, task.truth).f1 for m, run in runs.items() for w, c in run.sweep.items()}
    model, best = max(scored, key=scored.__getitem__)
    run = runs[model]
    print(f"<!-- Splink's better model: {model}, best at match weight {best:g} -->", flush=True)
    found = {
        "Splink at p ≥ 0.9": run.usual,
        "Splink at its best threshold (oracle)": run.sweep[best],
    }
    if run.one_to_one is not None:
        found["Splink at p ≥ 0.9, one-to-one"] = run.one_to_one
    rows = {}
    for label, placement in found.items():
        a = measure(placement, task.truth)
        hard = task.hard(placement) if task.hard else math.nan
        rows[label] = Row(
            a.precision, a.recall, a.f1, a.clusters_exact, run.blocking, hard, math.nan,
            len(task.profiles) / run.seconds,
        )  # fmt: skip
    return rows


def one_at_a_time(task: Task, records: int = 100) -> float:
    """Splink as the scoring engine of an incremental hub: each of ``records`` new records
    compared with the stored ones (``splink.internals.realtime.compare_records``, the real-time
    API of Splink 5, its SQL cached) under the blocking rules the batch run uses, with the model
    trained in batch. Returns records per second (scoring only: no clustering, no decisions)."""
    from splink.internals.realtime import compare_records

    model = ADDRESS_MODELS[0]
    db = DuckDBAPI()
    rows = [columns(p) for p in task.profiles.values()]
    linker = Linker(
        db.register(pa.Table.from_pylist(rows), table_name="stored"),
        settings(False, model),
        log_level=None,
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    trained = linker.misc.save_model_to_json()
    for comparison in trained["comparisons"]:  # one record brings no term frequencies along
        for level in comparison["comparison_levels"]:
            level.pop("tf_adjustment_column", None)
            level["tf_adjustment_weight"] = 0.0
    stored = pa.Table.from_pylist(rows[records:])
    blocking = " or ".join(
        f"({' and '.join(f'l.{c} = r.{c}' for c in rule)})"
        for rule in (("email",), ("phone",), ("birth",), ("family", "postcode"), ("given", "family"))
    )
    started = time.perf_counter()
    for row in rows[:records]:
        compare_records(row, stored, trained, db, sql_cache_key="hub-bench", join_condition=blocking)
    return records / (time.perf_counter() - started)
