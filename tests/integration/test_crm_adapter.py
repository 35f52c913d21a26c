"""The CRM adapter over real HTTP against a Salesforce-style server answering the real Enterprise
WSDL: login and sessions, query/queryMore, getUpdated/retrieve, faults, and the 360 view."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from adapters.soap import SoapPoller, soap_pollers
from aggregates import CustomerCase, activity_id
from hub.bootstrap import Hub
from simulators.crm import WSDL, CrmBook, CrmSimulator, crm_system
from simulators.crm.seed import CrmPerson, log_work, seed_contacts
from tests.conftest import TEST_SYSTEMS

PEOPLE = [
    CrmPerson("Anna", "Meyer", "anna.meyer@example.org", "+4930123456", "Hauptstraße 1", "10115", "Berlin"),
    CrmPerson("Jonas", "Weber", "j.weber@example.org", "+49221987654", "Ringstraße 9", "50667", "Köln"),
    CrmPerson("Lea", "Schulz", None, "+4940555111", None, "20095", "Hamburg", birth_date=date(1990, 4, 3)),
]


@pytest.fixture
def crm(monkeypatch: pytest.MonkeyPatch) -> Iterator[CrmSimulator]:
    monkeypatch.setenv("CRM_USERNAME", "integration@example.com")
    monkeypatch.setenv("CRM_PASSWORD", "hub-demo")
    with CrmSimulator(CrmBook(), batch_size=2) as simulator:
        yield simulator


@pytest.fixture
def crm_hub(make_hub: Callable[..., Hub], crm: CrmSimulator) -> Callable[..., Hub]:
    def make(**soap: Any) -> Hub:
        options = {"retry_attempts": 3, "backoff_seconds": 0.01, "backoff_max_seconds": 0.05, **soap}
        return make_hub(systems={**TEST_SYSTEMS, "crm": crm_system(str(WSDL), crm.login_url, **options)})

    return make


def poll(hub: Hub) -> dict[str, Any]:
    reports = {r.entity: r for r in soap_pollers(hub.ports)["crm"].poll()}
    hub.process()
    return reports


def test_contacts_interactions_and_cases_reach_the_customer_360(
    crm: CrmSimulator, crm_hub: Callable[..., Hub]
) -> None:
    rng = random.Random(3)
    contacts = seed_contacts(crm.book, PEOPLE, rng, firms=["Weber Handels GmbH"])
    now = datetime.now(UTC)
    call = crm.book.add(
        "Task",
        {
            "WhoId": contacts[0],
            "Subject": "Call",
            "CallType": "Inbound",
            "CallDisposition": "Order taken",
            "CallDurationInSeconds": 240,
            "OwnerId": "0055g000000MARAAA",
        },
        at=now - timedelta(days=2),
    )
    case = crm.book.add(
        "Case",
        {
            "ContactId": contacts[0],
            "Type": "Complaint",
            "Status": "New",
            "Priority": "High",
            "Origin": "Phone",
            "Subject": "Parcel arrived damaged",
            "IsEscalated": False,
        },
        at=now - timedelta(days=1),
    )
    hub = crm_hub()
    reports = poll(hub)
    assert {name: (r.error, r.records) for name, r in reports.items()} == {
        "accounts": (None, 1),
        "contacts": (None, 3),
        "tasks": (None, 1),
        "cases": (None, 1),
    }
    assert reports["contacts"].pages == 2  # batches of two: query, then queryMore with the locator
    assert crm.calls["login"] == 1 and crm.calls["queryMore"] == 1 and crm.calls["retrieve"] == 2

    view = hub.customers.show(hub.customers.resolve(f"crm:{contacts[0]}"))
    golden = view["golden"]
    assert golden["phones"]["value"] == ["+4930123456"]  # "030 123456" as the agent typed it
    [interaction] = view["interactions"]
    assert interaction["interaction_id"] == call and interaction["channel"] == "phone"
    assert (interaction["kind"], interaction["direction"], interaction["outcome"]) == (
        "call",
        "inbound",
        "Order taken",
    )
    [service_case] = view["service_cases"]
    assert (service_case["case_ref"], service_case["kind"], service_case["status"]) == (
        case,
        "complaint",
        "new",
    )
    assert view["service"]["open_cases"] == 1 and view["service"]["service_flags"] == ["open_complaint"]

    # The agent escalates the case, then closes it: each poll sees only what changed.
    crm.book.change("Case", case, Status="Escalated", IsEscalated=True)
    assert poll(hub)["cases"].records == 1
    crm.book.change("Case", case, Status="Closed", IsClosed=True, ClosedDate=datetime.now(UTC))
    again = poll(hub)
    assert again["cases"].records == 1 and again["contacts"].stored == 0 and again["tasks"].stored == 0
    events = hub.store.events_of([activity_id("case", "crm", case)])[activity_id("case", "crm", case)]
    assert [type(e).__name__ for e in events] == ["Opened", "Escalated", "Resolved"]
    closed = hub.customers.show(view["customer_id"])
    assert [h["event"] for h in closed["service_cases"][0]["history"]] == ["opened", "escalated", "resolved"]
    assert closed["service"]["open_cases"] == 0 and closed["service"]["complaints_last_year"] == 1


def test_an_expired_session_logs_in_again_and_loses_nothing(
    crm: CrmSimulator, crm_hub: Callable[..., Hub]
) -> None:
    contacts = seed_contacts(crm.book, PEOPLE * 3, random.Random(1))
    hub = crm_hub()
    poller: SoapPoller = soap_pollers(hub.ports)["crm"]
    pages = 0

    def expire_after_first_page(_report: Any) -> None:
        nonlocal pages
        pages += 1
        if pages == 1:
            crm.expire_sessions()

    [report] = poller.poll(["contacts"], on_page=expire_after_first_page)
    assert report.error is None and report.records == len(contacts) and report.retries == 1
    assert crm.calls["login"] == 2


def test_a_proxy_error_is_retried_and_a_wrong_password_is_not(
    crm: CrmSimulator, crm_hub: Callable[..., Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_contacts(crm.book, PEOPLE, random.Random(2))
    log_work(crm.book, [], random.Random(2))
    crm.fail_next("getUpdated")
    hub = crm_hub()
    reports = poll(hub)
    assert reports["tasks"].error is None and reports["tasks"].retries == 1

    monkeypatch.setenv("CRM_PASSWORD", "wrong")
    [refused] = soap_pollers(crm_hub().ports)["crm"].poll(["contacts"])
    assert refused.error is not None and "INVALID_LOGIN" in refused.error and refused.retries == 0


def test_the_first_change_list_starts_within_the_30_days_salesforce_keeps(
    crm: CrmSimulator, crm_hub: Callable[..., Hub]
) -> None:
    contacts = seed_contacts(crm.book, PEOPLE, random.Random(4))
    logged = log_work(crm.book, contacts, random.Random(4))
    old = crm.book.add(
        "Case",
        {"ContactId": contacts[0], "Status": "Closed", "Subject": "Last year"},
        at=datetime.now(UTC) - timedelta(days=200),
    )
    hub = crm_hub()
    reports = poll(hub)
    assert reports["cases"].error is None and reports["cases"].records == logged["cases"]
    assert hub.store.events_of([activity_id("case", "crm", old)]) == {}
    # A second poll asks from where the first one's change list ended: nothing new.
    assert poll(hub)["cases"].records == 0


def test_a_case_without_a_contact_is_a_dead_letter_and_the_rest_go_on(
    crm: CrmSimulator, crm_hub: Callable[..., Hub]
) -> None:
    contacts = seed_contacts(crm.book, PEOPLE, random.Random(5))
    now = datetime.now(UTC)
    good = crm.book.add(
        "Case",
        {"ContactId": contacts[1], "Status": "Working", "Subject": "Where is it?", "Type": "Question"},
        at=now - timedelta(hours=3),
    )
    crm.book.add(
        "Case",
        {"Status": "New", "Subject": "Web form, no contact", "SuppliedEmail": "x@example.org"},
        at=now - timedelta(hours=2),
    )
    hub = crm_hub()
    poll(hub)
    state = hub.store.replay([activity_id("case", "crm", good)])[activity_id("case", "crm", good)]
    assert isinstance(state, CustomerCase) and state.fields["status"] == "open"
    [letter] = hub.dead_letters.list()
    assert letter.mapping == "crm.cases@1" and "customer_ref" in letter.reason, letter.reason
