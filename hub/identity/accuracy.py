"""Pairwise and cluster accuracy of a resolution against a known truth, and the recall any
matcher could reach on the same records without linking on a name alone."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations

from hub.identity.compare import Pattern, compare
from hub.identity.model import DEFAULT_MODEL, MatchModel
from hub.identity.normalise import Profile, blocking_keys
from hub.identity.resolver import Resolver, crowded

__all__ = [
    "Accuracy",
    "NameAlone",
    "ReviewQueue",
    "level_shares",
    "measure",
    "name_alone",
    "recall_ceiling",
    "resolve_in_order",
    "review_queue",
]


@dataclass(frozen=True)
class Accuracy:
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    clusters_exact: float  # share of true clusters reproduced exactly

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(groups: Iterable[Iterable[str]]) -> set[tuple[str, str]]:
    return {pair for group in groups for pair in combinations(sorted(group), 2)}


def measure(predicted: Mapping[str, str], truth: Mapping[str, str]) -> Accuracy:
    """``predicted``/``truth``: record → customer id / entity id."""
    by_predicted, by_truth = defaultdict(set), defaultdict(set)
    for record, customer in predicted.items():
        by_predicted[customer].add(record)
    for record, entity in truth.items():
        by_truth[entity].add(record)
    guessed, real = _pairs(by_predicted.values()), _pairs(by_truth.values())
    exact = {frozenset(g) for g in by_predicted.values()}
    reproduced = sum(frozenset(g) in exact for g in by_truth.values())
    return Accuracy(
        len(real), len(guessed), len(guessed & real), reproduced / len(by_truth) if by_truth else 1.0
    )


def resolve_in_order(
    profiles: Iterable[Profile], model: MatchModel = DEFAULT_MODEL
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The profiles resolved one at a time as they come, in memory (with the default model unless
    told): where each record was placed (record → customer), and the record pairs sent to review."""
    resolver = Resolver(model=model)
    reviewed = [
        (d.record, d.other)
        for profile in profiles
        for d in resolver.resolve(profile)
        if d.kind == "review" and d.other is not None
    ]
    return dict(resolver.graph.customer_of), reviewed


@dataclass(frozen=True)
class ReviewQueue:
    pairs: int  # pairs of customers still apart that a steward is shown
    same_person: int  # of them, those whose reviewed records are of one person


def review_queue(
    predicted: Mapping[str, str], reviewed: Iterable[tuple[str, str]], truth: Mapping[str, str]
) -> ReviewQueue:
    """What ``hub customers review`` holds at the end: the pairs of customers still apart that
    records in the review band put before a steward, and how many of them are one person. Says
    how a steward's time is spent: confirming what the matcher held back, or keeping apart the
    family members it was unsure of."""
    queue: dict[frozenset[str], bool] = {}
    for a, b in reviewed:
        pair = frozenset((predicted[a], predicted[b]))
        if len(pair) == 2:
            queue[pair] = queue.get(pair, False) or truth[a] == truth[b]
    return ReviewQueue(len(queue), sum(queue.values()))


_NAMES = frozenset({"given", "family", "organisation", "city"})
_AGREE = frozenset({"exact", "close", "transposed", "near"})


def recall_ceiling(profiles: Mapping[str, Profile], truth: Mapping[str, str]) -> float:
    """The share of true pairs joined by evidence beyond the name: records of one entity that
    agree, even loosely, on a birth date, e-mail, phone, street, postcode or tax id — directly or
    through another record of theirs. The rest share nothing but a name, as namesakes do: a
    matcher that never links on a name alone cannot find them, so this bounds its recall."""
    by_truth: dict[str, list[Profile]] = defaultdict(list)
    for record, entity in truth.items():
        by_truth[entity].append(profiles[record])
    pairs = joined = 0
    for group in by_truth.values():
        part = list(range(len(group)))
        for i, j in combinations(range(len(group)), 2):
            pattern, _ = compare(group[i], group[j])
            if any(level in _AGREE for a, level in pattern.items() if a not in _NAMES):
                part[_root(part, i)] = _root(part, j)
        sizes = Counter(_root(part, i) for i in range(len(group)))
        pairs += len(group) * (len(group) - 1) // 2
        joined += sum(n * (n - 1) // 2 for n in sizes.values())
    return joined / pairs if pairs else 1.0


def blocking_recall(profiles: Mapping[str, Profile], truth: Mapping[str, str]) -> float:
    """The share of true pairs that share a blocking key the matcher would search (not one too
    crowded to search, ``resolver.crowded``), directly or through another record of theirs: what
    the candidates let a matcher find at most."""
    index = {record: i for i, record in enumerate(profiles)}
    holders: dict[str, list[int]] = defaultdict(list)
    for record, profile in profiles.items():
        for key in blocking_keys(profile):
            holders[key].append(index[record])
    entity = [truth[record] for record in profiles]
    part = list(range(len(index)))
    for key, members in holders.items():
        if len(members) > 1 and not crowded(key, len(members)):
            first_of: dict[str, int] = {}  # per entity among the key's holders: joined to its first
            for i in members:
                part[_root(part, i)] = _root(part, first_of.setdefault(entity[i], i))
    by_truth: dict[str, list[int]] = defaultdict(list)
    for record, name in truth.items():
        by_truth[name].append(index[record])
    pairs = joined = 0
    for group in by_truth.values():
        sizes = Counter(_root(part, i) for i in group)
        pairs += len(group) * (len(group) - 1) // 2
        joined += sum(n * (n - 1) // 2 for n in sizes.values())
    return joined / pairs if pairs else 1.0


@dataclass(frozen=True)
class NameAlone:
    true_pairs: int
    false_pairs: int


def name_alone(profiles: Mapping[str, Profile], truth: Mapping[str, str]) -> NameAlone:
    """What the boldest safe-looking rule beyond the ceiling would do: link two persons' records
    whose full name is found on those two records only, with no other evidence either way (the
    other fields blank on one side, at most the city agreeing). Counts the true pairs it would
    add (pairs that share nothing but the name) and the pairs of two different people it would
    link: when namesakes look exactly like that, no matcher can tell them apart, and the name
    alone cannot be a link."""
    by_name: dict[tuple[str, str], list[str]] = defaultdict(list)
    for record, profile in profiles.items():
        if profile.kind == "person" and len(profile.given) > 1 and profile.family:
            by_name[(profile.given, profile.family)].append(record)
    true_pairs = false_pairs = 0
    for records in by_name.values():
        if len(records) != 2:
            continue
        pattern, _ = compare(profiles[records[0]], profiles[records[1]])
        beyond = [level for attribute, level in pattern.items() if attribute not in _NAMES]
        if any(level != "missing" for level in beyond) or pattern["city"] == "diff":
            continue  # evidence either way: not a link by the name alone
        if truth[records[0]] == truth[records[1]]:
            true_pairs += 1
        else:
            false_pairs += 1
    return NameAlone(true_pairs, false_pairs)


def level_shares(patterns: Iterable[Pattern]) -> dict[str, dict[str, float]]:
    """Per attribute, the share of each agreement level among the pairs that have the attribute on
    both sides: over true pairs an estimate of m, over pairs of two people one of u."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for pattern in patterns:
        for attribute, level in pattern.items():
            if level != "missing":
                counts[attribute][level] += 1
    return {
        attribute: {level: n / sum(levels.values()) for level, n in levels.items()}
        for attribute, levels in counts.items()
    }


def _root(part: list[int], i: int) -> int:
    """The representative of ``i``'s group in a union-find forest."""
    while part[i] != i:
        i = part[i]
    return i
