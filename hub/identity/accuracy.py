"""Pairwise and cluster accuracy of a resolution against a known truth, and the recall any
matcher could reach on the same records without linking on a name alone."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations

from hub.identity.compare import compare
from hub.identity.normalise import Profile

__all__ = ["Accuracy", "measure", "recall_ceiling"]


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


def _root(part: list[int], i: int) -> int:
    """The representative of ``i``'s group in a union-find forest."""
    while part[i] != i:
        i = part[i]
    return i
