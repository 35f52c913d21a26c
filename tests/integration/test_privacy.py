"""Crypto-shredding on both backends: personal fields are sealed at rest; after ``erase`` no
plaintext of the person remains in any table, views show them erased, and the log still verifies,
replays and rebuilds."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from aggregates import customer_id
from hub.audit.verify import verify
from hub.bootstrap import Hub
from hub.privacy.erasure import erase_request, erase_subject
from hub.privacy.mapper import ERASED
from hub.settings import SystemConfig
from tests.conftest import TEST_SYSTEMS
from tests.shop_messages import envelope, order, paid

PERSON = {
    "id": 424242,
    "first_name": "Zebedee",
    "last_name": "Quillfeather",
    "email": "zebedee.quillfeather@example.org",
    "phone": "+49 30 1234 5678",
    "default_address": {
        "address1": "7 Quillfeather Lane",
        "zip": "10115",
        "city": "Berlin",
        "province_code": "BE",
        "country_code": "DE",
        "phone": "+49 30 1234 5678",
    },
}
TRACES = ["Quillfeather", "zebedee.quillfeather@example.org", "+493012345678", "+49 30 1234 5678"]


def _their_order(number: int) -> dict[str, Any]:
    message = order(number)
    body = message["body"]
    body["customer"] = {**copy.deepcopy(PERSON), "updated_at": f"2026-01-0{number % 9 + 1}T10:00:00Z"}
    body["email"] = PERSON["email"]
    for field in ("billing_address", "shipping_address"):
        body[field] = {**PERSON["default_address"], "name": "Zebedee Quillfeather"}
    return message


def _tables(hub: Hub) -> list[str]:
    if hub.store.dialect == "sqlite":
        rows = hub.store.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        return [r["name"] for r in rows]
    rows = hub.store.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
        "AND table_type = 'BASE TABLE'"
    )
    return [r["table_name"] for r in rows]


def _traces(hub: Hub, tables: list[str] | None = None) -> list[str]:
    """Every cell of every table (text and bytes) that still shows the person."""
    found = []
    for table in tables or _tables(hub):
        for row in hub.store.query(f"SELECT * FROM {table}"):
            for column, value in dict(row).items():
                text = (
                    bytes(value).decode("utf-8", "replace")
                    if isinstance(value, bytes | memoryview)
                    else str(value)
                )
                found += [f"{table}.{column}: {trace}" for trace in TRACES if trace in text]
    return found


@pytest.fixture
def hub_with_person(make_hub: Callable[..., Hub]) -> Hub:
    hub = make_hub()
    hub.receive("shopify", [_their_order(5001), paid(5001), _their_order(5002), order(5003)])
    # A message no mapping knows, carrying the person's e-mail: it becomes a dead letter.
    hub.receive("shopify", [envelope("customers/redact", {"customer": {"email": PERSON["email"]}})])
    hub.process()
    assert hub.dead_letters.count() == 1
    return hub


def test_personal_fields_are_sealed_at_rest(hub_with_person: Hub) -> None:
    hub = hub_with_person
    events_table = hub.store.recorder.events_table_name
    assert _traces(hub, [events_table]) == []  # the log holds ciphertext only
    view = hub.history.as_of(customer_id("shopify", "424242"), datetime.now(UTC))
    assert view["fields"]["family_name"] == "Quillfeather"  # … and the hub reads it back
    assert _traces(hub)  # raw messages still hold it, until erasure


def test_erasure_leaves_no_plaintext_and_the_log_intact(hub_with_person: Hub) -> None:
    hub = hub_with_person
    subject = customer_id("shopify", "424242")
    other = customer_id("shopify", "207119551")  # order 5003's customer (the fixture's)
    before_rows = sorted(map(repr, hub.projector.get("order_tracking").rows()))
    report = erase_subject(hub.store, subject)
    hub.processor.forget_cached()
    assert report.keys_destroyed == 1 and report.raw_messages_erased >= 3 and report.dead_letters_erased == 1
    assert report.identity_profiles_erased == 1  # the matcher's copy (normalised e-mail, phone) too

    assert _traces(hub) == []
    now = datetime.now(UTC)
    erased = hub.history.as_of(subject, now)["fields"]
    assert erased["family_name"] == ERASED and erased["emails"] == ERASED
    assert hub.history.as_of(other, now)["fields"]["family_name"] == "Norman"
    assert all(
        e["data"]["fields" if e["version"] == 1 else "changes"].get("given_name", ERASED) == ERASED
        for e in hub.history.entries(subject)
    )
    # The log is unchanged: it verifies, replays and rebuilds to the same rows.
    assert verify(hub.store).ok
    assert hub.projector.rebuild("order_tracking", verify=True).verified
    assert sorted(map(repr, hub.projector.get("order_tracking").rows())) == before_rows
    assert hub.orders.show("5001", "shopify")["stage"] == "paid"
    # A second erasure finds nothing left to destroy.
    assert erase_subject(hub.store, subject).keys_destroyed == 0


def test_erasure_makes_what_agents_wrote_about_the_person_unreadable(make_hub: Callable[..., Hub]) -> None:
    """A legacy CRM's contact with a call and a complaint whose free text names her: sealed at
    rest, readable in the customer view, and after erasure gone from every table."""
    crm = SystemConfig(adapter="file", timezone="Europe/Berlin", phone_region="DE")
    hub = make_hub(systems={**TEST_SYSTEMS, "legacy_crm": crm})
    contact = {
        "ContactID": "K-4711",
        "FirstName": "Zebedee",
        "LastName": "Quillfeather",
        "Email": "zebedee.quillfeather@example.org",
        "Street": "7 Quillfeather Lane",
        "Zip": "10115",
        "City": "Berlin",
        "Country": "D",
        "Modified": "14.02.2019 16:20",
    }
    call = {
        "ActivityID": "A-1",
        "ContactID": "K-4711",
        "Type": "Call",
        "Date": "15.02.2019 09:12",
        "User": "hbraun",
        "Result": "Mr Quillfeather will call back",
        "Subject": "Quillfeather asked for the catalogue",
    }
    ticket = {
        "TicketID": "T-1",
        "ContactID": "K-4711",
        "Category": "Reklamation",
        "State": "Offen",
        "Priority": "High",
        "Opened": "02.04.2019 11:00",
        "Escalated": "N",
        "Subject": "Zipper broken, says Zebedee Quillfeather",
    }
    hub.receive("legacy_crm", [{"headers": {}, "body": body} for body in (contact, call, ticket)])
    hub.process()
    assert hub.dead_letters.count() == 0
    assert _traces(hub, [hub.store.recorder.events_table_name]) == []  # the log holds ciphertext only
    view = hub.customers.show(hub.customers.resolve("legacy_crm:K-4711"))
    assert view["interactions"][0]["subject"] == "Quillfeather asked for the catalogue"
    assert view["service_cases"][0]["subject"] == "Zipper broken, says Zebedee Quillfeather"

    report = erase_subject(hub.store, customer_id("legacy_crm", "K-4711"))
    hub.processor.forget_cached()
    assert report.keys_destroyed == 1  # the person's key seals the text about them too
    assert report.activities_erased == 2 and report.raw_messages_erased >= 3
    assert _traces(hub) == []
    view = hub.customers.show(hub.customers.resolve("legacy_crm:K-4711"))
    assert view["interactions"][0]["subject"] == ERASED and view["interactions"][0]["outcome"] == ERASED
    assert view["service_cases"][0]["subject"] == ERASED and view["service_cases"][0]["kind"] == "complaint"
    assert view["service"]["service_flags"] == ["open_complaint"]  # what is not personal stays
    assert verify(hub.store).ok
    assert erase_subject(hub.store, customer_id("legacy_crm", "K-4711")).keys_destroyed == 0


def test_a_person_is_erased_from_every_record_at_once_and_the_request_is_recorded(
    make_hub: Callable[..., Hub],
) -> None:
    """A data subject asks once: every record the identity graph holds in their customer is
    erased, and the log records who asked, why, for which records, and what was erased - in
    references only, so the record of it outlives the erasure."""
    hub = make_hub()
    twin = _their_order(5011)
    twin["body"]["customer"]["id"] = 424243  # the same person as a second customer record
    hub.receive("shopify", [_their_order(5010), twin, order(5012)])
    hub.process()
    records = ["shopify:424242", "shopify:424243"]
    customer = hub.identity.customer_of(records)
    assert customer["shopify:424242"] == customer["shopify:424243"]  # one person, two records
    members = hub.identity.members(customer["shopify:424242"])
    assert members == records
    size = len(hub.store.notifications(0, 100_000))
    with pytest.raises(LookupError, match="shopify:999 is not"):
        erase_request(hub.store, [*members, "shopify:999"], customer=None, requested_by="x", reason="y")
    assert len(hub.store.notifications(0, 100_000)) == size  # nothing erased, nothing recorded

    request, reports = erase_request(
        hub.store,
        members,
        customer=customer["shopify:424242"],
        requested_by="steward anna",
        reason="art. 17 request of 2026-12-08",
    )
    hub.processor.forget_cached()
    assert sorted(reports) == records and all(r.keys_destroyed == 1 for r in reports.values())
    assert _traces(hub) == []  # neither record, nor the request, shows the person
    asked, done = hub.history.events(request)
    assert (asked.records, asked.requested_by, asked.reason) == (
        records,
        "steward anna",
        "art. 17 request of 2026-12-08",
    )
    assert asked.customer == customer["shopify:424242"]
    assert done.erased["shopify:424243"]["keys_destroyed"] == 1
    assert (
        hub.history.as_of(customer_id("shopify", "207119551"), datetime.now(UTC))["fields"]["family_name"]
        == "Norman"
    )
    assert verify(hub.store).ok
