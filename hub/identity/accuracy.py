"""Pairwise and cluster accuracy of a resolution against a known truth."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations

__all__ = ["Accuracy", "measure"]


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
