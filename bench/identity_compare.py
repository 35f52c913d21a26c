"""The hub and the best batch linkage tool side by side, on the same records in the same run:
``python bench/identity.py compare`` (its docstring says what is printed).

Datasets:
* FEBRL4 (two systems), FEBRL1, 2 and 3 (dedups), without the national id (``febrl.py``);
* the generated household data: a two-system link and a dedup of persons, with twins, family
  members and namesakes as hard negatives (``simulators.people``);
* any CSV with a known truth (``--csv``), read through the shipped ``mappings/persons``: the
  data nobody here wrote.

The hub is run as a user runs it after a bulk load: the records resolved one at a time, in
arrival order, with the default model, then ``hub customers train`` on all of them and ``hub
customers rematch`` - in memory, timed from the first record to the end of the re-match. (A hub
left alone trains itself once, at ``train_after`` records, on those it holds then;
``tests/e2e/test_public_persons.py`` drives that path on FEBRL1.)

Splink 5 on DuckDB is configured as its documentation configures person data
(``splink_reference.py``), trained without labels, and clustered at the match probability of 0.9
its tutorials use; its best threshold chosen against the truth (an oracle no tool has) is
printed as an upper bound. Where a dataset's systems are declared free of
duplicates (FEBRL4), both are told: the hub by ``duplicate_free``, Splink by its one-to-one
clustering.
"""

from __future__ import annotations

import csv
import math
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hub.identity.accuracy import blocking_recall, measure, resolve_in_order, review_queue
from hub.identity.model import DEFAULT_MODEL, MatchModel
from hub.identity.normalise import Profile, normalise
from hub.identity.training import train
from hub.settings import Matching
from simulators.people import dedup_task, link_task

__all__ = ["Task", "compare_all", "csv_task", "febrl_task", "generated_task"]


@dataclass(frozen=True)
class Task:
    name: str
    profiles: dict[str, Profile]  # in arrival order
    truth: dict[str, str]
    systems: tuple[str, ...] | None  # two systems: a link; None: a dedup
    hard: Callable[[dict[str, str]], int] | None  # links among the hard negatives of a placement
    duplicate_free: tuple[str, ...] = ()  # systems known to hold no duplicates
    attributes: dict[str, str] | None = None  # open attributes the hub compares


@dataclass(frozen=True)
class Row:
    precision: float
    recall: float
    f1: float
    clusters: float  # share of true clusters reproduced exactly
    blocking: float  # share of true pairs that became candidates (nan: not known)
    hard: float  # hard-negative links (nan: none known)
    queue: float  # review queue, pairs of customers (nan: the tool has none)
    per_second: float  # records per second

    def __str__(self) -> str:
        def n(x: float, f: str) -> str:
            return "-" if math.isnan(x) else format(x, f)

        return (
            f"{self.precision:.4f} | {self.recall:.4f} | **{self.f1:.4f}** | {self.clusters:.4f} | "
            f"{n(self.blocking, '.4f')} | {n(self.hard, 'g')} | {n(self.queue, 'g')} | {self.per_second:,.0f}"
        )


def generated_task(kind: str, size: int, seed: int) -> Task:
    from identity import NOISE, hard_negative_links

    rng = random.Random(seed)
    make = link_task if kind == "link" else dedup_task
    records = [r for r in make(size, rng, NOISE["realistic"]) if r.fields["kind"] == "person"]
    rng.shuffle(records)
    return Task(
        name=f"households, {'two-system link' if kind == 'link' else 'dedup'}",
        profiles={r.record: normalise(r.record, r.fields) for r in records},
        truth={r.record: r.truth for r in records},
        systems=("crm", "shop") if kind == "link" else None,
        hard=lambda placed: hard_negative_links(make, size, seed, placed),
    )


def febrl_task(name: str, files: tuple[str, ...], seed: int) -> Task:
    from febrl import febrl_records

    profiles, truth = febrl_records(files)
    order = list(profiles)
    random.Random(seed).shuffle(order)
    systems = tuple(str(system) for system in range(len(files))) if len(files) > 1 else None
    return Task(
        name=name,
        profiles={record: profiles[record] for record in order},
        truth=truth,
        systems=systems,
        hard=None,  # FEBRL has no households, twins or namesakes
        duplicate_free=systems or (),  # FEBRL4: one original and one duplicate per person
    )


PERSONS = Path(__file__).resolve().parent.parent / "mappings" / "persons"


def csv_task(path: Path, *, ident: str, truth: str, source: str | None, attributes: dict[str, str]) -> Task:
    """A CSV with a known truth, read as the hub reads a person export: through the shipped
    ``mappings/persons`` (its columns: first_name, surname, full_name, dob, gender, email,
    address, postcode, city, occupation, birth_place; ``ident`` becomes its unique_id). A value
    the mapping gives up (an impossible date) is left out, as ``hub ingest`` does. ``attributes``:
    the open attributes the hub compares (``occupation=fuzzy``)."""
    from hub.mapping.engine import MappingError, MappingSet, model_to_jsonable
    from hub.mapping.samples import as_envelope
    from hub.mapping.transforms import SourceContext

    mapping = MappingSet.load("people", PERSONS)
    context = SourceContext("UTC", "GB")
    rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    if not rows:
        raise SystemExit(f"{path}: no rows")
    for needed in (ident, truth, *([source] if source else [])):
        if needed not in rows[0]:
            raise SystemExit(f"{path}: no column {needed!r} (columns: {', '.join(rows[0])})")
    profiles: dict[str, Profile] = {}
    entity: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        envelope = as_envelope({**row, "unique_id": row[ident]})
        try:
            translated, _ = mapping.select(envelope).translate(envelope, context)
        except MappingError as error:  # a row the mapping refuses: named, and the run stops
            raise SystemExit(f"{path}:{line}: {error}") from None
        record = f"{row[source] if source else 'x'}:{row[ident]}"
        profiles[record] = normalise(record, model_to_jsonable(translated), region="GB")
        entity[record] = row[truth]
    order = list(profiles)
    random.Random(1).shuffle(order)
    systems = tuple(sorted({r.split(":", 1)[0] for r in profiles}))
    return Task(
        name=path.name,
        profiles={r: profiles[r] for r in order},
        truth=entity,
        systems=systems if len(systems) == 2 else None,
        hard=None,
        attributes=attributes,
    )


def hub_run(task: Task, matching: Matching) -> tuple[Row, MatchModel]:
    """Resolved with the defaults, trained on all records, re-matched; timed from the first
    record to the end of the re-match."""
    profiles = list(task.profiles.values())
    settings = matching.model_copy(
        update={"duplicate_free": list(task.duplicate_free), "attributes": task.attributes or {}}
    )
    started = time.perf_counter()
    resolve_in_order(profiles, settings.configure(DEFAULT_MODEL))
    model = settings.configure(train(profiles, settings.configure(DEFAULT_MODEL)))
    placed, reviewed = resolve_in_order(profiles, model)
    seconds = time.perf_counter() - started
    a = measure(placed, task.truth)
    row = Row(
        a.precision,
        a.recall,
        a.f1,
        a.clusters_exact,
        blocking_recall(task.profiles, task.truth),
        task.hard(placed) if task.hard else math.nan,
        review_queue(placed, reviewed, task.truth).pairs,
        len(profiles) / seconds,
    )
    return row, model


def compare_all(tasks: Sequence[Callable[[int], Task]], seeds: int, *, engine: bool = False) -> None:
    """``engine``: also Splink's real-time scoring of one record at a time (``one_at_a_time``),
    the speed it would have as the hub's scoring engine."""
    from splink_reference import one_at_a_time, splink_rows

    matching = Matching()
    print(
        "| dataset | tool | precision | recall | F1 | exact clusters | blocking recall | "
        "hard-negative links | review queue | records/s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for make in tasks:
        runs: dict[str, list[Row]] = {}
        name = ""
        for seed in range(1, seeds + 1):
            task = make(seed)
            name = f"{task.name} ({len(task.profiles):,} records)"
            hub, model = hub_run(task, matching)
            runs.setdefault("hub (trained, re-matched)", []).append(hub)
            for label, row in splink_rows(task).items():
                runs.setdefault(label, []).append(row)
            detail = f"model {model.version}, households {model.households:.3f}, prior {model.prior:+.1f}"
            print(f"<!-- seed {seed}: hub {hub}; {detail} -->", flush=True)
        for label, rows in runs.items():
            median = Row(*(statistics.median(getattr(r, f) for r in rows) for f in Row.__dataclass_fields__))
            print(f"| {name} | {label} | {median} |", flush=True)
        if engine:
            speed = one_at_a_time(make(1))
            label = "Splink one record at a time (compare_records)"
            print(f"| {name} | {label} | - | - | - | - | - | - | - | {speed:,.0f} |", flush=True)
