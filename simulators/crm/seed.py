"""A front office's CRM for the demo and the tests: the company's customers as sales and service
typed them (their own spelling, national phone formats, abbreviated streets), firms as accounts,
and the work of the call centre — calls, e-mails, visits and service cases that get escalated
and closed."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from simulators.crm.book import CrmBook

__all__ = ["CrmPerson", "log_work", "person_of", "seed_contacts"]

AGENTS = ("0055g000000MARAAA", "0055g000000JONAAA", "0055g000000PIAAAA")
DISPOSITIONS = ("Order taken", "Question answered", "Callback requested", "Complaint logged", "No answer")
CASE_TYPES = ("Complaint", "Question", "Problem", "Return")
SUBJECTS = {
    "Complaint": "Parcel arrived damaged",
    "Question": "When will my order arrive?",
    "Problem": "Invoice shows the wrong address",
    "Return": "Wrong size, wants to exchange",
}


@dataclass(frozen=True)
class CrmPerson:
    given: str
    family: str
    email: str | None = None
    phone: str | None = None  # E.164
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str = "DE"
    birth_date: date | None = None


def person_of(fields: Mapping[str, Any]) -> CrmPerson | None:
    """A person as another system's customer record has them (None for firms and nameless
    records): what a sales team would have typed into the CRM about the same customer."""
    if fields.get("kind") != "person" or not fields.get("family_name") or not fields.get("given_name"):
        return None
    address = (fields.get("addresses") or [{}])[0]
    birth = fields.get("birth_date")
    return CrmPerson(
        given=fields["given_name"],
        family=fields["family_name"],
        email=next(iter(fields.get("emails") or []), None),
        phone=next(iter(fields.get("phones") or []), None),
        street=next(iter(address.get("lines") or []), None),
        postcode=address.get("postcode"),
        city=address.get("city"),
        country=address.get("country") or "DE",
        birth_date=date.fromisoformat(birth) if birth else None,
    )


def _national(phone: str) -> str:
    """+4930123456 -> "030 123456": how an agent types a German number."""
    if phone.startswith("+49"):
        rest = phone[3:]
        return f"0{rest[:2]} {rest[2:]}"
    return phone


def seed_contacts(
    book: CrmBook,
    people: Sequence[CrmPerson],
    rng: random.Random,
    firms: Sequence[str] = (),
    at: datetime | None = None,
) -> list[str]:
    """Contacts (and accounts for the firms) as a CRM that has known them for a while holds them."""
    start = at or datetime.now(UTC) - timedelta(days=400)
    for number, firm in enumerate(firms):
        book.add(
            "Account",
            {
                "Name": firm,
                "Phone": f"0221 555{number:03d}",
                "BillingCity": "Köln",
                "BillingCountry": "Germany",
            },
            at=start + timedelta(hours=number),
        )
    ids = []
    for number, person in enumerate(people):
        street = person.street
        if street and rng.random() < 0.5:
            street = street.replace("straße", "str.").replace("Straße", "Str.")
        fields = {
            "FirstName": person.given,
            "LastName": person.family,
            "Email": person.email.title() if person.email and rng.random() < 0.3 else person.email,
            "Phone": _national(person.phone) if person.phone else None,
            "Birthdate": person.birth_date,
            "MailingStreet": street,
            "MailingPostalCode": person.postcode,
            "MailingCity": person.city,
            "MailingCountry": {"DE": "Germany", "AT": "Austria"}.get(person.country, person.country),
        }
        ids.append(book.add("Contact", fields, at=start + timedelta(days=number % 300, minutes=number)))
    return ids


def log_work(
    book: CrmBook, contacts: Sequence[str], rng: random.Random, now: datetime | None = None
) -> dict[str, int]:
    """The last three weeks of the call centre: calls and e-mails per contact, a few visits, and
    cases — some escalated, some resolved since. Returns how many of each were logged."""
    now = now or datetime.now(UTC)
    counts = {"calls": 0, "emails": 0, "visits": 0, "cases": 0, "escalated": 0, "closed": 0}
    for contact in contacts:
        for _ in range(rng.randint(0, 3)):
            at = now - timedelta(days=rng.uniform(1, 20))
            kind = rng.random()
            if kind < 0.6:
                book.add(
                    "Task",
                    {
                        "WhoId": contact,
                        "Subject": "Call",
                        "CallType": rng.choice(("Inbound", "Inbound", "Outbound")),
                        "CallDisposition": rng.choice(DISPOSITIONS),
                        "CallDurationInSeconds": rng.randint(40, 900),
                        "OwnerId": rng.choice(AGENTS),
                        "Status": "Completed",
                    },
                    at=at,
                )
                counts["calls"] += 1
            elif kind < 0.9:
                book.add(
                    "Task",
                    {"WhoId": contact, "Subject": "Email: Your order", "OwnerId": rng.choice(AGENTS)},
                    at=at,
                )
                counts["emails"] += 1
            else:
                book.add(
                    "Task",
                    {"WhoId": contact, "Subject": "Visit: showroom", "OwnerId": rng.choice(AGENTS)},
                    at=at,
                )
                counts["visits"] += 1
        if rng.random() < 0.3:
            opened = now - timedelta(days=rng.uniform(3, 20))
            kind = rng.choice(CASE_TYPES)
            case = book.add(
                "Case",
                {
                    "ContactId": contact,
                    "Type": kind,
                    "Status": "New",
                    "Priority": rng.choice(("Low", "Medium", "High")),
                    "Origin": rng.choice(("Phone", "Email", "Web")),
                    "Subject": SUBJECTS[kind],
                    "OwnerId": rng.choice(AGENTS),
                    "IsEscalated": False,
                    "IsClosed": False,
                },
                at=opened,
            )
            counts["cases"] += 1
            book.change("Case", case, at=opened + timedelta(hours=2), Status="Working")
            if kind == "Complaint" and rng.random() < 0.5:
                book.change("Case", case, at=opened + timedelta(days=1), Status="Escalated", IsEscalated=True)
                counts["escalated"] += 1
            elif rng.random() < 0.6:
                closed = opened + timedelta(days=2)
                book.change("Case", case, at=closed, Status="Closed", IsClosed=True, ClosedDate=closed)
                counts["closed"] += 1
    return counts
