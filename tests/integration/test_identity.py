"""Identity resolution inside the hub, on SQLite and PostgreSQL: customer records of several
systems go through the real pipeline (inbox, mapping, SourceCustomer aggregates) and are
resolved one at a time as they are recorded; every decision is a CustomerLink event with its
evidence; stewards' decisions stand."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from aggregates import CustomerLink, link_id, matching_model_id
from hub.bootstrap import Hub
from hub.identity.accuracy import measure
from hub.identity.customers import SearchTooLong
from hub.identity.model import DEFAULT_MODEL, HELD_BACK
from hub.settings import SystemConfig
from simulators.people import Record, hard_negatives, link_task, population, record_of
from tests.conftest import FIXTURES, TEST_SYSTEMS

PEOPLE = FIXTURES / "mappings" / "people"
SYSTEMS = ("crm", "shop", "erp", "phone")


@pytest.fixture
def people_hub(make_hub: Callable[..., Hub]) -> Hub:
    systems = {system: SystemConfig(adapter="file", phone_region="DE") for system in SYSTEMS}
    return make_hub(
        systems={**TEST_SYSTEMS, **systems}, mapping_folders={system: PEOPLE for system in SYSTEMS}
    )


def feed(hub: Hub, records: list[Record]) -> None:
    """Each record as its system sends it: an export row with the record's own reference."""
    by_system: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        system, ref = record.record.split(":", 1)
        by_system[system].append({"headers": {}, "body": {"ref": ref, **record.fields}})
    for system, envelopes in by_system.items():
        hub.receive(system, envelopes)
    hub.process()
    assert hub.dead_letters.list("open") == []


def placement(hub: Hub) -> dict[str, str]:
    rows = hub.store.query("SELECT record, customer FROM hub_identity_records")
    return {row["record"]: row["customer"] for row in rows}


def test_two_systems_resolve_as_they_arrive_with_evidence_on_every_decision(people_hub: Hub) -> None:
    rng = random.Random(11)
    records = link_task(400, rng)
    rng.shuffle(records)
    for start in range(0, len(records), 97):  # several arrivals, as exports come in
        feed(people_hub, records[start : start + 97])
    placed = placement(people_hub)
    assert len(placed) == len(records)
    accuracy = measure(placed, {r.record: r.truth for r in records})
    assert accuracy.precision >= 0.98 and accuracy.recall >= 0.95, accuracy
    links = people_hub.store.replay([link_id(r.record) for r in records])
    assert all(
        isinstance(link, CustomerLink) and link.customer == placed[link.record] for link in links.values()
    )
    linked = [
        e for r in records[:100] for e in people_hub.store.events_of([link_id(r.record)])[link_id(r.record)]
        if getattr(e, "kind", None) == "link"
    ]  # fmt: skip
    assert linked and all(e.model == "fs-default-5" and e.by == "matcher" for e in linked)
    evidence = linked[0].evidence
    assert set(evidence["levels"]) >= {"given", "family", "birth", "email"} and evidence["weights"]


def test_twins_families_and_namesakes_are_never_linked(people_hub: Hub) -> None:
    rng = random.Random(5)
    people = [p for p in population(600, rng, firms=0.0)]
    records = [record_of(p, f"{system}:{p.id}", rng) for p in people for system in ("crm", "shop")]
    feed(people_hub, records)
    placed = placement(people_hub)
    hard = hard_negatives(people)
    assert len(hard) > 30  # the population has them
    wrongly = [
        (a, b)
        for a, b in hard
        if {placed[f"{s}:{a}"] for s in ("crm", "shop")} & {placed[f"{s}:{b}"] for s in ("crm", "shop")}
    ]
    assert wrongly == []


PERSON = {
    "kind": "person",
    "given_name": "Anna",
    "family_name": "Schneider",
    "birth_date": "1984-03-07",
    "emails": ["anna.schneider@web.de"],
    "phones": ["0221 4711000"],
    "addresses": [{"lines": ["Lindenstraße 5"], "postcode": "50667", "city": "Köln", "country": "DE"}],
}


def send(hub: Hub, record: str, **fields: Any) -> None:
    feed(hub, [Record(record, "-", {**PERSON, **fields})])


def decisions(hub: Hub, record: str) -> list[tuple[str, str]]:
    events = hub.store.events_of([link_id(record)])[link_id(record)]
    return [(e.kind, e.by) for e in events if isinstance(e, CustomerLink.Decided)]


def test_a_changed_record_leaves_and_a_chain_does_not_glue_two_people(people_hub: Hub) -> None:
    hub = people_hub
    send(hub, "crm:1")
    send(hub, "shop:1", given_name="Anne-Marie", emails=["anna.schneider+shop@web.de"])
    placed = placement(hub)
    assert placed["crm:1"] == placed["shop:1"] and decisions(hub, "shop:1") == [("link", "matcher")]

    # A~B (shop:1) and B~C: C is Anna's sister-in-law at the same address, with B's e-mail typed in.
    send(hub, "phone:7", given_name="Berta", birth_date="1951-10-30", emails=["anna.schneider@web.de"])
    placed = placement(hub)
    assert placed["phone:7"] != placed["crm:1"]

    # The shop's record turns out to be someone else entirely: it leaves Anna.
    send(
        hub,
        "shop:1",
        given_name="Jonas",
        family_name="Keller",
        birth_date="1990-12-01",
        emails=["jk@posteo.de"],
        phones=["030 1234567"],
        addresses=[{"lines": ["Ringstraße 1"], "postcode": "10115", "city": "Berlin", "country": "DE"}],
    )
    placed = placement(hub)
    assert placed["shop:1"] != placed["crm:1"]
    assert [k for k, _ in decisions(hub, "shop:1")] == ["link", "unlink", "new"]


def test_stewards_merge_and_split_round_trip_and_their_decisions_stand(people_hub: Hub) -> None:
    hub = people_hub
    send(hub, "crm:1")
    send(hub, "crm:1b", given_name="Annette", birth_date=None, emails=["netti@gmx.de"], phones=[])
    send(hub, "erp:9", given_name="A.", birth_date=None, emails=[], phones=[], addresses=[])
    before = placement(hub)
    assert len(set(before.values())) == 3  # not enough evidence: three customers

    anna, annette = before["crm:1"], before["crm:1b"]
    hub.identity.merge(anna, annette, steward="maria")
    merged = placement(hub)
    assert merged["crm:1b"] == anna and decisions(hub, "crm:1b")[-1] == ("merge", "maria")
    send(hub, "crm:1b", phones=["0170 9999999"])  # a change does not undo a steward's merge
    assert placement(hub)["crm:1b"] == anna

    hub.identity.split(anna, "crm:1b", steward="maria")
    assert placement(hub) == before  # merge + unmerge: the customers as they were, ids included

    hub.identity.confirm("crm:1", "erp:9", steward="maria")
    assert placement(hub)["erp:9"] == anna
    hub.identity.reject("crm:1", "erp:9", steward="maria")
    send(hub, "erp:9", emails=["anna.schneider@web.de"])  # now it would match: the rejection stands
    assert placement(hub)["erp:9"] != anna
    assert {("merge", "maria"), ("split", "maria")} <= set(decisions(hub, "erp:9"))
    assert {("confirm", "maria"), ("reject", "maria")} <= set(decisions(hub, "crm:1"))


def test_the_review_queue_names_both_customers_and_asks_what_held_the_pair_back(people_hub: Hub) -> None:
    hub = people_hub
    send(hub, "crm:1")
    # Anna's birthday, surname and address, another first name, nothing personal: her twin, a
    # sister, or her record with the first name typed over - a steward decides.
    send(hub, "shop:2", given_name="Berta", emails=[], phones=[])
    (pair,) = hub.customers.review()
    assert {pair["a"], pair["b"]} == {"crm:1", "shop:2"}
    named = dict(zip(pair["customers"], pair["names"], strict=True))
    placed = placement(hub)
    assert named == {placed["crm:1"]: "Anna Schneider", placed["shop:2"]: "Berta Schneider"}
    assert pair["evidence"]["rule"] == "given_names_differ"
    assert pair["question"] == HELD_BACK["given_names_differ"]
    assert DEFAULT_MODEL.review <= pair["score"] < DEFAULT_MODEL.link

    hub.identity.reject("crm:1", "shop:2", steward="maria")
    hub.process()  # the customers projection takes the decision in, as the CLI's steward commands do
    assert hub.customers.review() == []


def test_rematch_after_a_rule_change_is_a_replay_and_the_graph_rebuilds_as_of(
    people_hub: Hub, make_hub: Callable[..., Hub]
) -> None:
    feed(people_hub, link_task(150, random.Random(8)))
    before = placement(people_hub)
    moment = datetime.now(UTC)
    together: dict[str, list[str]] = defaultdict(list)
    for record, customer in before.items():
        together[customer].append(record)
    a, b = next(sorted(held)[:2] for held in together.values() if len(held) > 1)
    people_hub.identity.confirm(a, b, steward="maria")
    # The same rules move nothing (replaying in order may meet a pair for review that the first
    # pass saw from the other side); once the review queue has it, a re-match is a no-op.
    assert set(people_hub.identity.rematch()) <= {"review"}
    people_hub.process()
    assert people_hub.identity.rematch() == {}

    systems = {system: SystemConfig(adapter="file", phone_region="DE") for system in SYSTEMS}
    strict = make_hub(
        systems={**TEST_SYSTEMS, **systems},
        mapping_folders={system: PEOPLE for system in SYSTEMS},
        customers={"matching": {"link": 30.0, "review": 6.0, "veto": 0.0}},
    )
    head = strict.store.head()
    estimate = strict.identity.rematch(dry_run=True)
    assert estimate["unlink"] > 0 and strict.store.head() == head  # a dry run writes nothing
    counts = strict.identity.rematch()
    assert counts["unlink"] == estimate["unlink"] and counts["unlink"] > 0
    after = placement(strict)
    assert after[a] == after[b]  # the steward's confirmation stands
    size_before, size_after = Counter(before.values()), Counter(after.values())
    moved = [
        r
        for r in before
        if before[r] != after[r] or (size_after[after[r]] == 1 and size_before[before[r]] > 1)
    ]
    strict_model = "fs-default-5+link30/review6/veto0"
    link = strict.store.replay([link_id(moved[0])])[link_id(moved[0])]
    assert link.customer == after[moved[0]]
    last = [
        e
        for e in strict.store.events_of([link_id(moved[0])])[link_id(moved[0])]
        if isinstance(e, CustomerLink.Decided)
    ][-1]
    assert last.model == strict_model and last.provenance["system"] == "rematch"
    strict.process()
    # A second run moves nothing. It may queue a review pair the first run could not: a record's
    # pairs for review are drawn against the graph as it stood when the record was resolved, and
    # the first run changed that graph after it. Once the queue has them, a re-match is a no-op.
    assert set(strict.identity.rematch()) <= {"review"}
    strict.process()
    assert strict.identity.rematch() == {}

    # The graph as it stood before the re-match, rebuilt from the decisions in the log.
    strict.process()
    then = {row["record"]: row["customer_id"] for row in strict.customers.graph(moment)}
    assert then == before
    now = {row["record"]: row["customer_id"] for row in strict.customers.graph()}
    assert now == after


def test_search_finds_names_typed_with_typos_and_keys_an_older_database_once(people_hub: Hub) -> None:
    hub = people_hub
    send(hub, "crm:1")  # Anna Schneider
    send(hub, "crm:2", given_name="Johannes", family_name="Jansen", emails=["jj@web.de"], birth_date=None)
    send(hub, "crm:3", given_name="Anna", family_name="Schreiber", emails=["as@web.de"], phones=[])

    def found(text: str) -> list[str]:
        return [r for hit in hub.customers.search(text) for r in hit["records"]]

    assert found("anna schneider") == ["crm:1", "crm:3"]  # the closest first: Schreiber is a near miss
    assert found("Schnieder Anna")[0] == "crm:1"  # a typo, the words swapped
    assert found("anna schnder")[0] == "crm:1"  # a letter lost
    assert found("hans jansn") == ["crm:2"]  # a short form, and a typo
    assert found("xanna schneider")[0] == "crm:1"  # a typo hid one word from both keys
    assert set(found("anna")) == {"crm:1", "crm:3"} and found("Quillfeather") == []
    assert found("A. Schneider")[0] == "crm:1" and found("B. Schneider") == []  # an initial filters

    assert found("anna schneder")[0] == "crm:1"  # a letter changed
    assert found("anna schenider")[0] == "crm:1"  # two letters swapped
    assert found("anna schneiderr")[0] == "crm:1"  # a letter doubled

    # Bounded whatever is typed: a word longer than names are is looked up as typed (a
    # 100,000-letter word once grew the hub to 23.5 GB), a search too long is refused at once.
    assert found("anna " + "s" * 190) == []
    with pytest.raises(SearchTooLong, match="at most 200 characters, got 100,000"):
        found("s" * 100_000)
    with pytest.raises(SearchTooLong, match="at most 8 words, got 9"):
        found("a b c d e f g h i")

    # A database from before the words were searched by their deletions (here: by their first
    # three letters, and a whole-name key): the old keys go, the words come, once, when the hub
    # opens it.
    with hub.store.transaction() as cursor:
        cursor.execute("DELETE FROM hub_identity_words")
        cursor.execute("INSERT INTO hub_identity_words (key, record) VALUES ('w:sch', 'crm:1')")
        cursor.execute("INSERT INTO hub_identity_keys (key, record) VALUES ('n:ANA:SNADAR', 'crm:1')")
    assert found("anna schneider") == []
    with hub.store.transaction() as cursor:
        assert hub.identity.tables.add_search_words(cursor) == 3
        assert hub.identity.tables.add_search_words(cursor) == 0
    assert hub.store.query("SELECT key FROM hub_identity_keys WHERE key LIKE ?", ["n:%"]) == []
    assert hub.store.query("SELECT key FROM hub_identity_words WHERE key LIKE ?", ["w:%"]) == []
    assert found("anna schneider")[0] == "crm:1"

    # A record that changes its name is found by the new one only; an erased one by none.
    send(hub, "crm:2", given_name="Johannes", family_name="Petersen", emails=["jj@web.de"], birth_date=None)
    assert found("hans jansen") == [] and found("hans petersen") == ["crm:2"]
    with hub.store.transaction() as cursor:
        hub.identity.tables.forget(cursor, "crm:2")
    assert found("hans petersen") == []
    assert hub.store.query("SELECT key FROM hub_identity_words WHERE record = ?", ["crm:2"]) == []


def test_a_record_the_matcher_breaks_on_is_set_aside_and_the_rest_go_on(
    people_hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug no rule foresaw (here: the resolver raising on one record) must not stop identity
    resolution: that record becomes a customer of its own with the error as evidence, the records
    around it are resolved, and once the bug is gone a rematch resolves it."""
    from hub.identity.resolver import Resolver

    hub = people_hub
    resolve = Resolver.resolve

    def broken(self: Resolver, profile: Any) -> Any:
        if profile.record == "shop:2":
            raise KeyError("initial")
        return resolve(self, profile)

    monkeypatch.setattr(Resolver, "resolve", broken)
    feed(
        hub,
        [
            Record("crm:1", "-", PERSON),
            Record("erp:3", "-", {**PERSON, "phones": []}),
            Record("shop:2", "-", {**PERSON, "emails": ["anna@shop.de"]}),
        ],
    )
    placed = placement(hub)
    assert placed["crm:1"] == placed["erp:3"] != placed["shop:2"]
    aside = [e for e in hub.store.events_of([link_id("shop:2")])[link_id("shop:2")] if e.kind == "new"]
    assert aside[0].evidence == {"set_aside": "KeyError: 'initial'"}
    assert hub.metrics.registry.get_sample_value("hub_identity_records_set_aside_total") == 1

    monkeypatch.setattr(Resolver, "resolve", resolve)
    someone = {"given_name": "Jonas", "family_name": "Keller", "birth_date": "1990-05-05"}
    send(hub, "crm:4", **someone, emails=["jonas@web.de"], phones=[], addresses=[])  # it goes on
    assert hub.identity.rematch() == {"merge": 1}  # shop:2 resolved, bridging its own and Anna's
    placed = placement(hub)
    assert placed["shop:2"] == placed["crm:1"] != placed["crm:4"]


def test_a_fresh_hub_trains_its_model_once_it_holds_enough_records_and_rematches(
    make_hub: Callable[..., Hub],
) -> None:
    """The model is learned from the hub's own records, recorded in the log, used from then on -
    and the records resolved before are re-matched with it, named in their decisions."""
    from hub.settings import CustomerSettings, Matching

    systems = {system: SystemConfig(adapter="file", phone_region="DE") for system in SYSTEMS}
    hub = make_hub(
        systems={**TEST_SYSTEMS, **systems},
        mapping_folders={system: PEOPLE for system in SYSTEMS},
        customers=CustomerSettings(matching=Matching(train_after=300)),
    )
    assert hub.identity.model.version == DEFAULT_MODEL.version and hub.identity.stored_model() is None
    rng = random.Random(8)
    records = link_task(250, rng)
    rng.shuffle(records)
    feed(hub, records[:200])
    assert hub.identity.stored_model() is None  # 200 records: not yet
    feed(hub, records[200:])
    stored = hub.identity.stored_model()
    assert stored is not None and stored.version.startswith("fs-trained-")
    assert hub.identity.model.version == stored.version and stored.trained["records"] >= 300
    assert stored.guards_households  # generated customers live in households
    first = records[0].record
    kinds = [(e.kind, e.model) for e in hub.store.events_of([link_id(first)])[link_id(first)]]
    assert kinds[0][1] == DEFAULT_MODEL.version  # resolved before training, with the defaults
    accuracy = measure(placement(hub), {r.record: r.truth for r in records})
    assert accuracy.precision >= 0.98 and accuracy.recall >= 0.9, accuracy
    # a second hub on the same log starts from the trained model
    again = make_hub(
        systems={**TEST_SYSTEMS, **systems},
        mapping_folders={system: PEOPLE for system in SYSTEMS},
        customers=CustomerSettings(matching=Matching(train_after=300)),
    )
    assert again.identity.model == hub.identity.model
    retrained = again.identity.train(by="maria")
    assert retrained.version == stored.version  # the same records, the same model
    other = again.identity.train(by="maria", seed=2)  # other random pairs: another model
    assert other.version != stored.version
    hub.identity.follow()  # the running hub takes the model another process trained
    assert hub.identity.model.version == other.version
    events = hub.store.events_of([matching_model_id()])[matching_model_id()]
    assert [e.by for e in events] == ["hub", "maria", "maria"]
