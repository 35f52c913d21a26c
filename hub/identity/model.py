"""Scoring a comparison: Fellegi-Sunter weights with two calibrated rules on top.

Each attribute level has m (how often the records of one person show it) and u (how often the
records of two different people do); its weight is log2(m / u), and a pair's score is the sum.
The defaults are calibrated, not fitted on the fly: m is close to what true pairs of generated
data show, u is set above what random pairs of two people there show (a postcode, a surname or a
birthday's near miss is shared far more often in a real customer base, concentrated in a region,
than in the generator's population), and the thresholds are tuned on the accuracy benchmark
(``python bench/identity.py calibrate`` prints the measured shares beside the defaults). An
unsupervised EM fit on the candidate pairs was tried and dropped: blocking makes most
candidates household members and neighbours, who agree on surname, street, postcode and
landline, and EM takes them for the matches (F1 0.85 and below on the benchmark's data).

What the independence assumption gets wrong is handled as rules, named in the evidence:
* a household shares its address and its landline: phone and address are one piece of
  evidence (the stronger of the two counts fully, the weaker a quarter);
* a move changes street, postcode and city together: against a match they count once; and a
  postcode that agrees already says the city does;
* different people of one family share surname, address and phone: when both given names and
  both birth dates are present and both clearly differ, the pair is not a match whatever the
  rest says (``rule: different_person``) - twins and siblings never merge, and as a member of a
  customer such a record keeps the other out, so a chain cannot glue them;
* when only one of the two clearly differs - the first name (``given_names_differ``: nothing in
  common, or different and the birth date not agreeing) or the birth date
  (``birth_dates_differ``) - the pair is at most sent to review unless something personal agrees
  (the e-mail, a tax id); when the birth date does not agree either (one part off, or missing
  beside a first name with nothing in common) not even that: a household member or a twin is far
  likelier than a name typed over, and a steward's queue full of them hides the pairs worth a
  look. A birth date that differs where everything else says one person (the
  same first name, family name and address, and no e-mail or phone that differs) is read as
  typed over (``_typed_over``): it weighs nothing either way, and the evidence says
  ``typed_over``. A father and son of one name at one address are kept apart by a mailbox or a
  mobile of their own. A first name is never read so: twins share the rest, and a typo of one
  twin's birthday may hit the other's (on the public FEBRL benchmark, whose duplicates often
  have a first name replaced and which has no households, that costs recall: ``bench/febrl.py``).
* a pair whose first names differ by a typo and whose birthdays by a day or a digit is not
  linked unless the e-mail or a tax id agrees (twins: Marie and Maria), nor one whose first name
  is an initial and whose birth dates do not agree (the household says the family, the initial
  not which member);
* a postcode names its city (a city that differs beside it is a typo, not a move); a postcode one
  keystroke off weighs nothing either way (a typo, or the district next door).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hub.identity.compare import Pattern

__all__ = ["DEFAULT_MODEL", "HELD_BACK", "MatchModel", "Score", "configured"]

_PLACE = ("street", "postcode", "city")

# What a steward is asked when a rule held a pair back from a link (``hub customers review``).
HELD_BACK = {
    "given_names_differ": "first names differ: twins or family members, or a first name typed over?",
    "birth_dates_differ": "birth dates differ: a parent and child of one name, or a birthday typed wrong?",
    "initial_only": "a first name as an initial only: which member of the household?",
    "possible_twins": "first names a typo apart, birthdays days apart: twins, or two typos?",
}


@dataclass(frozen=True)
class Score:
    total: float
    weights: dict[str, float]  # per attribute, as counted
    rule: str | None = None  # a rule that overrode the weights
    typed_over: str | None = None  # the one field read as typed over (``_typed_over``), weighed 0


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
        if pattern.get("postcode") == "exact" and "city" in weights:
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
        over = None if personal else _typed_over(pattern)
        if over is not None:  # a field typed over says nothing either way
            weights[over] = 0.0
            total = round(sum(weights.values()), 3)
        if (given == "other" and not personal) or (given == "diff" and not (personal or birth == "exact")):
            # a steward decides (and as a rival customer's member, keeps a bridge apart) - unless
            # the birth date does not agree either: a first name with nothing in common and no
            # birth date, or any other first name and a birth date one part off, is a household
            # member or a twin far more often than a name typed over (in the generated customer
            # data's review queue, fewer than 1 such pair in 100 was one person): not for a steward
            unsure = birth == "near" or (given == "other" and birth == "missing")
            cap = self.review if unsure else self.link
            return Score(min(total, round(cap - 0.001, 3)), weights, "given_names_differ")
        if birth == "diff" and not personal and over != "birth":
            # a father and son of one name: as given names above
            return Score(min(total, round(self.link - 0.001, 3)), weights, "birth_dates_differ")
        if given == "initial" and not (personal or birth in ("exact", "transposed")) and total >= self.link:
            # "H. Horn" at the Horns' address and number: Helen, or her twin Hannah?
            return Score(round(self.link - 0.001, 3), weights, "initial_only")
        if given in ("close", "initial") and birth == "near" and not personal and total >= self.link:
            # Marie and Maria, born five days apart at one address: twins far more often than two typos
            return Score(round(self.link - 0.001, 3), weights, "possible_twins")
        return Score(total, weights, typed_over=over)

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


DEFAULT_MODEL = MatchModel(
    version="fs-default-4",
    m={
        "given": {"exact": 0.88, "close": 0.08, "initial": 0.01, "diff": 0.029, "other": 0.001},
        "family": {"exact": 0.9, "close": 0.07, "diff": 0.03},
        "birth": {"exact": 0.9, "transposed": 0.04, "near": 0.04, "diff": 0.02},
        "email": {"exact": 0.85, "diff": 0.15},
        "phone": {"exact": 0.8, "diff": 0.2},
        "street": {"exact": 0.8, "close": 0.12, "diff": 0.08},
        "postcode": {"exact": 0.87, "close": 0.02, "diff": 0.11},
        "city": {"exact": 0.88, "close": 0.04, "diff": 0.08},
        "organisation": {"exact": 0.85, "close": 0.12, "diff": 0.03},
        "tax_id": {"exact": 0.97, "diff": 0.03},
    },
    u={
        "given": {"exact": 0.02, "close": 0.005, "initial": 0.005, "diff": 0.555, "other": 0.4},
        "family": {"exact": 0.03, "close": 0.02, "diff": 0.95},
        "birth": {"exact": 0.002, "transposed": 0.0005, "near": 0.03, "diff": 0.9675},
        "email": {"exact": 0.0005, "diff": 0.9995},
        "phone": {"exact": 0.002, "diff": 0.998},
        "street": {"exact": 0.01, "close": 0.01, "diff": 0.98},
        "postcode": {"exact": 0.05, "close": 0.02, "diff": 0.93},
        "city": {"exact": 0.1, "close": 0.02, "diff": 0.88},
        "organisation": {"exact": 0.005, "close": 0.02, "diff": 0.975},
        "tax_id": {"exact": 0.0001, "diff": 0.9999},
    },
)


def _agree(pattern: Pattern, attribute: str) -> bool:
    return pattern.get(attribute) in ("exact", "close")


def _typed_over(pattern: Pattern) -> str | None:
    """The birth date, when it clearly differs where everything else says one person: the first
    name exactly, the family name and the address agreeing, and no e-mail or phone differing. A
    birthday typed over is then likelier than a father and son of one name at one address, who
    are kept apart by a mailbox or a mobile of their own. A first name that differs is never
    read so: twins share the rest, and a typo of one's birthday may hit the other's."""
    at_home = (
        _agree(pattern, "family")
        and _agree(pattern, "street")
        and "exact" in (pattern.get("postcode"), pattern.get("city"))
        and "diff" not in (pattern.get("email"), pattern.get("phone"))
    )
    return "birth" if at_home and pattern.get("birth") == "diff" and pattern.get("given") == "exact" else None


def configured(link: float, review: float, veto: float, base: MatchModel = DEFAULT_MODEL) -> MatchModel:
    """The model with the configured thresholds; its version names them when they differ from the
    base's, so every decision's evidence says which rule made it."""
    if (link, review, veto) == (base.link, base.review, base.veto):
        return base
    version = f"{base.version}+link{link:g}/review{review:g}/veto{veto:g}"
    return replace(base, version=version, link=link, review=review, veto=veto)
