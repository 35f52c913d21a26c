"""The matcher's model learned from the records this hub holds, without labels, as the
Fellegi-Sunter tools learn theirs.

* **u** (how often two different people show a level) by comparing random pairs of records:
  almost every random pair is two people.
* **m** (how often one person's two records show it) by expectation-maximisation on pairs that
  share a blocking value, in sessions as Splink trains: pairs with one birthday, pairs whose names
  sound alike, pairs with one e-mail. A session does not estimate the attributes it was blocked
  on (every pair agrees there), and it only takes pairs that agree on something personal - so
  the households of a customer base (one surname, one address, one landline) are not what it
  learns a match looks like. Each attribute's m is the mean of the sessions that estimated it.
* **name frequencies** for term-frequency adjustment: "Smith" agreeing says less than "Oyelaran".
* **placeholder birthdays**: a day of the year far more frequent than chance (1 January where a
  source writes it for "only the year known") is compared by its year alone.
* **households**: how many times more often two people share a family name and an address than
  chance predicts. A customer base of families shows tens; a list of persons (FEBRL) about one,
  and there the household rules step aside (``model.HOUSEHOLD_EVIDENCE``).

Costs grow with the samples (bounded by the arguments), not with the square of the records.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from hub.identity.compare import compare
from hub.identity.model import DEFAULT_MODEL, MatchModel
from hub.identity.normalise import Profile

__all__ = ["em", "placeholder_days", "train"]

_GROUP = 40  # members of one blocking group compared with each other at most (a sample beyond)
_FLOOR = 1e-5  # no level is impossible: m and u never below this
_FREQUENT_NAMES = 5000  # name frequencies kept per attribute (the rest count as rare)

Progress = Callable[[str, int, int], None]


def placeholder_days(
    profiles: Iterable[Profile], *, factor: float = 5.0, minimum: int = 10
) -> frozenset[str]:
    """Days of the year ("MM-DD") that hold more full birth dates than ``factor`` times chance (and
    at least ``minimum``): a source's stand-in for "only the year known"."""
    days = Counter(f"{p.birth:%m-%d}" for p in profiles if p.birth)
    expected = sum(days.values()) / 365.25
    return frozenset(d for d, n in days.items() if n >= minimum and n > factor * expected)


def em(
    levels: dict[str, list[str]],
    patterns: Sequence[dict[str, str]],
    m: dict[str, dict[str, float]],
    u: dict[str, dict[str, float]],
    *,
    iterations: int = 40,
    tolerance: float = 1e-5,
    fixed_m: bool = False,
) -> tuple[dict[str, dict[str, float]], float, int]:
    """Expectation-maximisation of m and of the share of matches (lambda) with u fixed, on the
    attributes of ``levels``; returns m, lambda and the iterations run. ``fixed_m``: only lambda
    is estimated (the share of matches among pairs whose m and u are known)."""
    attributes = list(levels)
    codes = np.full((len(patterns), len(attributes)), -1, dtype=np.int16)
    for row, pattern in enumerate(patterns):
        for col, attribute in enumerate(attributes):
            level = pattern.get(attribute, "missing")
            if level in levels[attribute]:
                codes[row, col] = levels[attribute].index(level)
    m = {a: dict(m[a]) for a in attributes}
    share = 0.3
    done = 0
    for done in range(1, iterations + 1):  # noqa: B007 - the count is returned
        ratio = np.zeros(len(patterns))
        for col, attribute in enumerate(attributes):
            weights = np.array(
                [
                    math.log(max(m[attribute][lv], _FLOOR) / max(u[attribute][lv], _FLOOR))
                    for lv in levels[attribute]
                ]
            )
            present = codes[:, col] >= 0
            ratio[present] += weights[codes[present, col]]
        prior = math.log(share / (1 - share))
        posterior = 1.0 / (1.0 + np.exp(-np.clip(ratio + prior, -60, 60)))
        change = 0.0
        for col, attribute in enumerate([] if fixed_m else attributes):
            present = codes[:, col] >= 0
            total = posterior[present].sum()
            if total <= 0:
                continue
            counts = np.bincount(
                codes[present, col], weights=posterior[present], minlength=len(levels[attribute])
            )
            for i, level in enumerate(levels[attribute]):
                value = max(float(counts[i] / total), _FLOOR)
                change = max(change, abs(value - m[attribute][level]))
                m[attribute][level] = value
        change = max(change, abs(float(posterior.mean()) - share))
        share = float(np.clip(posterior.mean(), 1e-6, 1 - 1e-6))
        if change < tolerance:
            break
    return m, share, done


def _pairs_in_groups(groups: Iterable[list[int]], rng: random.Random, limit: int) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    for members in groups:
        if len(members) < 2:
            continue
        if len(members) > _GROUP:
            members = rng.sample(members, _GROUP)
        pairs += [(a, b) for i, a in enumerate(members) for b in members[i + 1 :]]
    return rng.sample(pairs, limit) if len(pairs) > limit else pairs


def _grouped(persons: Sequence[Profile], key: Callable[[Profile], Iterable[str]]) -> list[list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(persons):
        for value in key(p):
            groups[value].append(i)
    return list(groups.values())


def _sessions(
    persons: Sequence[Profile], placeholders: frozenset[str]
) -> dict[str, tuple[set[str], list[list[int]]]]:
    """Blocking rules of the EM sessions: the attributes each is blocked on, and its groups."""

    def birthday(p: Profile) -> list[str]:
        return [p.birth.isoformat()] if p.birth and f"{p.birth:%m-%d}" not in placeholders else []

    def sound(p: Profile) -> list[str]:
        return [f"{p.family_code}:{p.given_code}"] if p.family and p.given else []

    return {
        "birth date": ({"birth"}, _grouped(persons, birthday)),
        "names by sound": ({"given", "family"}, _grouped(persons, sound)),
        "e-mail": ({"email"}, _grouped(persons, lambda p: sorted(p.emails))),
    }


def _frequencies(persons: Sequence[Profile]) -> dict[str, dict[str, float]]:
    tables: dict[str, dict[str, float]] = {}
    for attribute, value in (("family", lambda p: p.family), ("given", lambda p: p.given.split(" ")[0])):
        counts = Counter(v for v in map(value, persons) if v)
        total = sum(counts.values())
        if not total:
            continue
        table = {name: n / total for name, n in counts.most_common(_FREQUENT_NAMES) if n > 1}
        table[""] = 1 / total  # a name seen once, or rarer than those kept
        tables[attribute] = table
    return tables


def _households(
    persons: Sequence[Profile], m: dict[str, dict[str, float]], prior: float
) -> tuple[float | None, int]:
    """How many times more often two people share a family name and an address (the postcode,
    else the town) than chance predicts for names and places drawn independently: near 1 (or
    below) in a list of persons, tens in a customer base of households. Counted exactly over the
    pairs of records with both, less the pairs expected to be one person (the prior's share of
    them times m of each). None where the data cannot say (too few such records): the cautious
    default then holds."""

    def place(p: Profile) -> str:
        return p.postcode or p.city

    located = [p for p in persons if p.family and place(p)]
    total = len(located) * (len(located) - 1) / 2
    if len(located) < 50:
        return None, 0

    def pairs(counts: Counter[Any]) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    family = pairs(Counter(p.family for p in located))
    where = pairs(Counter(place(p) for p in located))
    both = pairs(Counter((p.family, place(p)) for p in located))
    matches = 2**prior / (1 + 2**prior) * total
    m_family = m["family"]["exact"]
    m_place = m["postcode" if any(p.postcode for p in located) else "city"]["exact"]
    expected = (family - matches * m_family) * (where - matches * m_place) / total
    if expected <= 0:  # every pair of one family name or one place is one person: no strangers
        return 0.0, both
    return max(0.0, (both - matches * m_family * m_place) / expected), both


def _prior(matches: dict[str, float], m: dict[str, dict[str, float]], records: int) -> float:
    """log2 of the prior odds that two records are one person: the matching pairs a session
    found, divided by the share of all matches its blocking rule lets through (one birth date:
    m of an exact birthday), over all pairs."""
    if "birth date" in matches:
        found, through = matches["birth date"], m["birth"]["exact"]
    elif "names by sound" in matches:
        found, through = matches["names by sound"], m["given"]["exact"] * m["family"]["exact"]
    else:
        return DEFAULT_MODEL.prior
    share = min(max(found / max(through, 0.05) / (records * (records - 1) / 2), 1e-12), 0.5)
    return math.log2(share / (1 - share))


def train(
    profiles: Sequence[Profile],
    base: MatchModel = DEFAULT_MODEL,
    *,
    seed: int = 1,
    random_pairs: int = 50_000,
    session_pairs: int = 50_000,
    on_progress: Progress | None = None,
) -> MatchModel:
    """A model learned from these profiles (persons; an organisation's levels stay the base's).
    Deterministic for the same profiles, in the same order, and seed."""
    rng = random.Random(seed)
    persons = [p for p in profiles if p.kind == "person"]
    if len(persons) < 2:
        raise ValueError(f"training needs at least two person records, found {len(persons)}")
    placeholders = placeholder_days(persons)

    def compared(a: Profile, b: Profile) -> dict[str, str]:
        return compare(a, b, placeholders, base.attributes)[0]

    def step(name: str, done: int, total: int) -> None:
        if on_progress is not None:
            on_progress(name, done, total)

    levels = {a: list(base.m[a]) for a in base.m if a != "organisation"}
    # u: random pairs
    n = len(persons)
    counts: dict[str, Counter[str]] = {a: Counter() for a in levels}
    wanted = min(random_pairs, n * (n - 1) // 2)
    for done in range(wanted):
        a, b = rng.sample(range(n), 2)
        for attribute, level in compared(persons[a], persons[b]).items():
            if attribute in counts and level != "missing":
                counts[attribute][level] += 1
        if done % 5000 == 0:
            step("u from random pairs", done, wanted)
    step("u from random pairs", wanted, wanted)
    u = {}
    for attribute, seen in counts.items():
        total = sum(seen.values())
        if total < 100:  # too few comparisons to say: the base's
            u[attribute] = dict(base.u[attribute])
            continue
        u[attribute] = {lv: max(seen[lv] / total, _FLOOR) for lv in levels[attribute]}
    # m: EM sessions
    estimates: dict[str, list[dict[str, float]]] = defaultdict(list)
    sessions: dict[str, Any] = {}
    matches: dict[str, float] = {}  # per session: matching pairs among all of its pairs, estimated
    for name, (blocked, groups) in _sessions(persons, placeholders).items():
        pairs = _pairs_in_groups(groups, rng, session_pairs)
        every = sum(len(g) * (len(g) - 1) // 2 for g in groups)
        patterns = [compared(persons[a], persons[b]) for a, b in pairs]
        step(f"m by EM, pairs of one {name}", len(patterns), len(pairs))
        if len(patterns) < 50:
            sessions[name] = {"pairs": len(patterns), "skipped": "fewer than 50 pairs"}
            continue
        estimated = {a: lv for a, lv in levels.items() if a not in blocked}
        m, share, iterations = em(estimated, patterns, dict(base.m), u)
        sessions[name] = {"pairs": len(patterns), "matches": round(share, 4), "iterations": iterations}
        matches[name] = share * every
        for attribute, values in m.items():
            if sum(1 for p in patterns if p.get(attribute, "missing") != "missing") >= 50:
                estimates[attribute].append(values)
    m_final = {
        a: (
            {lv: sum(e[lv] for e in estimates[a]) / len(estimates[a]) for lv in levels[a]}
            if estimates.get(a)
            else dict(base.m[a])
        )
        for a in levels
    }
    prior = _prior(matches, m_final, n)
    households, judged = _households(persons, m_final, prior)
    m_final["organisation"], u["organisation"] = dict(base.m["organisation"]), dict(base.u["organisation"])
    trained = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "records": n,
        "random_pairs": wanted,
        "sessions": sessions,
        "household_pairs": judged,
        "base": base.version,
    }
    model = replace(
        base,
        m=m_final,
        u=u,
        households=None if households is None else round(households, 4),
        prior=round(prior, 3),
        placeholder_days=placeholders,
        frequencies=_frequencies(persons),
        trained=trained,
    )
    digest = hashlib.sha256(
        json.dumps(
            {k: v for k, v in model.to_json().items() if k not in ("version", "trained")}, sort_keys=True
        ).encode()
    ).hexdigest()[:10]
    return replace(model, version=f"fs-trained-{digest}")
