"""Scoring a comparison: Fellegi-Sunter weights with two calibrated rules on top.

Each attribute level has m (how often true matches show it) and u (how often non-matches among
the candidates show it); its weight is log2(m / u), and a pair's score is the sum. ``estimate``
re-estimates m and u from the candidate pairs themselves by expectation-maximisation (the
classic unsupervised Fellegi-Sunter fit), so the weights follow the data they are used on; the
defaults below are such a fit on realistic data, rounded.

What the independence assumption gets wrong is handled as rules, named in the evidence:
* a household shares its address and its landline: phone and address are one piece of
  evidence (the stronger of the two counts fully, the weaker a quarter);
* a move changes street, postcode and city together: against a match they count once; and a
  postcode that agrees already says the city does;
* different people of one family share surname, address and phone: when both given names and
  both birth dates are present and both clearly differ, the pair is not a match whatever the
  rest says (``rule: different_person``) - twins and siblings never merge; first names with
  nothing in common (level ``other``, not a typo of each other) without an e-mail or tax id
  agreeing are at most sent to review, even with one birth date (two household members whose
  birthdays were both mistyped); when only one of
  them clearly differs (a father and son of one name, a couple at one address) and nothing
  personal agrees (the e-mail, a tax id, for a first name also the birth date), the pair is
  never linked automatically, at most sent to review (and as a member of a customer, such a
  record keeps the other out: a chain cannot glue them); nor is a pair whose first names differ
  by a typo and whose birthdays by a day or a digit, unless the e-mail or a tax id agrees (twins:
  Marie and Maria), nor one whose first name is an initial and whose birth dates do not agree
  (the household says the family, the initial not which member).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hub.identity.compare import Pattern

__all__ = ["DEFAULT_MODEL", "MatchModel", "Score", "configured", "estimate"]

_PLACE = ("street", "postcode", "city")
_IDENTIFYING = ("given", "family", "birth", "email")  # with the phone: what a household shares


@dataclass(frozen=True)
class Score:
    total: float
    weights: dict[str, float]  # per attribute, as counted
    rule: str | None = None  # a rule that overrode the weights


@dataclass(frozen=True)
class MatchModel:
    version: str
    m: Mapping[str, Mapping[str, float]]
    u: Mapping[str, Mapping[str, float]]
    link: float = 12.0  # at or above: the same customer
    review: float = 6.0  # at or above (and below link): a steward decides
    veto: float = 0.0  # below: evidence against, a member that keeps a record out of a customer
    weights: dict[str, dict[str, float]] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        table = {
            attribute: {
                level: math.log2(self.m[attribute][level] / self.u[attribute][level]) for level in levels
            }
            for attribute, levels in self.m.items()
        }
        object.__setattr__(self, "weights", table)

    def score(self, pattern: Pattern) -> Score:
        weights = {
            attribute: self.weights[attribute][level] if level != "missing" else 0.0
            for attribute, level in pattern.items()
            if attribute in self.weights
        }
        if pattern.get("postcode") == "exact" and weights.get("city", 0.0) > 0:
            weights["city"] = 0.0  # the postcode names the city: one piece of evidence, not two
        against = [a for a in _PLACE if weights.get(a, 0.0) < 0]
        for a in against[1:]:  # a move changes street, postcode and city at once: one piece of evidence
            if weights[a] < weights[against[0]]:
                weights[against[0]], weights[a] = weights[a], weights[against[0]]
            weights[a] = 0.0
        phone = weights.get("phone", 0.0)
        place = sum(max(weights.get(a, 0.0), 0.0) for a in _PLACE)
        if phone > 0 and place > 0:  # one household, not two pieces of evidence: the weaker counts a quarter
            if phone >= place:
                weights.update({a: weights[a] * 0.25 for a in _PLACE if weights.get(a, 0.0) > 0})
            else:
                weights["phone"] = phone * 0.25
        weights = {k: round(v, 3) for k, v in weights.items()}
        total = round(sum(weights.values()), 3)
        given, birth = pattern.get("given"), pattern.get("birth")
        if given in ("diff", "other") and birth == "diff":
            return Score(min(total, self.veto - 1), weights, "different_person")
        personal = pattern.get("email") == "exact" or pattern.get("tax_id") == "exact"
        if (given == "other" and not personal) or (given == "diff" and not (personal or birth == "exact")):
            # a steward decides; and as a member of a customer, someone else: keeps a chain apart
            return Score(min(total, round(self.link - 0.001, 3)), weights, "given_names_differ")
        if birth == "diff" and not personal:  # a father and son of one name: as given names above
            return Score(min(total, round(self.link - 0.001, 3)), weights, "birth_dates_differ")
        if given == "initial" and not (personal or birth in ("exact", "transposed")) and total >= self.link:
            # "H. Horn" at the Horns' address and number: Helen, or her twin Hannah?
            return Score(round(self.link - 0.001, 3), weights, "initial_only")
        if given in ("close", "initial") and birth == "near" and not personal and total >= self.link:
            # Marie and Maria, born five days apart at one address: twins far more often than two typos
            return Score(round(self.link - 0.001, 3), weights, "possible_twins")
        return Score(total, weights)

    def decision(self, score: Score) -> str:
        if score.total >= self.link:
            return "link"
        return "review" if score.total >= self.review else "distinct"

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "m": self.m,
            "u": self.u,
            "link": self.link,
            "review": self.review,
            "veto": self.veto,
        }


_LEVELS = {
    "given": ("exact", "close", "initial", "diff", "other"),
    "family": ("exact", "close", "diff"),
    "birth": ("exact", "transposed", "near", "diff"),
    "email": ("exact", "diff"),
    "phone": ("exact", "diff"),
    "street": ("exact", "close", "diff"),
    "postcode": ("exact", "diff"),
    "city": ("exact", "close", "diff"),
    "organisation": ("exact", "close", "diff"),
    "tax_id": ("exact", "diff"),
}

DEFAULT_MODEL = MatchModel(
    version="fs-default-2",
    m={
        "given": {"exact": 0.88, "close": 0.08, "initial": 0.01, "diff": 0.029, "other": 0.001},
        "family": {"exact": 0.9, "close": 0.07, "diff": 0.03},
        "birth": {"exact": 0.9, "transposed": 0.04, "near": 0.04, "diff": 0.02},
        "email": {"exact": 0.85, "diff": 0.15},
        "phone": {"exact": 0.8, "diff": 0.2},
        "street": {"exact": 0.8, "close": 0.12, "diff": 0.08},
        "postcode": {"exact": 0.88, "diff": 0.12},
        "city": {"exact": 0.88, "close": 0.04, "diff": 0.08},
        "organisation": {"exact": 0.85, "close": 0.12, "diff": 0.03},
        "tax_id": {"exact": 0.97, "diff": 0.03},
    },
    u={
        "given": {"exact": 0.02, "close": 0.02, "initial": 0.005, "diff": 0.555, "other": 0.4},
        "family": {"exact": 0.03, "close": 0.02, "diff": 0.95},
        "birth": {"exact": 0.002, "transposed": 0.0005, "near": 0.03, "diff": 0.9675},
        "email": {"exact": 0.0005, "diff": 0.9995},
        "phone": {"exact": 0.002, "diff": 0.998},
        "street": {"exact": 0.01, "close": 0.01, "diff": 0.98},
        "postcode": {"exact": 0.05, "diff": 0.95},
        "city": {"exact": 0.1, "close": 0.02, "diff": 0.88},
        "organisation": {"exact": 0.005, "close": 0.02, "diff": 0.975},
        "tax_id": {"exact": 0.0001, "diff": 0.9999},
    },
)


def configured(link: float, review: float, veto: float, base: MatchModel = DEFAULT_MODEL) -> MatchModel:
    """The model with the configured thresholds; its version names them when they differ from the
    base's, so every decision's evidence says which rule made it."""
    if (link, review, veto) == (base.link, base.review, base.veto):
        return base
    version = f"{base.version}+link{link:g}/review{review:g}/veto{veto:g}"
    return replace(base, version=version, link=link, review=review, veto=veto)


def estimate(patterns: Iterable[Pattern], start: MatchModel = DEFAULT_MODEL, rounds: int = 50) -> MatchModel:
    """Expectation-maximisation over candidate pairs' patterns (missing levels carry no
    information): returns a model with m and u fitted to them, the thresholds kept."""
    counted = Counter(tuple(sorted(p.items())) for p in patterns)
    if not counted:
        return start
    m = {a: dict(levels) for a, levels in start.m.items()}
    u = {a: dict(levels) for a, levels in start.u.items()}
    share = 0.1  # prior share of matches among candidates
    for _ in range(rounds):
        sums_m: dict[str, Counter[str]] = {a: Counter() for a in m}
        sums_u: dict[str, Counter[str]] = {a: Counter() for a in u}
        matched = total = 0.0
        for items, n in counted.items():
            pm, pu = share, 1 - share
            for attribute, level in items:
                if attribute in m and level != "missing":
                    pm *= m[attribute][level]
                    pu *= u[attribute][level]
            g = pm / (pm + pu) if pm + pu else 0.0
            matched += g * n
            total += n
            for attribute, level in items:
                if attribute in m and level != "missing":
                    sums_m[attribute][level] += g * n
                    sums_u[attribute][level] += (1 - g) * n
        share = min(max(matched / total, 1e-6), 1 - 1e-6)
        for attribute, levels in _LEVELS.items():
            for table, sums in ((m, sums_m), (u, sums_u)):
                seen = sum(sums[attribute].values())
                if seen > 0:  # smoothed, so no level's weight becomes infinite
                    table[attribute] = {
                        level: (sums[attribute][level] + 0.5) / (seen + 0.5 * len(levels)) for level in levels
                    }
    if sum(m[a]["exact"] for a in _IDENTIFYING) < sum(u[a]["exact"] for a in _IDENTIFYING):
        m, u = u, m  # EM names its two classes arbitrarily: matches are the ones that agree
    return MatchModel(f"{start.version}+em", m, u, start.link, start.review, start.veto)
