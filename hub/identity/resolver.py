"""Incremental identity resolution: each record, when it arrives or changes, joins the customer
it matches, starts a new one, or waits for a steward — and every such step is a ``Decision``
with its evidence.

Cost grows with the candidates (records sharing a blocking key, and the members of their
customers), not with the number of customers.

Joining is by *every* member, not by one: a record joins a customer when its best match there
reaches the link threshold, judged with what all members know, and no member is clearly someone
else (a score below the veto threshold - evidence against, not merely too little evidence for -
or first name and birthday both different). So A~B and B~C cannot glue A to C when A and C
differ; C stays apart and the B-C pair goes to review. A member that is merely not sure to be
the same (a rule held the pair back: one field differs, or twins?) does not keep a record out
that the customer as a whole matches. A record that matches two customers who may differ from
each other (a typo of either twin's name: any rule between them) joins neither: a steward
decides. One that
matches two customers who could be one person (each knew too little of the other: one the
e-mail, the other the address) joins them into one (``merge``, by the matcher, with the
evidence of the bridging pair). A customer is judged as a whole: what the best-matching member
leaves blank is filled in from the comparisons with the other members (a namesake matched through
a record without phone or e-mail still meets the customer's phone and e-mail), and a bridge is
scored with what both customers know. A changed record is re-resolved: if it no longer
belongs, it leaves (``unlink``), and a customer it held together falls apart into its linked
parts (``split``).

Stewards' decisions stand: a confirmed pair is kept together, a rejected pair kept apart, a
merged customer is never pulled apart by the matcher and a record split out stays out — until a
steward says otherwise. A split undoes a merge: the records that came with the merged customer go
back under its id, so merge + unmerge restores the customers as they were.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from hub.identity.compare import compare
from hub.identity.model import DEFAULT_MODEL, MatchModel, Score
from hub.identity.normalise import Profile, blocking_keys

__all__ = ["Decision", "IdentityGraph", "Resolver", "UnknownCustomer", "crowded"]

_NAMESPACE = uuid5(NAMESPACE_URL, "https://integration-hub.invalid/customers")
MAX_BLOCK = 300  # a key shared by more records than this is too common to find anyone by
NAME_BLOCK = 20  # the same for a key of the name alone: a common name is no lead
_NAME_KEYS = ("nn:", "ny:")


def crowded(key: str, holders: int) -> bool:
    """Is a key held by too many records to search? Name-only keys sooner: a name is weak."""
    return holders > (NAME_BLOCK if key.startswith(_NAME_KEYS) else MAX_BLOCK)


def _names(profile: Profile, swapped: bool) -> dict[str, str] | None:
    """The names a pair agrees on exactly, for their frequency weights (not when read swapped)."""
    return None if swapped else {"family": profile.family, "given": profile.given.split(" ")[0]}


class UnknownCustomer(LookupError):
    """A customer or record named by a steward does not exist (the message says which)."""


@dataclass(frozen=True)
class Decision:
    kind: str  # new | link | unlink | split | review | merge | confirm | reject
    record: str | None
    customer: str | None
    other: str | None = None  # the record it was compared with, or the other customer
    score: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    by: str = "matcher"

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class IdentityGraph:
    """Who belongs to whom, the blocking index, and the stewards' constraints."""

    profiles: dict[str, Profile] = field(default_factory=dict)
    keys: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    customer_of: dict[str, str] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    links: dict[frozenset[str], float] = field(default_factory=dict)  # pairs linked, with score
    together: set[frozenset[str]] = field(default_factory=set)  # steward: same customer
    apart: set[frozenset[str]] = field(default_factory=set)  # steward: different customers
    pinned: set[str] = field(default_factory=set)  # placed by a steward: the matcher leaves it
    merged_from: dict[str, tuple[str, str]] = field(default_factory=dict)  # record → (old id, merge id)
    founded: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    crowded: set[str] = field(default_factory=set)  # keys too common to search (known from the tables)

    def index(self, profile: Profile) -> None:
        old = self.profiles.get(profile.record)
        if old is not None:
            for key in blocking_keys(old):
                self.keys[key].discard(profile.record)
        self.profiles[profile.record] = profile
        for key in blocking_keys(profile):
            self.keys[key].add(profile.record)

    def candidates(self, profile: Profile) -> tuple[set[str], set[str]]:
        """The records sharing a key with the profile: by a strong key, and by the name alone."""
        strong: set[str] = set()
        by_name: set[str] = set()
        for key in blocking_keys(profile):
            holders = self.keys.get(key, ())
            if key not in self.crowded and not crowded(key, len(holders)):
                (by_name if key.startswith(_NAME_KEYS) else strong).update(holders)
        strong.discard(profile.record)
        by_name -= strong | {profile.record}
        return strong, by_name

    def assign(self, record: str, customer: str) -> None:
        old = self.customer_of.get(record)
        if old is not None:
            self.members[old].discard(record)
            if not self.members[old]:
                del self.members[old]
        self.customer_of[record] = customer
        self.members[customer].add(record)

    def new_customer(self, record: str) -> str:
        self.founded[record] += 1
        return str(uuid5(_NAMESPACE, f"{record}#{self.founded[record]}"))


class Resolver:
    def __init__(self, graph: IdentityGraph | None = None, model: MatchModel = DEFAULT_MODEL) -> None:
        self.graph = graph or IdentityGraph()
        self.model = model

    # -- the matcher ------------------------------------------------------------------------------

    def resolve(self, profile: Profile) -> list[Decision]:
        """Place a new or changed record; returns what was decided, in order."""
        g = self.graph
        record = profile.record
        g.index(profile)
        scores: dict[str, tuple[Score, dict[str, str], bool]] = {}
        judged: dict[str, tuple[Score, dict[str, str], bool]] = {}  # best matches, with their customer

        def pair(other: str) -> tuple[Score, dict[str, str], bool]:
            if other not in scores:
                pattern, swapped = self._compare(profile, g.profiles[other])
                scores[other] = (self.model.score(pattern, _names(profile, swapped)), pattern, swapped)
            return scores[other]

        def score(other: str) -> tuple[Score, dict[str, str], bool]:
            return judged.get(other) or pair(other)

        def explain(other: str) -> tuple[Score, dict[str, Any]]:
            s, pattern, swapped = score(other)
            return s, self._evidence(s, pattern, swapped, pair(other)[1])

        current = g.customer_of.get(record)
        if record in g.pinned and current is not None:
            return []  # a steward placed it; the matcher does not move it
        decisions: list[Decision] = []
        strong, by_name = g.candidates(profile)
        customers = {g.customer_of[c] for c in strong if c in g.customer_of}
        if current is not None:
            customers.add(current)
        accepted: list[tuple[float, str, str]] = []
        review: list[tuple[float, str]] = []
        for customer in self._judged_order(customers, by_name, accepted):
            mates = sorted(g.members[customer] - {record})
            if not mates:
                continue
            results = [(pair(m)[0], m) for m in mates]
            best, best_mate = max((s.total, m) for s, m in results)
            if len(mates) > 1:  # what the best match left blank, the other members may know
                _, pattern, swapped = pair(best_mate)
                filled = self._completed(pattern, [pair(m)[1] for m in mates])
                if filled != pattern:
                    judged[best_mate] = (self.model.score(filled, _names(profile, swapped)), filled, swapped)
                    best = judged[best_mate][0].total
            if any(frozenset((record, m)) in g.apart for m in mates):
                continue
            forced = any(frozenset((record, m)) in g.together for m in mates)
            clash = any(self._clearly_someone_else(s) for s, _ in results)
            if forced or (best >= self.model.link and not clash):
                accepted.append((best if not forced else float("inf"), customer, best_mate))
            elif best >= self.model.review:
                review.append((best, best_mate))
        target = max(accepted)[1:] if accepted else None
        if target is not None and max(accepted)[0] != float("inf"):
            # a rival is a customer that may be someone else and matches nearly as well: within
            # the width of the review band (a margin that wide is odds of 2^width to one)
            margin = max(accepted)[0] - (self.model.link - self.model.review)
            rivals = [
                (b, c, m)
                for b, c, m in accepted
                if c != target[0] and b > margin and not self._compatible(target[0], c)
            ]
            if rivals:  # "H. Horn" matches Helen and her twin Hannah: a steward decides which
                review += [(b, m) for b, _, m in (max(accepted), *rivals)]
                target = None
        if target is None and current is not None and g.members.get(current, set()) <= {record}:
            return self._reviews(record, review, explain)  # alone, and still no one's: it stays
        if current is not None and (target is None or target[0] != current):
            decisions += self._leave(record, current)
        if target is not None and target[0] != g.customer_of.get(record):
            customer, mate = target
            s, evidence = explain(mate)
            g.assign(record, customer)
            g.links[frozenset((record, mate))] = s.total
            decisions.append(Decision("link", record, customer, mate, s.total, evidence, self.model.version))
        elif target is None and record not in g.customer_of:
            customer = g.new_customer(record)
            g.assign(record, customer)
            decisions.append(Decision("new", record, customer, model=self.model.version))
        if target is not None:
            for _, customer, mate in sorted(accepted, reverse=True):
                if customer != g.customer_of[record] and customer in g.members:
                    decisions += self._bridge(record, customer, mate, pair(mate))
        return decisions + self._reviews(record, review, explain)

    def _judged_order(self, customers: set[str], by_name: set[str], accepted: list[Any]) -> Iterator[str]:
        """The customers found by a strong key, then - only if none of them took the record - those
        found by the name alone: a name is the last lead, for a record nothing else found (a
        record that joined someone is met by its namesakes' records when they are resolved)."""
        yield from sorted(customers)
        if accepted:
            return
        g = self.graph
        yield from sorted({g.customer_of[c] for c in by_name if c in g.customer_of} - customers)

    def _compare(self, a: Profile, b: Profile) -> tuple[dict[str, str], bool]:
        """Compared as the model says (placeholder birthdays, configured attributes); two records
        of one system declared free of duplicates are marked ``source: same`` (the model holds
        them apart without strong evidence)."""
        model = self.model
        pattern, swapped = compare(a, b, model.placeholder_days, model.attributes)
        if model.duplicate_free:
            system = a.record.partition(":")[0]
            if system in model.duplicate_free and system == b.record.partition(":")[0]:
                pattern["source"] = "same"
        return pattern, swapped

    def set_aside(self, profile: Profile, error: str) -> list[Decision]:
        """The matcher broke on this record (a bug, nothing foreseen): it is kept, never linked by
        a guess. A record already placed stays where it is with its new profile (nothing to
        decide); a new one becomes a customer of its own, the error as the evidence, so it is
        found and shown, and ``hub customers rematch`` resolves it once the bug is fixed."""
        g = self.graph
        g.index(profile)
        if profile.record in g.customer_of:
            return []
        customer = g.new_customer(profile.record)
        g.assign(profile.record, customer)
        evidence = {"set_aside": error}
        return [Decision("new", profile.record, customer, evidence=evidence, model=self.model.version)]

    def _bridge(
        self, record: str, other: str, mate: str, scored: tuple[Score, dict[str, str], bool]
    ) -> list[Decision]:
        """The record links two customers that arrived apart (neither knew enough of the other):
        they become one, unless a steward placed any of them or any two of their members clearly
        differ, so a bridge never glues two people together."""
        g = self.graph
        customer = g.customer_of[record]
        moving = sorted(g.members[other])
        if any(r in g.pinned for r in moving):
            return []
        cross = list(self._cross(customer, other))
        if not self._compatible(customer, other, cross):
            return []
        _, base, swapped = scored
        pattern = self._completed(base, [p for _, p in cross])
        s = self.model.score(pattern, _names(g.profiles[record], swapped))
        if s.total < self.model.link:
            return []  # the two customers together know what the bridging pair did not: they differ
        for r in moving:
            g.assign(r, customer)
        g.links[frozenset((record, mate))] = s.total
        evidence = {
            "records": moving,
            "via": record,
            "mate": mate,
            **self._evidence(s, pattern, swapped, base),
        }
        return [Decision("merge", None, customer, other, s.total, evidence, self.model.version)]

    def _completed(self, pattern: dict[str, str], others: list[dict[str, str]]) -> dict[str, str]:
        """A pair's pattern with what it left blank filled in from other pairs of the same two
        customers (the best level each shows): a record without a phone matches a namesake's,
        but its customer's other records have a phone, and a different one. The evidence names
        what was filled in (``from_customer``)."""
        filled = dict(pattern)
        for attribute, level in pattern.items():
            if level == "missing" and attribute in self.model.weights:
                known = [p[attribute] for p in others if p.get(attribute, "missing") != "missing"]
                if known:
                    filled[attribute] = max(known, key=self.model.weights[attribute].__getitem__)
        return filled

    def _clearly_someone_else(self, score: Score) -> bool:
        """Evidence against: below the veto, where the model also puts a first name and birthday
        that both differ (``different_person``). A member like that keeps a record out of a
        customer however well it matches the others."""
        return score.total < self.model.veto

    def _someone_else(self, score: Score) -> bool:
        """Not to be taken for the same person without a steward: clearly someone else, or a
        rule that holds the pair back (twins, a first name that differs, ...). Two customers
        with such a pair between them are never joined by a record that matches both. (Two
        records that share only a name, ``name_only``, are no evidence either way.)"""
        return score.rule not in (None, "name_only") or self._clearly_someone_else(score)

    def _cross(self, one: str, other: str) -> Iterator[tuple[frozenset[str], dict[str, str]]]:
        """Every pair of a member of one customer and a member of the other, compared."""
        g = self.graph
        for a in g.members[one]:
            for b in g.members[other]:
                yield frozenset((a, b)), self._compare(g.profiles[a], g.profiles[b])[0]

    def _compatible(
        self, one: str, other: str, cross: Iterable[tuple[frozenset[str], dict[str, str]]] | None = None
    ) -> bool:
        """Could the two customers be one: no two of their members clearly differ, and no
        steward kept any two of them apart. ``cross``: their pairs, when already compared."""
        for pair, pattern in self._cross(one, other) if cross is None else cross:
            if pair in self.graph.apart or self._someone_else(self.model.score(pattern)):
                return False
        return True

    def _reviews(
        self,
        record: str,
        review: list[tuple[float, str]],
        explain: Callable[[str], tuple[Score, dict[str, Any]]],
    ) -> list[Decision]:
        """The best three pairs in the review band, for a steward."""
        customer = self.graph.customer_of[record]
        return [
            Decision("review", record, customer, mate, total, explain(mate)[1], self.model.version)
            for total, mate in sorted(review, reverse=True)[:3]
        ]

    def _leave(self, record: str, customer: str) -> list[Decision]:
        """The record no longer belongs: it leaves, and the rest may fall apart."""
        g = self.graph
        g.customer_of.pop(record)
        g.members[customer].discard(record)
        for pair in [p for p in g.links if record in p]:
            del g.links[pair]
        left = Decision("unlink", record, customer, model=self.model.version, evidence={"reason": "changed"})
        return [left, *self._split_unlinked(customer)]

    def _split_unlinked(self, customer: str) -> list[Decision]:
        """Members no longer connected by links or steward decisions get customers of their own."""
        g = self.graph
        remaining = set(g.members.get(customer, ()))
        if not remaining:
            g.members.pop(customer, None)
            return []
        parts = self._components(remaining)
        parts.sort(key=lambda part: (-len(part), min(part)))
        decisions = []
        for part in parts[1:]:
            founder = min(part)
            new = g.new_customer(founder)
            for member in part:
                g.assign(member, new)
            decisions.append(
                Decision(
                    "split",
                    founder,
                    new,
                    customer,
                    evidence={"records": sorted(part)},
                    model=self.model.version,
                )
            )
        return decisions

    def _components(self, records: set[str]) -> list[set[str]]:
        g = self.graph
        edges: dict[str, set[str]] = defaultdict(set)
        for pair in list(g.links) + list(g.together):
            a, b = tuple(pair)
            if a in records and b in records:
                edges[a].add(b)
                edges[b].add(a)
        pinned = {r for r in records if r in g.pinned}
        if len(pinned) > 1:  # a steward's customer holds together as a whole
            anchor = min(pinned)
            for r in pinned - {anchor}:
                edges[anchor].add(r)
                edges[r].add(anchor)
        seen: set[str] = set()
        parts = []
        for start in sorted(records):
            if start in seen:
                continue
            part, stack = set(), [start]
            while stack:
                node = stack.pop()
                if node in part:
                    continue
                part.add(node)
                stack.extend(edges[node] - part)
            seen |= part
            parts.append(part)
        return parts

    def _evidence(
        self, score: Score, pattern: dict[str, str], swapped: bool, pair: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """What decided: the levels and weights, the rule, and which levels the pair itself left
        blank and the rest of the customers filled in (``pair``: the pair's own levels)."""
        evidence: dict[str, Any] = {"levels": pattern, "weights": score.weights}
        filled = sorted(a for a, level in pattern.items() if pair is not None and pair.get(a) != level)
        if filled:
            evidence["from_customer"] = filled
        if score.rule:
            evidence["rule"] = score.rule
        if score.typed_over:
            evidence["typed_over"] = score.typed_over
        if swapped:
            evidence["names_swapped"] = True
        return evidence

    # -- stewards --------------------------------------------------------------------------------

    def merge(self, keep: str, absorb: str, steward: str) -> list[Decision]:
        """Two customers are one: ``absorb``'s records join ``keep`` and stay."""
        g = self.graph
        if keep == absorb or keep not in g.members or absorb not in g.members:
            raise UnknownCustomer(f"merge needs two existing customers, got {keep} and {absorb}")
        moved = sorted(g.members[absorb])
        for record in moved:
            g.merged_from[record] = (absorb, keep)
            g.assign(record, keep)
        g.pinned.update(g.members[keep])
        g.apart -= {frozenset((a, b)) for a in moved for b in g.members[keep]}
        return [Decision("merge", None, keep, absorb, evidence={"records": moved}, by=steward)]

    def split(self, customer: str, record: str, steward: str) -> list[Decision]:
        """``record`` is someone else: it leaves ``customer``, with the records that came with it
        in a merge (under the customer id they had), and stays out."""
        g = self.graph
        if g.customer_of.get(record) != customer:
            raise UnknownCustomer(f"record {record} is not part of customer {customer}")
        origin = g.merged_from.get(record)
        leaving = {record}
        if origin is not None:
            leaving = {
                r for r, o in g.merged_from.items() if o == origin and g.customer_of.get(r) == customer
            }
        target = origin[0] if origin is not None and origin[0] not in g.members else g.new_customer(record)
        staying = g.members[customer] - leaving
        for member in sorted(leaving):
            g.merged_from.pop(member, None)
            g.assign(member, target)
        g.apart |= {frozenset((a, b)) for a in leaving for b in staying}
        g.together -= {frozenset((a, b)) for a in leaving for b in staying}
        for pair in [p for p in g.links if len(p & leaving) == 1]:
            del g.links[pair]
        g.pinned |= leaving | staying
        decisions = [
            Decision("split", record, target, customer, evidence={"records": sorted(leaving)}, by=steward)
        ]
        if len(staying) > 1:
            g.pinned -= staying  # what stays is held by its own links (and earlier steward decisions)
            decisions += self._split_unlinked(customer)
            g.pinned |= {r for r in staying if r in g.customer_of}
        return decisions

    def confirm(self, a: str, b: str, steward: str) -> list[Decision]:
        """A reviewed pair is the same customer."""
        g = self.graph
        g.together.add(frozenset((a, b)))
        g.apart.discard(frozenset((a, b)))
        decisions = [Decision("confirm", a, g.customer_of.get(a), b, by=steward)]
        ca, cb = g.customer_of[a], g.customer_of[b]
        if ca != cb:
            decisions += self.merge(ca, cb, steward)
        return decisions

    def reject(self, a: str, b: str, steward: str) -> list[Decision]:
        """A reviewed pair is two customers."""
        g = self.graph
        g.apart.add(frozenset((a, b)))
        g.together.discard(frozenset((a, b)))
        decisions = [Decision("reject", a, g.customer_of.get(a), b, by=steward)]
        if g.customer_of.get(a) == g.customer_of.get(b):
            decisions += self.split(g.customer_of[b], b, steward)
        return decisions
