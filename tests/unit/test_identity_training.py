"""The matcher's model learned from the data (EM, random pairs, placeholders, households), names
and dates as people write them, candidates by name, and sources free of duplicates."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from hub.identity.compare import compare
from hub.identity.model import DEFAULT_MODEL, HOUSEHOLD_EVIDENCE, MatchModel, configured
from hub.identity.normalise import blocking_keys, normalise
from hub.identity.resolver import NAME_BLOCK, IdentityGraph, Resolver
from hub.identity.tables import _profile_json, profile_of
from hub.identity.training import em, placeholder_days, train
from simulators.people import dedup_task


def person(record: str, **fields: Any) -> Any:
    return normalise(record, {"kind": "person", **fields}, region="GB")


# -- expectation-maximisation ----------------------------------------------------------------------


def test_em_recovers_known_m_and_the_share_of_matches_from_unlabelled_pairs() -> None:
    levels = {"name": ["exact", "close", "diff"], "birth": ["exact", "diff"], "town": ["exact", "diff"]}
    m = {"name": [0.85, 0.1, 0.05], "birth": [0.9, 0.1], "town": [0.7, 0.3]}
    u = {"name": [0.02, 0.08, 0.9], "birth": [0.01, 0.99], "town": [0.1, 0.9]}
    rng = random.Random(3)
    patterns = []
    for _ in range(20_000):
        table = m if rng.random() < 0.3 else u
        patterns.append({a: rng.choices(levels[a], table[a])[0] for a in levels})
    start = {a: {lv: 1 / len(levels[a]) for lv in levels[a]} for a in levels}  # knows nothing
    fixed_u = {a: dict(zip(levels[a], u[a], strict=True)) for a in levels}
    learned, share, iterations = em(levels, patterns, start, fixed_u)
    assert share == pytest.approx(0.3, abs=0.02)
    for attribute, values in m.items():
        for level, expected in zip(levels[attribute], values, strict=True):
            assert learned[attribute][level] == pytest.approx(expected, abs=0.03), (attribute, level)
    assert iterations < 40


def test_em_ignores_missing_levels_instead_of_counting_them() -> None:
    levels = {"name": ["exact", "diff"], "mail": ["exact", "diff"]}
    patterns = [{"name": "exact", "mail": "missing"}] * 300 + [{"name": "diff", "mail": "diff"}] * 700
    start = {"name": {"exact": 0.5, "diff": 0.5}, "mail": {"exact": 0.5, "diff": 0.5}}
    u = {"name": {"exact": 0.01, "diff": 0.99}, "mail": {"exact": 0.001, "diff": 0.999}}
    learned, _, _ = em(levels, patterns, start, u)
    assert learned["mail"]["exact"] + learned["mail"]["diff"] == pytest.approx(1.0, abs=1e-4)
    # the pairs without a mail say nothing of it: of those with one, none agree
    assert learned["mail"]["diff"] > 0.99


# -- what training measures ----------------------------------------------------------------------


def test_a_day_far_more_frequent_than_chance_is_a_placeholder_for_the_year() -> None:
    rng = random.Random(1)
    days = [date(1950, 1, 1) + timedelta(days=rng.randrange(20_000)) for _ in range(730)]
    spread = [person(f"x:{i}", birth_date=day.isoformat()) for i, day in enumerate(days)]
    assert placeholder_days(spread) == frozenset()
    stand_in = [person(f"y:{i}", birth_date=f"{1900 + i % 90}-01-01") for i in range(60)]
    assert placeholder_days(spread + stand_in) == {"01-01"}


def test_training_on_household_data_keeps_the_household_rules_and_learns_weights() -> None:
    records = [r for r in dedup_task(600, random.Random(4)) if r.fields["kind"] == "person"]
    profiles = [normalise(r.record, r.fields) for r in records]
    model = train(profiles, random_pairs=20_000, session_pairs=20_000)
    assert model.households >= HOUSEHOLD_EVIDENCE and model.guards_households
    assert model.version.startswith("fs-trained-") and model.trained["records"] == len(profiles)
    assert model.weights["birth"]["exact"] > 5 and model.weights["family"]["diff"] < 0
    assert model.frequencies["family"][""] == pytest.approx(1 / len(profiles))
    again = MatchModel.from_json(model.to_json())
    assert again == model and again.weights == model.weights


def test_without_households_a_first_name_typed_over_no_longer_holds_a_pair_back() -> None:
    a = person("a:1", given_name="lachlan", family_name="nguyen", birth_date="1966-09-26",
               addresses=[{"lines": ["70 bushby close"], "postcode": "5046", "city": "wilson"}])  # fmt: skip
    b = person("b:1", given_name="emily", family_name="nguyen", birth_date="1966-09-26",
               addresses=[{"lines": ["70 bushby close"], "postcode": "5046", "city": "wilson"}])  # fmt: skip
    pattern = compare(a, b)[0]
    assert DEFAULT_MODEL.score(pattern).rule == "given_names_differ"
    no_households = replace(DEFAULT_MODEL, households=0.01)
    assert no_households.score(pattern).rule is None
    assert no_households.score(pattern).total > DEFAULT_MODEL.score(pattern).total  # no longer capped


def test_a_trained_model_states_its_thresholds_as_probabilities_through_its_prior() -> None:
    trained = replace(DEFAULT_MODEL, version="fs-trained-x", prior=-13.0, trained={"records": 10})
    model = configured(trained)
    assert model.link == pytest.approx(13 + 3.17, abs=0.01)  # p = 0.9
    assert model.review == pytest.approx(13 - 3.17, abs=0.01)  # p = 0.1
    assert model.veto < model.review < model.link
    assert configured(trained, link_probability=0.99).version == "fs-trained-x+p0.99/0.1/0.001"


def test_term_frequencies_make_a_rare_family_name_weigh_more_than_a_common_one() -> None:
    model = replace(DEFAULT_MODEL, frequencies={"family": {"smith": 0.05, "": 0.0001}})
    pattern = {"family": "exact"}
    common = model.score(pattern, {"family": "smith"}).weights["family"]
    rare = model.score(pattern, {"family": "oyelaran"}).weights["family"]
    assert rare > DEFAULT_MODEL.weights["family"]["exact"] > common


# -- names and dates as people write them ---------------------------------------------------------


def test_titles_middle_names_full_names_nicknames_and_gender() -> None:
    sir = person("h:1", given_name="Sir", family_name="Stein")
    assert sir.given == "" and sir.family == "stein"
    aurel = person("h:2", given_name="Sir Aurel", family_name="Stein")
    assert aurel.given == "aurel"
    full = person("h:3", full_name="Dr. Mary Ann O'Neil", gender="Female")
    assert (full.given, full.middle, full.family, full.gender) == ("mary", "ann", "o neil", "f")
    listed = person("h:4", given_name="John", middle_names=["Paul"], family_name="Jones", gender="m")
    assert listed.middle == "paul" and listed.gender == "m"
    fred = person("h:5", given_name="Fred", family_name="Jones")
    frederick = person("h:6", given_name="Frederick", family_name="Jones")
    assert compare(fred, frederick)[0]["given"] == "nickname"
    assert compare(full, listed)[0]["gender"] == "diff"


def test_birth_dates_known_only_to_the_year_compare_by_the_year() -> None:
    year = person("d:1", given_name="Ann", family_name="Lee", birth_date="1861")
    day = person("d:2", given_name="Ann", family_name="Lee", birth_date="1861-05-04")
    other = person("d:3", given_name="Ann", family_name="Lee", birth_date="1862-05-04")
    assert (year.birth, year.birth_year) == (None, 1861)
    assert compare(year, day)[0]["birth"] == "year"
    assert compare(year, other)[0]["birth"] == "diff"
    stand_in = person("d:4", given_name="Ann", family_name="Lee", birth_date="1861-01-01")
    assert compare(stand_in, day)[0]["birth"] == "within_year"  # as written: another day
    assert compare(stand_in, day, frozenset({"01-01"}))[0]["birth"] == "year"  # as the data says


def test_one_word_as_a_first_name_here_and_a_family_name_there_does_not_chain_people() -> None:
    """From the issue: three records the hub made one customer."""
    records = [
        person("h:1", given_name="sarah", family_name="leonard", birth_date="1861-01-01",
               addresses=[{"lines": [], "postcode": "po9 2eq"}]),
        person("h:2", given_name="leonard", birth_date="1861-01-01",
               addresses=[{"lines": [], "postcode": "po9 2eq"}]),
        person("h:3", given_name="leonard", family_name="molloy", birth_date="1861-01-01",
               addresses=[{"lines": [], "postcode": "tf8 7ez"}]),
    ]  # fmt: skip
    assert compare(records[0], records[2])[0]["given"] in ("diff", "other")  # not read swapped
    for model in (DEFAULT_MODEL, replace(DEFAULT_MODEL, placeholder_days=frozenset({"01-01"}))):
        resolver = Resolver(model=model)
        for record in records:
            resolver.resolve(record)
        placed = resolver.graph.customer_of
        assert placed["h:1"] != placed["h:3"], model.placeholder_days


# -- candidates by name ---------------------------------------------------------------------------


def test_a_pair_with_nothing_but_its_names_becomes_candidates_and_a_frequent_name_is_bounded() -> None:
    a = person("s:1", given_name="Aurel", family_name="Stein")
    b = person("s:2", given_name="Stein", family_name="Aurel")  # swapped, nothing else
    assert blocking_keys(a) & blocking_keys(b)
    graph = IdentityGraph()
    graph.index(a)
    assert graph.candidates(b) == (set(), {"s:1"})  # found by the name alone: the last lead
    c = person("s:3", given_name="Aurel", family_name="Stein", birth_date="1901-02-03")
    graph.index(c)
    d = person("s:4", given_name="Aurel", family_name="Stein", birth_date="1901-02-03")
    # a strong key ranks first; the namesake is judged only if nothing strong took the record
    assert graph.candidates(d) == ({"s:3"}, {"s:1"})
    crowd = [person(f"c:{i}", given_name="John", family_name="Smith") for i in range(NAME_BLOCK + 5)]
    for p in crowd:
        graph.index(p)
    assert graph.candidates(person("c:new", given_name="John", family_name="Smith")) == (set(), set())


# -- sources free of duplicates -------------------------------------------------------------------


def test_two_records_of_a_source_free_of_duplicates_need_a_personal_identifier() -> None:
    address = [{"lines": ["1 High Street"], "postcode": "AB1 2CD", "city": "Leeds"}]
    one = person("erp:1", given_name="Ann", family_name="Lee", birth_date="1970-02-03", addresses=address)
    two = person("erp:2", given_name="Ann", family_name="Lee", birth_date="1970-02-03", addresses=address)
    model = configured(DEFAULT_MODEL, duplicate_free=frozenset({"erp"}))
    assert model.version.endswith("+one-to-one:erp")
    resolver = Resolver(model=model)
    resolver.resolve(one)
    assert [d.kind for d in resolver.resolve(two)] == ["new"]
    assert resolver._compare(one, two)[0]["source"] == "same"
    mailed = replace(two, record="erp:3", emails=frozenset({"ann@lee.example"}))
    first = replace(one, emails=frozenset({"ann@lee.example"}))
    resolver = Resolver(model=model)
    resolver.resolve(first)
    assert [d.kind for d in resolver.resolve(mailed)] == ["link"]


def test_the_one_to_one_rule_holds_where_only_a_name_is_shared_too() -> None:
    """Two records of a duplicate-free system sharing a rare name only, and a third record of
    another system knowing both phones: the third may join one of them, never merge the two."""
    model = configured(DEFAULT_MODEL, duplicate_free=frozenset({"crm"}))
    one = person("crm:1", given_name="Anna", family_name="Oyelaran", phones=["+49 30 1234567"])
    two = person("crm:2", given_name="Anna", family_name="Oyelaran", phones=["+49 30 7654321"])
    web = person(
        "web:1", given_name="Anna", family_name="Oyelaran", phones=["+49 30 1234567", "+49 30 7654321"]
    )
    assert model.score(Resolver(model=model)._compare(one, two)[0]).rule == "same_source"
    resolver = Resolver(model=model)
    for record in (one, two, web):
        resolver.resolve(record)
    placed = resolver.graph.customer_of
    assert placed["crm:1"] != placed["crm:2"]


def test_a_configured_attribute_is_compared_and_weighed() -> None:
    model = configured(DEFAULT_MODEL, attributes={"occupation": "fuzzy"})
    a = person("o:1", given_name="Ann", family_name="Lee", attributes={"occupation": "Painter and Sculptor"})
    b = person("o:2", given_name="Ann", family_name="Lee", attributes={"occupation": "sculptor, painter"})
    pattern = compare(a, b, attributes=model.attributes)[0]
    assert pattern["attribute:occupation"] == "close"
    assert model.score(pattern).weights["attribute:occupation"] > 0
    tall = person("o:3", given_name="Ann", family_name="Lee", attributes={"height": "1.85"})
    taller = person("o:4", given_name="Ann", family_name="Lee", attributes={"height": "1.86"})
    assert compare(tall, taller, attributes={"height": "numeric"})[0]["attribute:height"] == "close"
    stored = profile_of(_profile_json(tall))
    assert stored == tall and hash(stored.attributes) == hash(tall.attributes)


def test_a_remembered_score_is_the_score_worked_out_and_the_memory_is_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hub.identity.model as model_module

    records = [r for r in dedup_task(300, random.Random(5)) if r.fields["kind"] == "person"]
    profiles = [normalise(r.record, r.fields) for r in records]
    model = train(profiles, random_pairs=5_000, session_pairs=5_000)
    seen = set()
    monkeypatch.setattr(model_module, "_SCORES_KEPT", 50)
    for a, b in itertools.pairwise(profiles):
        pattern, swapped = compare(a, b, model.placeholder_days)
        names = None if swapped else {"family": a.family, "given": a.given.split(" ")[0]}
        worked_out = model._score(dict(pattern), names)
        assert model.score(pattern, names) == worked_out
        assert model.score(pattern, names) == worked_out  # the second time from memory
        assert len(model._scores) <= 50
        seen.add(tuple(pattern.items()))
    assert len(seen) > 50  # the memory was filled and forgotten on the way
