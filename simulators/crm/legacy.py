"""A legacy CRM's export for the initial migration: contacts, activities and tickets as CSV, the
way an old system writes them (dd.mm.yyyy dates, country "D", slashes in phone numbers) — with
the rows such exports always contain that cannot be read."""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from simulators.people import LEGAL, Entity

__all__ = ["LegacyExport", "write_legacy_export"]

CONTACT_COLUMNS = (
    "ContactID",
    "Salutation",
    "FirstName",
    "LastName",
    "Company",
    "Email",
    "Phone",
    "Mobile",
    "Street",
    "Zip",
    "City",
    "Country",
    "BirthDate",
    "Modified",
)
ACTIVITY_COLUMNS = ("ActivityID", "ContactID", "Type", "Date", "User", "Result", "Subject")
TICKET_COLUMNS = (
    "TicketID",
    "ContactID",
    "Category",
    "State",
    "Priority",
    "Opened",
    "Closed",
    "Escalated",
    "Subject",
)
USERS = ("hbraun", "skoch", "mlange", "tfischer")
RESULTS = {
    "Call": ("Catalogue sent", "Order taken", "No answer", "Callback"),
    "E-Mail": ("Sent",),
    "Visit": ("Met",),
}
CATEGORIES = ("Reklamation", "Anfrage", "Return", "Anfrage")


@dataclass(frozen=True)
class LegacyExport:
    contacts: Path
    activities: Path
    tickets: Path
    bad_rows: dict[str, list[int]]  # file name -> line numbers that cannot be migrated


def _stamp(moment: datetime) -> str:
    return moment.strftime("%d.%m.%Y %H:%M")


def write_legacy_export(
    folder: Path,
    people: Sequence[Entity],
    rng: random.Random,
    *,
    bad_every: int = 0,
    start: datetime | None = None,
) -> LegacyExport:
    """One contact per entity (``K-<n>``), a few activities and tickets for some; every
    ``bad_every``-th contact row gets a date that does not exist (0: none)."""
    folder.mkdir(parents=True, exist_ok=True)
    start = start or datetime(2015, 1, 5, 9, 0)
    paths = LegacyExport(folder / "contacts.csv", folder / "activities.csv", folder / "tickets.csv", {})
    bad: dict[str, list[int]] = {"contacts.csv": []}
    with (
        paths.contacts.open("w", newline="", encoding="utf-8") as contacts_file,
        paths.activities.open("w", newline="", encoding="utf-8") as activities_file,
        paths.tickets.open("w", newline="", encoding="utf-8") as tickets_file,
    ):
        contacts = csv.writer(contacts_file)
        activities = csv.writer(activities_file)
        tickets = csv.writer(tickets_file)
        contacts.writerow(CONTACT_COLUMNS)
        activities.writerow(ACTIVITY_COLUMNS)
        tickets.writerow(TICKET_COLUMNS)
        activity = ticket = 0
        for number, entity in enumerate(people, start=1):
            ref = f"K-{number:06d}"
            modified = start + timedelta(hours=number % 50_000)
            birth = entity.birth.strftime("%d.%m.%Y") if entity.birth and rng.random() < 0.7 else ""
            if bad_every and number % bad_every == 0:
                birth = "31.02.1979"  # the old system's date field accepted anything
                bad["contacts.csv"].append(number + 1)  # line 1 is the header
            firm = entity.kind != "person"
            contacts.writerow(
                [
                    ref,
                    "" if firm else rng.choice(("Frau", "Herr", "")),
                    "" if firm else entity.given,
                    "" if firm else entity.family,
                    f"{entity.firm} {LEGAL[entity.legal][0]}" if firm else "",
                    entity.email.upper() if rng.random() < 0.2 else entity.email,
                    entity.phone.replace(" ", "/", 1) if rng.random() < 0.5 else entity.phone,
                    "",
                    f"{entity.street} {entity.number}",
                    entity.postcode,
                    entity.city,
                    rng.choice(("D", "DE", "Deutschland")),
                    "" if firm else birth,
                    _stamp(modified),
                ]
            )
            for _ in range(rng.choice((0, 0, 1, 2))):
                activity += 1
                kind = rng.choice(("Call", "Call", "E-Mail", "Visit"))
                at = modified + timedelta(days=rng.randint(1, 400))
                activities.writerow(
                    [
                        f"A-{activity:07d}",
                        ref,
                        kind,
                        _stamp(at),
                        rng.choice(USERS),
                        rng.choice(RESULTS[kind]),
                        "",
                    ]
                )
            if rng.random() < 0.1:
                ticket += 1
                opened = modified + timedelta(days=rng.randint(1, 300))
                closed = opened + timedelta(days=rng.randint(1, 20))
                tickets.writerow(
                    [
                        f"T-{ticket:06d}",
                        ref,
                        rng.choice(CATEGORIES),
                        "Erledigt",
                        rng.choice(("Low", "Normal", "High")),
                        _stamp(opened),
                        _stamp(closed),
                        "Y" if rng.random() < 0.1 else "N",
                        "",
                    ]
                )
    return LegacyExport(paths.contacts, paths.activities, paths.tickets, bad)
