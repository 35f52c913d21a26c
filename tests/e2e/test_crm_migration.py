"""The initial migration of a legacy CRM through ``hub ingest``: contacts, activities and tickets
as the old system exports them; rows that cannot be migrated are reported by file and row while
every other row goes on; the migrated customers show their history."""

from __future__ import annotations

import json
import random
from pathlib import Path

from simulators.crm.legacy import write_legacy_export
from simulators.people import population
from tests.e2e.test_cli import hub


def test_a_legacy_crm_export_migrates_with_bad_rows_reported_by_row(tmp_path: Path) -> None:
    (tmp_path / "hub.toml").write_text(
        '[systems.legacy_crm]\nadapter = "file"\ntimezone = "Europe/Berlin"\nphone_region = "DE"\n'
    )
    people = population(1500, random.Random(5))
    export = write_legacy_export(tmp_path / "export", people, random.Random(5), bad_every=250)
    assert export.bad_rows == {"contacts.csv": [251, 501, 751, 1001, 1251, 1501]}
    result = hub(
        tmp_path,
        "ingest",
        "--system",
        "legacy_crm",
        str(export.contacts),
        str(export.activities),
        str(export.tickets),
    )
    counts = {
        name: sum(1 for _ in path.open()) - 1
        for name, path in (
            ("contacts", export.contacts),
            ("activities", export.activities),
            ("tickets", export.tickets),
        )
    }
    total = sum(counts.values())
    assert f"received {total}, duplicates 0, stored {total}" in result.stdout
    assert f"processed {total - 6}, dead-lettered 6" in result.stdout

    letters = json.loads(hub(tmp_path, "deadletters", "list", "--json").stdout)
    assert sorted(letter["reason"].split(":")[0] for letter in letters) == sorted(
        f"contacts.csv row {row}" for row in export.bad_rows["contacts.csv"]
    )
    assert all(
        "'birth_date'" in letter["reason"] and '"31.02.1979"' in letter["reason"] for letter in letters
    )

    # A migrated contact with its activities and tickets, as a call-centre agent sees it.
    tickets = [line.split(",") for line in export.tickets.read_text().splitlines()[1:]]
    contact = tickets[0][1]
    view = json.loads(hub(tmp_path, "customers", "show", f"legacy_crm:{contact}", "--json").stdout)
    assert {c["case_ref"] for c in view["service_cases"]} == {t[0] for t in tickets if t[1] == contact}
    assert all(c["status"] == "closed" and not c["open"] for c in view["service_cases"])
    text = hub(tmp_path, "customers", "show", f"legacy_crm:{contact}").stdout
    assert "Service cases" in text
