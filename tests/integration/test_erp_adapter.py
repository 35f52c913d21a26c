"""The ERP adapter over real HTTP against the spyne legacy ERP: polling, faults, outbound sync."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.soap import AdapterState, OutboundSyncer, SoapPoller, outbound_syncers, soap_pollers
from adapters.soap.outbound import OUTBOUND_ENTITY
from adapters.soap.state import POLLING
from adapters.soap.status import soap_status
from aggregates import SourceCustomer, customer_id
from entrypoints.settings import Settings
from hub.bootstrap import Hub, bootstrap
from hub.settings import ConfigError, SystemConfig
from simulators.erp import ErpSimulator, erp_system
from simulators.erp.book import ErpBook
from tests.conftest import TEST_SYSTEMS, hub_settings
from tests.nav_service import NAV_WSDL, NavPageService

FIXTURES = Path(__file__).parent.parent / "fixtures"


def erp_config(erp: ErpSimulator, **soap: Any) -> SystemConfig:
    options = {
        "retry_attempts": 3,
        "backoff_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "circuit_failures": 3,
        "circuit_reset_seconds": 0.3,
        "timeout_seconds": 5,
        "operation_timeout_seconds": 5,
        **soap,
    }
    page_size = options.pop("page_size", 5)
    return Settings.system_model().model_validate(erp_system(erp.wsdl_url, page_size=page_size, **options))


@pytest.fixture
def erp_hub(make_hub: Callable[..., Hub], erp: ErpSimulator) -> Callable[..., Hub]:
    def make(**soap: Any) -> Hub:
        return make_hub(systems={**TEST_SYSTEMS, "erp": erp_config(erp, **soap)})

    return make


def debtors(book: ErpBook, count: int, per_second: int = 2) -> list[str]:
    """Debtors entered a few per second (the ERP's change times have one-second resolution)."""
    refs = []
    for i in range(count):
        refs.append(
            book.add_debtor(
                f"Kunde{i}", name2="Eva", city="Köln", phone=f"0221 12{i:04d}", email=f"k{i}@example.org"
            )
        )
        if i % per_second == per_second - 1:
            book.tick()
    return refs


def source_events(hub: Hub, refs: list[str]) -> dict[str, list[Any]]:
    keys = {customer_id("erp", ref): ref for ref in refs}
    found = hub.store.events_of(list(keys))
    return {keys[k]: events for k, events in found.items()}


def customer_state(hub: Hub, ref: str) -> SourceCustomer:
    return hub.store.replay([customer_id("erp", ref)])[customer_id("erp", ref)]


def shop_order(hub: Hub, number: int, sku: str = "CAP-OLV", currency: str = "EUR") -> None:
    body = {
        "id": number,
        "name": f"#{number}",
        "currency": currency,
        "total_price": "39.00",
        "created_at": "2026-11-20T10:00:00+01:00",
        "source_name": "web",
        "customer": {"id": 77, "first_name": "Eva", "last_name": "Kunde", "email": "eva@example.org"},
        "line_items": [{"sku": sku, "name": sku, "quantity": 2, "price": "19.50", "variant_id": 1}],
    }
    hub.receive("shopify", [{"headers": {"x-shopify-topic": "orders/create"}, "body": body}])


def syncer(hub: Hub) -> OutboundSyncer:
    return outbound_syncers(hub.ports)["erp"]


def poller(hub: Hub) -> SoapPoller:
    return soap_pollers(hub.ports)["erp"]


# -- inbound ---------------------------------------------------------------------------------------


def test_poll_turns_debtors_orders_payments_and_deliveries_into_hub_records(
    erp_hub: Callable[..., Hub], erp: ErpSimulator
) -> None:
    book = erp.book
    refs = debtors(book, 12)
    book.add_debtor(
        "Schmidt Handels GmbH", vat_id="de811111111", street="Ring 1", postcode="1010", country="AT"
    )
    order = book.add_order(refs[0], [("CAP-OLV", "Cap", Decimal(3), Decimal("1234.50"))])
    book.pay(book.invoice(order), Decimal("1000"))
    book.deliver(order, "V")
    hub = erp_hub()

    reports = poller(hub).poll()
    hub.process()

    assert [r.error for r in reports] == [None] * 6
    tracked = hub.orders.show(order, "erp")
    assert tracked["channel"] == "erp"
    assert tracked["total_amount"] == "3703.50"  # "3.703,50" read with the decimal comma
    assert tracked["paid_amount"] == "1000.00" and tracked["stage"] == "shipped"  # shipped, part-paid
    assert [s["status"] for s in tracked["shipments"]] == ["handed_over"]
    person = customer_state(hub, refs[3])
    assert person.fields["family_name"] == "Kunde3" and person.fields["given_name"] == "Eva"
    assert person.fields["phones"] == ["+4922112" + "0003"]  # local number, region DE from config
    assert person.fields["addresses"][0]["country"] == "DE"  # the ERP's code "D"
    firm = customer_state(hub, "D10013")
    assert firm.fields["kind"] == "organisation" and firm.fields["tax_id"] == "DE811111111"
    assert firm.fields["addresses"][0]["country"] == "AT"
    assert hub.dead_letters.list("open") == []

    before = hub.inbox.head()
    again = poller(hub).poll()
    assert sum(r.stored for r in again) == 0 and hub.inbox.head() == before


def test_erp_down_for_several_polls_then_back_loses_and_duplicates_nothing(
    erp_hub: Callable[..., Hub], erp: ErpSimulator
) -> None:
    book = erp.book
    first = debtors(book, 7)
    hub = erp_hub()
    poller(hub).poll(["customers"])
    erp.faults.arm("http500", times=1000)
    later = debtors(book, 6)  # written while the hub cannot reach the ERP
    outcomes = [poller(hub).poll(["customers"])[0] for _ in range(5)]
    assert [bool(r.error) for r in outcomes[:3]] == [True, True, True]
    assert all(r.skipped and "circuit open" in r.skipped for r in outcomes[3:])
    status = soap_status(hub.ports)[0]
    assert status["status"] == "down" and status["circuit"] == "open"
    assert "HTTP error" in status["detail"]

    erp.faults.clear()
    time.sleep(0.35)  # the circuit's reset time: the next poll is the trial
    back = poller(hub).poll(["customers"])[0]
    hub.process()

    assert back.error is None and soap_status(hub.ports)[0]["circuit"] == "closed"
    events = source_events(hub, first + later)
    assert sorted(events) == sorted(first + later)
    assert all(len(e) == 1 for e in events.values())  # exactly one registration each
    assert hub.dead_letters.list("open") == []


def test_a_page_served_twice_and_a_record_changed_between_pages(
    erp_hub: Callable[..., Hub], erp: ErpSimulator
) -> None:
    book = erp.book
    refs = debtors(book, 23)
    for ref in refs[::3]:
        book.change_debtor(ref, Street="Altstr. 1")  # spread the records over several change times
    moved = refs[1]

    def move(_record: dict[str, Any]) -> None:
        book.change_debtor(moved, City="Bonn")  # changes while the adapter is between pages

    erp.faults.arm("change_between_pages", operation="GetCustomersChangedSince", apply=move)
    erp.faults.arm("duplicate_page", operation="GetCustomersChangedSince", times=2)
    hub = erp_hub()

    report = poller(hub).poll(["customers"])[0]
    hub.process()

    assert report.error is None and report.retries >= 2  # the repeated pages were refused and re-read
    assert "duplicate_page:GetCustomersChangedSince" in erp.faults.fired
    events = source_events(hub, refs)
    assert sorted(events) == sorted(refs)
    assert customer_state(hub, moved).fields["addresses"][0]["city"] == "Bonn"  # the latest state wins
    # One event per version the hub saw: a registration, and a change only where something changed.
    assert all(len(e) <= 3 for e in events.values())
    kinds = Counter(type(e).__name__ for events_of in events.values() for e in events_of)
    assert kinds["Registered"] == len(refs)


def test_a_malformed_response_or_unexpected_fault_is_reported_and_a_bad_record_dead_lettered(
    erp_hub: Callable[..., Hub], erp: ErpSimulator
) -> None:
    book = erp.book
    refs = debtors(book, 4)
    orders = [book.add_order(ref, [("CAP-OLV", "Cap", Decimal(1), Decimal("19.50"))]) for ref in refs]
    book.orders.records[orders[1]]["Total"] = "19,5x"  # one corrupt record among good ones
    erp.faults.arm("malformed", operation="GetPaymentsChangedSince", times=10)
    erp.faults.arm("soap_fault", operation="GetDeliveriesChangedSince", times=10)
    hub = erp_hub(circuit_failures=10)

    reports = {r.entity: r for r in poller(hub).poll()}
    hub.process()

    assert "malformed response" in reports["payments"].error
    assert "SOAP fault (Server.Internal)" in reports["deliveries"].error
    assert "lock timeout" in reports["deliveries"].error
    status = {e["entity"]: e for e in soap_status(hub.ports)[0]["entities"]}
    assert status["payments"]["failing"] and "malformed" in status["payments"]["last_error"]
    assert not status["customers"]["failing"]
    letters = hub.dead_letters.list("open")
    assert len(letters) == 1 and "19,5x" in letters[0].reason and "total_amount" in letters[0].reason
    assert {o: hub.orders.show(o, "erp") is not None for o in orders} == {
        orders[0]: True,
        orders[1]: False,
        orders[2]: True,
        orders[3]: True,
    }


def test_a_slow_erp_is_cut_off_by_the_operation_timeout_and_retried(
    erp_hub: Callable[..., Hub], erp: ErpSimulator
) -> None:
    debtors(erp.book, 3)
    erp.faults.arm("slow", operation="GetCustomersChangedSince", seconds=2)
    erp.faults.arm("drop", operation="GetCustomersChangedSince")
    hub = erp_hub(operation_timeout_seconds=0.5)
    started = time.monotonic()
    report = poller(hub).poll(["customers"])[0]
    assert report.error is None and report.retries == 2 and report.stored == 3
    assert time.monotonic() - started < 2


# -- outbound --------------------------------------------------------------------------------------


def test_shop_orders_become_erp_orders_and_erp_payments_and_deliveries_move_them_on(
    erp_hub: Callable[..., Hub], erp: ErpSimulator
) -> None:
    hub = erp_hub()
    for number in (1001, 1002):
        shop_order(hub, number)
    shop_order(hub, 1003, sku="UNKNOWN-SKU")
    hub.process()

    sent = syncer(hub).run_once()
    hub.process()

    assert (sent.created, sent.rejected) == (2, 1)
    erp_number = erp.book.by_external_ref["shopify:1001"]
    book = erp.book
    book.pay(book.invoice(erp_number), Decimal("39.00"))
    book.deliver(erp_number, "Z")
    poller(hub).poll()
    hub.process()

    order = hub.orders.show("1001", "shopify")
    assert order["stage"] == "delivered" and order["paid_amount"] == "39.00"
    assert {"system": "erp", "ref": erp_number} in order["aliases"]
    assert order["references"][0]["status"] == "accepted"
    assert hub.orders.show(erp_number, "erp")["order_ref"] == "1001"  # found by the ERP's number
    refused = hub.orders.show("1003", "shopify")["references"][0]
    assert refused["status"] == "rejected" and "UNKNOWN-SKU" in refused["reason"]
    status = syncer(hub).status()
    assert status["counts"] == {"created": 2, "rejected": 1}
    assert syncer(hub).run_once().created == 0 and book.create_calls == 3  # nothing sent twice


def test_timeout_on_create_after_the_erp_created_the_order_leaves_exactly_one_erp_order(
    erp_hub: Callable[..., Hub], erp: ErpSimulator
) -> None:
    hub = erp_hub(operation_timeout_seconds=0.5)
    shop_order(hub, 2001)
    hub.process()
    erp.faults.arm("slow_after_create", operation="CreateSalesOrder", seconds=1.5)

    report = syncer(hub).run_once()
    hub.process()

    # The look-up may itself run past the timeout on a loaded machine and be tried again: what
    # matters is that the ERP was asked to create the order once and the hub found it.
    assert report.found == 1 and report.created == 0 and report.retries >= 1
    assert erp.book.create_calls == 1 and list(erp.book.by_external_ref) == ["shopify:2001"]
    assert erp.calls["GetSalesOrderByExternalRef"] >= 1
    [reference] = hub.orders.show("2001", "shopify")["references"]
    assert (reference["ref"], reference["status"]) == (erp.book.by_external_ref["shopify:2001"], "accepted")


def test_erp_payment_seen_before_the_order_link_waits_and_then_counts(
    erp_hub: Callable[..., Hub], erp: ErpSimulator
) -> None:
    """A clerk keyed the web order into the ERP by hand (ExternalRef typed in), and the ERP's
    payment reaches the hub before the sales order does: it waits, then joins the shop order."""
    hub = erp_hub()
    shop_order(hub, 3001)
    hub.process()
    book = erp.book
    number = book.add_order(
        "D1", [("CAP-OLV", "Cap", Decimal(2), Decimal("19.50"))], external_ref="shopify:3001"
    )
    book.pay(book.invoice(number), Decimal("39.00"))

    poller(hub).poll(["payments"])
    hub.process()
    assert hub.parked.count() == 1
    poller(hub).poll(["orders"])
    hub.process()

    assert hub.parked.count() == 0
    assert hub.orders.show("3001", "shopify")["paid_amount"] == "39.00"


def test_kill_switch_stops_the_outbound_sync(erp_hub: Callable[..., Hub], erp: ErpSimulator) -> None:
    hub = erp_hub()
    shop_order(hub, 4001)
    hub.process()
    syncer(hub).pause(True)
    assert "paused" in syncer(hub).run_once().paused
    assert erp.book.create_calls == 0
    syncer(hub).pause(False)
    assert syncer(hub).run_once().created == 1


# -- a second ERP of another shape -----------------------------------------------------------------


def test_the_same_adapter_reads_a_nav_page_service_with_configuration_and_mappings_only(
    make_hub: Callable[..., Hub],
) -> None:
    customers = {f"C{i:05d}": f"Firma {i} GmbH" for i in range(11)}
    with NavPageService(customers) as nav:
        nav_system = Settings.system_model().model_validate(
            {
                "adapter": "soap",
                "soap": {
                    "wsdl": str(NAV_WSDL),
                    "address": nav.url,
                    "entities": {
                        "customers": {
                            "operation": "ReadMultiple",
                            "request": {
                                "filter": [{"Field": "No", "Criteria": "C*"}],
                                "bookmarkKey": "{bookmark}",
                                "setSize": "{page_size}",
                            },
                            "paging": "bookmark",
                            "page_size": 4,
                            "bookmark_field": "No",
                        }
                    },
                },
            }
        )
        hub = make_hub(
            systems={**TEST_SYSTEMS, "nav": nav_system},
            mapping_folders={"nav": FIXTURES / "mappings" / "nav"},
        )
        report = SoapPoller(hub.ports, "nav", nav_system.soap).poll()[0]
        hub.process()
        nav.customers["C00003"] = "Firma 3 AG"  # renamed in NAV: the next full pass notices
        second = SoapPoller(hub.ports, "nav", nav_system.soap).poll()[0]
        hub.process()

    assert (report.error, report.pages, report.records) == (None, 3, 11)
    assert [r["bookmark"] for r in nav.requests[:3]] == [None, "C00003", "C00007"]
    assert second.stored == 1  # only the changed record is a new message
    states = hub.store.replay(customer_id("nav", ref) for ref in nav.customers)
    names = {ref: states[customer_id("nav", ref)].fields["organisation_name"] for ref in nav.customers}
    assert names == nav.customers


def test_a_second_hub_waits_while_another_holds_the_outbound_lease(
    erp_hub: Callable[..., Hub], erp: ErpSimulator
) -> None:
    hub = erp_hub()
    shop_order(hub, 6001)
    hub.process()
    other = AdapterState(hub.store)
    assert other.lease("erp", OUTBOUND_ENTITY, "elsewhere:1:a", seconds=60) is None  # another host's hub

    waiting = syncer(hub).run_once()
    assert "another hub is sending" in waiting.paused and erp.book.create_calls == 0

    other.release("erp", OUTBOUND_ENTITY, "elsewhere:1:a")
    assert syncer(hub).run_once().created == 1


def test_a_second_hub_does_not_poll_a_source_another_is_polling(
    erp_hub: Callable[..., Hub], erp: ErpSimulator
) -> None:
    debtors(erp.book, 3)
    hub = erp_hub()
    other = AdapterState(hub.store)
    assert other.lease("erp", POLLING, "elsewhere:1:b", seconds=60) is None
    [waiting] = poller(hub).poll(["customers"])
    assert "another hub is polling erp" in waiting.skipped and erp.calls["GetCustomersChangedSince"] == 0
    other.release("erp", POLLING, "elsewhere:1:b")
    assert poller(hub).poll(["customers"])[0].stored == 3


@pytest.mark.parametrize("auth", ["basic", "wsse"])
def test_credentials_come_from_the_environment(
    make_hub: Callable[..., Hub], monkeypatch: pytest.MonkeyPatch, auth: str
) -> None:
    with ErpSimulator(credentials=("hub", "s3cret"), auth=auth) as guarded:
        guarded.book.add_debtor("Kunde", city="Köln")
        config = erp_config(guarded, auth=auth, username_env="ERP_USER", password_env="ERP_PASSWORD")
        hub = make_hub(systems={**TEST_SYSTEMS, "erp": config})
        monkeypatch.setenv("ERP_USER", "hub")
        monkeypatch.setenv("ERP_PASSWORD", "wrong")
        refused = poller(hub).poll(["customers"])[0]
        monkeypatch.setenv("ERP_PASSWORD", "s3cret")
        accepted = poller(hub).poll(["customers"])[0]

    assert refused.retries == 0  # wrong credentials are not worth another try
    assert (
        "not authorised (HTTP 401)" if auth == "basic" else "refused (Client.Authentication)"
    ) in refused.error
    assert accepted.error is None and accepted.stored == 1


def test_a_records_path_that_matches_nothing_is_an_error_and_the_cursor_stays(
    make_hub: Callable[..., Hub], erp: ErpSimulator
) -> None:
    """A misspelt records path would read "0 records" on every poll and move the cursor past
    every record the ERP holds; an answer without the path's first key is an error instead."""
    debtors(erp.book, 3)
    config = erp_config(erp)
    assert config.soap is not None
    entity = config.soap.entities["customers"]
    config.soap.entities["customers"] = entity.model_copy(update={"records": "Debtrs"})
    hub = make_hub(systems={**TEST_SYSTEMS, "erp": config})
    [report] = poller(hub).poll(["customers"])
    assert report.records == 0 and "records path 'Debtrs'" in (report.error or "")
    status = {e["entity"]: e for e in soap_status(hub.ports)[0]["entities"]}
    assert status["customers"]["failing"] and not status["customers"]["cursor"]


@pytest.mark.parametrize(
    ("path", "answer", "found"),
    [
        ("Items.Item", {"Items": None, "Total": 0}, []),  # zeep's empty list
        ("Items.Item", {"Items": {"Item": [{"No": "1"}]}}, [{"No": "1"}]),
        ("@", None, []),
        ("Items.Item", None, []),  # an operation that answered nothing
        ("Itms.Item", {"Items": None, "Total": 0}, "the answer has no 'Itms' (it is Items, Total)"),
        ("Debtrs", [{"No": "1"}], "the answer has no 'Debtrs' (it is a list)"),
    ],
)
def test_which_empty_answers_are_empty(path: str, answer: object, found: object) -> None:
    from adapters.soap.client import SoapCallFailed
    from adapters.soap.poller import records_at

    if isinstance(found, str):
        with pytest.raises(SoapCallFailed, match=re.escape(found)):
            records_at("GetThings", path, answer)
    else:
        assert records_at("GetThings", path, answer) == found


@pytest.mark.parametrize(("overlap", "read"), [(0, False), (60, True)], ids=["no-overlap", "overlap"])
def test_a_change_committed_late_is_read_within_the_overlap_margin(
    make_hub: Callable[..., Hub], erp: ErpSimulator, overlap: int, read: bool
) -> None:
    """A change the ERP stamps before the newest one the hub has seen (a long transaction that
    commits late, a clock behind) lies behind the cursor: only the overlap margin reads it."""
    refs = debtors(erp.book, 4)
    config = erp_config(erp)
    assert config.soap is not None
    entity = config.soap.entities["customers"]
    config.soap.entities["customers"] = entity.model_copy(update={"overlap_seconds": overlap})
    hub = make_hub(systems={**TEST_SYSTEMS, "erp": config})
    poller(hub).poll(["customers"])
    with erp.book.lock:  # a debtor entered in a transaction that began 10 s ago
        late = erp.book.add_debtor("Spaet", name2="Eva", city="Köln", email="late@example.org")
        record = dict(erp.book.debtors.records[late])
        erp.book.debtors.put(late, record, erp.book.clock - timedelta(seconds=10))
    [report] = poller(hub).poll(["customers"])
    hub.process()
    assert bool(source_events(hub, [late])) is read
    # What the margin read again was already stored: the inbox counted it as duplicates.
    assert (report.duplicates >= len(refs) - 1) is read


def test_extra_headers_carry_api_tokens_from_the_environment(
    make_hub: Callable[..., Hub], erp: ErpSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    debtors(erp.book, 2)
    erp.required_headers = {"X-AppSecretToken": "app-secret", "X-Client": "hub"}
    headers = {"X-AppSecretToken": "env:ERP_APP_TOKEN", "X-Client": "hub"}
    hub = make_hub(systems={**TEST_SYSTEMS, "erp": erp_config(erp, headers=headers)})
    monkeypatch.delenv("ERP_APP_TOKEN", raising=False)
    with pytest.raises(
        ConfigError, match=r"soap\.headers\.X-AppSecretToken: environment variable ERP_APP_TOKEN"
    ):
        poller(hub).poll(["customers"])
    monkeypatch.setenv("ERP_APP_TOKEN", "app-secret")
    hub = make_hub(systems={**TEST_SYSTEMS, "erp": erp_config(erp, headers=headers)})
    [report] = poller(hub).poll(["customers"])
    assert (report.error, report.records) == (None, 2)


@pytest.mark.parametrize(
    ("permanent", "retries"), [([], 2), (["sperre auf tabelle"], 0)], ids=["transient", "by-text"]
)
def test_a_fault_is_matched_by_code_or_by_the_text_of_its_message(
    make_hub: Callable[..., Hub], erp: ErpSimulator, permanent: list[str], retries: int
) -> None:
    """The ERP answers every fault with the code Server.Internal and says what it is only in the
    text: a permanent fault named by its text is not retried."""
    debtors(erp.book, 2)
    erp.faults.arm("soap_fault", operation="GetCustomersChangedSince", times=10)
    hub = make_hub(systems={**TEST_SYSTEMS, "erp": erp_config(erp, permanent_faults=permanent)})
    [report] = poller(hub).poll(["customers"])
    assert report.retries == retries and "Sperre auf Tabelle" in (report.error or "")
    assert ("refused" in report.error) is bool(permanent)


def test_the_erp_process_gone_mid_page_and_back_on_its_port_loses_and_duplicates_nothing(
    erp_hub: Callable[..., Hub], erp: ErpSimulator
) -> None:
    """The ERP stops between page 1 and page 2 of a poll (its process gone: connections
    refused), then starts again on the same port: the failed poll moved no cursor past what it
    stored, and the next one reads the rest."""
    refs = debtors(erp.book, 13)  # three pages of five
    hub = erp_hub()
    port = int(erp.url.split(":")[2].split("/")[0])

    def gone_after_the_first_page(_report: Any) -> None:
        if erp.calls["GetCustomersChangedSince"] == 1:
            erp.stop()

    failed = poller(hub).poll_entity("customers", on_page=gone_after_the_first_page)
    assert failed.error is not None and failed.stored == 5
    with ErpSimulator(book=erp.book, port=port) as back:
        assert back.url == erp.url
        again = poller(hub).poll_entity("customers")
    hub.process()
    assert again.error is None
    events = source_events(hub, refs)
    assert sorted(events) == sorted(refs) and all(len(e) == 1 for e in events.values())
    assert hub.dead_letters.list("open") == []


def test_a_garbled_soap_answer_is_read_or_reported_never_a_crash(tmp_path: Path) -> None:
    """Any bytes of a real answer overwritten (a proxy, line noise, a half-written buffer): the
    poll reads the records, or reports an error naming the call and moves no cursor, and the next
    clean poll reads them all. (Damage inside a value that still parses - a digit changed - is
    read as sent: SOAP carries no checksum.)"""
    with ErpSimulator() as erp:
        refs = debtors(erp.book, 3)
        hub = bootstrap(
            hub_settings(f"sqlite:///{tmp_path / 'hub.db'}", systems={**TEST_SYSTEMS, "erp": erp_config(erp)})
        )
        polling = poller(hub)  # one zeep client for every example: the WSDL is read once
        try:

            @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            @given(at=st.integers(0, 10**5), junk=st.binary(min_size=1, max_size=6))
            def garbled(at: int, junk: bytes) -> None:
                with hub.store.transaction() as cursor:  # every example polls from the start
                    hub.store.execute(cursor, "DELETE FROM hub_adapter_state")
                erp.faults.arm("garble", operation="GetCustomersChangedSince", at=at, junk=junk, times=10)
                [damaged] = polling.poll(["customers"])
                erp.faults.clear()
                if damaged.error is None:
                    return  # read (the damage was in a value, or in nothing zeep needed)
                assert "GetCustomersChangedSince" in damaged.error and damaged.stored == 0
                [clean] = polling.poll(["customers"])  # the cursor did not move: all again
                assert (clean.error, clean.records) == (None, len(refs))

            garbled()
        finally:
            hub.close()
