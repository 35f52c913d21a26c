"""Scoring a comparison: Fellegi-Sunter weights with rules on top.

Each attribute level has m (how often the records of one person show it) and u (how often the
records of two different people do); its weight is log2(m / u), and a pair's score is the sum.
A fresh hub uses calibrated defaults: m close to what true pairs of generated data show, u set
above what random pairs of two people there show (a postcode, a surname or a birthday's near miss
is shared far more often in a real customer base, concentrated in a region, than in the
generator's population), thresholds in bits tuned on the accuracy benchmark (``python
bench/identity.py calibrate``). Once it holds enough records it learns its own (``training.py``:
u from random pairs, m by EM in sessions blocked on a birthday, on names and on an e-mail - not on
all candidate pairs, where households would be taken for the matches -, name frequencies, the
prior, placeholder birthdays and how much the data looks like households); a trained model's
thresholds are probabilities, turned into bits by its prior (``configured``).

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
  twin's birthday may hit the other's. (These household rules apply where the data holds
  households: ``HOUSEHOLD_EVIDENCE``. On FEBRL, whose duplicates often have a first name
  replaced and which has no households, a trained model lets the weights decide.)
* a pair whose first names differ by a typo and whose birthdays by a day or a digit is not
  linked unless the e-mail or a tax id agrees (twins: Marie and Maria), nor one whose first name
  is an initial, or a nickname of the other's, and whose birth dates do not agree (the household
  says the family, the initial not which member);
* two records of a system declared free of duplicates are two customers unless an e-mail or a
  tax id agrees (``same_source``);
* a pair that agrees on nothing but the name (``name_only``) is namesakes as far as anyone can
  tell: neither linked nor queued for a steward (the name keys find such pairs by the thousand);
* a postcode names its city (a city that differs beside it is a typo, not a move); a postcode one
  keystroke off weighs nothing either way (a typo, or the district next door).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hub.identity.compare import Pattern

__all__ = ["DEFAULT_MODEL", "HELD_BACK", "HOUSEHOLD_EVIDENCE", "MatchModel", "Score", "configured"]

# The household protections (the rules below that hold a pair back for a differing first name or
# birthday, an initial, a nickname, possible twins) are for a population where people of one
# family share an address: then two records that agree on family name and address say far less
# than the product of their weights, and the rules make up for it. A trained model measures that
# (``households``: how many times more often two people share a family name and an address than
# names and places drawn independently would; ``training._households``). A customer base of
# households shows tens; a list of persons about one. Below this factor the data holds no
# households to protect - a first name that differs beside the same family name, address and
# birthday is then a name typed over, not a twin - and the rules step aside for the weights.
HOUSEHOLD_EVIDENCE = 5.0

_PLACE = ("street", "postcode", "city")

# What a steward is asked when a rule held a pair back from a link (``hub customers review``).
HELD_BACK = {
    "given_names_differ": "first names differ: twins or family members, or a first name typed over?",
    "birth_dates_differ": "birth dates differ: a parent and child of one name, or a birthday typed wrong?",
    "initial_only": "a first name as an initial only: which member of the household?",
    "nickname_only": "a first name and its nickname: one person, or a family member of a like name?",
    "possible_twins": "first names a typo apart, birthdays days apart: twins, or two typos?",
}


_SCORES_KEPT = 200_000  # remembered scores (a few hundred bytes each)


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
    # what training measured (``training.py``); the defaults assume the cautious case
    households: float | None = None  # see HOUSEHOLD_EVIDENCE; None: not measured, assumed
    prior: float = -12.0  # log2 prior odds that two records are one person (trained: from the data)
    placeholder_days: frozenset[str] = frozenset()  # "MM-DD" a source writes for "only the year known"
    frequencies: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # name → share of records
    duplicate_free: frozenset[str] = frozenset()  # systems declared free of duplicates
    attributes: Mapping[str, str] = field(default_factory=dict)  # open attribute → exact|fuzzy|numeric
    trained: Mapping[str, Any] = field(default_factory=dict)  # when, on how many records and pairs
    weights: dict[str, dict[str, float]] = field(init=False, compare=False)
    _name_weights: dict[tuple[str, str], float] = field(init=False, compare=False, repr=False)
    _scores: dict[tuple[Any, ...], Score] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        missing = [a for a in self.attributes if f"attribute:{a}" not in self.m]
        if missing:  # a configured attribute the model has not learned yet: sensible defaults
            m, u = dict(self.m), dict(self.u)
            for name in missing:
                m[f"attribute:{name}"], u[f"attribute:{name}"] = dict(_ATTRIBUTE_M), dict(_ATTRIBUTE_U)
            object.__setattr__(self, "m", m)
            object.__setattr__(self, "u", u)
        table = {
            attribute: {
                level: math.log2(self.m[attribute][level] / self.u[attribute][level]) for level in levels
            }
            for attribute, levels in self.m.items()
        }
        object.__setattr__(self, "weights", table)
        object.__setattr__(self, "_name_weights", {})
        object.__setattr__(self, "_scores", {})

    def _name_weight(self, attribute: str, value: str) -> float:
        """The weight of a name agreeing exactly, by its frequency: its share in either name field
        (a family name typed as a first name is as common as it is among family names, not rare
        among first names). Worked out once per name."""
        key = (attribute, value)
        if key not in self._name_weights:
            share = max(table.get(value, table.get("", 0.0)) for table in self.frequencies.values())
            exact = self.m[attribute]["exact"]
            self._name_weights[key] = (
                math.log2(exact / share) if share > 0 else self.weights[attribute]["exact"]
            )
        return self._name_weights[key]

    @property
    def guards_households(self) -> bool:
        return self.households is None or self.households >= HOUSEHOLD_EVIDENCE

    def score(self, pattern: Pattern, values: Mapping[str, str] | None = None) -> Score:
        """``values``: the value two records agree on exactly, per attribute with a frequency
        table (given, family): a rare name agreeing says more than a common one (term-frequency
        adjustment: u is that name's share of the records instead of the average).

        A score depends on the levels and the agreeing names only, and a population repeats few
        of those (a record's candidates mostly differ the same ways): each is worked out once,
        remembered up to ``_SCORES_KEPT`` (then forgotten all at once, a bounded cost)."""
        names: tuple[tuple[str, str], ...] = ()
        if values and self.frequencies:
            names = tuple(
                (attribute, value)
                for attribute, value in values.items()
                if value and pattern.get(attribute) == "exact" and attribute in self.frequencies
            )
        key = (tuple(pattern.items()), names)
        known = self._scores.get(key)
        if known is None:
            if len(self._scores) >= _SCORES_KEPT:
                self._scores.clear()
            known = self._scores[key] = self._score(pattern, values)
        return known

    def _score(self, pattern: Pattern, values: Mapping[str, str] | None) -> Score:
        weights = {
            attribute: self.weights[attribute].get(level, 0.0) if level != "missing" else 0.0
            for attribute, level in pattern.items()
            if attribute in self.weights
        }
        if self.frequencies:
            for attribute, value in (values or {}).items():
                if value and pattern.get(attribute) == "exact" and attribute in self.frequencies:
                    weights[attribute] = self._name_weight(attribute, value)
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
        personal = pattern.get("email") == "exact" or pattern.get("tax_id") == "exact"
        if pattern.get("source") == "same" and not personal:
            # two records of a system free of duplicates are two customers unless a personal
            # identifier says otherwise: the one-to-one assumption of a two-system link
            return Score(min(total, self.veto - 1), weights, "same_source")
        if self.guards_households and given in ("diff", "other") and birth == "diff":
            return Score(min(total, self.veto - 1), weights, "different_person")
        if not any(pattern.get(a) in _AGREES for a in pattern if a not in _NAME_ATTRIBUTES):
            # nothing but a name agrees (the rest differs or is missing): namesakes, as far as
            # anyone can tell - neither a link nor a question for a steward, however rare the name
            return Score(min(total, round(self.review - 0.001, 3)), weights, "name_only")
        if not self.guards_households:
            return Score(total, weights)
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
        if given == "nickname" and not (personal or birth in ("exact", "transposed")) and total >= self.link:
            # Anna and Annette at one address: one woman's two names, or mother and daughter?
            return Score(round(self.link - 0.001, 3), weights, "nickname_only")
        if (
            given in ("close", "nickname", "initial")
            and birth == "near"
            and not personal
            and total >= self.link
        ):
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
            "households": self.households,
            "prior": self.prior,
            "placeholder_days": sorted(self.placeholder_days),
            "frequencies": self.frequencies,
            "duplicate_free": sorted(self.duplicate_free),
            "attributes": dict(self.attributes),
            "trained": self.trained,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MatchModel:
        return cls(
            version=data["version"],
            m=data["m"],
            u=data["u"],
            link=data["link"],
            review=data["review"],
            veto=data["veto"],
            households=data.get("households"),
            prior=data.get("prior", -12.0),
            placeholder_days=frozenset(data.get("placeholder_days", ())),
            frequencies=data.get("frequencies", {}),
            duplicate_free=frozenset(data.get("duplicate_free", ())),
            attributes=data.get("attributes", {}),
            trained=data.get("trained", {}),
        )

    def table(self) -> list[dict[str, Any]]:
        """Each comparison level with its m, u and weight: what ``hub customers model`` shows."""
        return [
            {
                "attribute": attribute,
                "level": level,
                "m": self.m[attribute][level],
                "u": self.u[attribute][level],
                "weight": round(self.weights[attribute][level], 3),
            }
            for attribute, levels in self.m.items()
            for level in levels
        ]


DEFAULT_MODEL = MatchModel(
    version="fs-default-5",
    m={
        "given": {
            "exact": 0.87,
            "nickname": 0.01,
            "close": 0.08,
            "initial": 0.01,
            "diff": 0.029,
            "other": 0.001,
        },
        "family": {"exact": 0.9, "close": 0.07, "diff": 0.03},
        "birth": {
            "exact": 0.9,
            "transposed": 0.04,
            "near": 0.04,
            "year": 0.038,
            "within_year": 0.005,
            "diff": 0.015,
        },
        "gender": {"exact": 0.97, "diff": 0.03},
        "email": {"exact": 0.85, "close": 0.01, "diff": 0.14},
        "phone": {"exact": 0.8, "diff": 0.2},
        "street": {"exact": 0.8, "close": 0.12, "diff": 0.08},
        "postcode": {"exact": 0.87, "close": 0.02, "diff": 0.11},
        "city": {"exact": 0.88, "close": 0.04, "diff": 0.08},
        "organisation": {"exact": 0.85, "close": 0.12, "diff": 0.03},
        "tax_id": {"exact": 0.97, "diff": 0.03},
    },
    u={
        "given": {
            "exact": 0.02,
            "nickname": 0.001,
            "close": 0.005,
            "initial": 0.005,
            "diff": 0.554,
            "other": 0.4,
        },
        "family": {"exact": 0.03, "close": 0.02, "diff": 0.95},
        "birth": {
            "exact": 0.002,
            "transposed": 0.0005,
            "near": 0.03,
            "year": 0.0005,
            "within_year": 0.02,
            "diff": 0.947,
        },
        "gender": {"exact": 0.5, "diff": 0.5},
        "email": {"exact": 0.0005, "close": 0.0005, "diff": 0.999},
        "phone": {"exact": 0.002, "diff": 0.998},
        "street": {"exact": 0.01, "close": 0.01, "diff": 0.98},
        "postcode": {"exact": 0.05, "close": 0.02, "diff": 0.93},
        "city": {"exact": 0.1, "close": 0.02, "diff": 0.88},
        "organisation": {"exact": 0.005, "close": 0.02, "diff": 0.975},
        "tax_id": {"exact": 0.0001, "diff": 0.9999},
    },
)


_NAME_ATTRIBUTES = frozenset({"given", "family", "gender", "organisation", "source"})
_AGREES = frozenset({"exact", "close", "transposed", "near", "year", "within_year"})
_ATTRIBUTE_M = {"exact": 0.7, "close": 0.15, "diff": 0.15}
_ATTRIBUTE_U = {"exact": 0.05, "close": 0.05, "diff": 0.9}


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


def _log_odds(probability: float) -> float:
    return math.log2(probability / (1 - probability))


def configured(
    base: MatchModel = DEFAULT_MODEL,
    *,
    link: float = DEFAULT_MODEL.link,
    review: float = DEFAULT_MODEL.review,
    veto: float = DEFAULT_MODEL.veto,
    link_probability: float = 0.9,
    review_probability: float = 0.1,
    veto_probability: float = 0.001,
    duplicate_free: frozenset[str] = frozenset(),
    attributes: Mapping[str, str] | None = None,
) -> MatchModel:
    """The model with the configured thresholds, sources free of duplicates and attribute
    comparisons. The default model's thresholds are in bits (``link``, ``review``, ``veto``); a
    trained model's are probabilities that two records are one person, turned into bits with
    the prior it learned (a hub of a million records needs more evidence for a link than one of
    a thousand: more namesakes). The version names what differs from the base, so every
    decision's evidence says which rule made it."""
    if base.trained:
        link, review, veto = (
            round(-base.prior + _log_odds(p), 3)
            for p in (link_probability, review_probability, veto_probability)
        )
        suffix = (
            []
            if (link_probability, review_probability, veto_probability) == (0.9, 0.1, 0.001)
            else [f"p{link_probability:g}/{review_probability:g}/{veto_probability:g}"]
        )
    else:
        suffix = (
            []
            if (link, review, veto) == (base.link, base.review, base.veto)
            else [f"link{link:g}/review{review:g}/veto{veto:g}"]
        )
    attributes = dict(attributes or {})
    if duplicate_free:
        suffix.append("one-to-one:" + ",".join(sorted(duplicate_free)))
    if attributes:
        suffix.append("attributes:" + ",".join(f"{k}={v}" for k, v in sorted(attributes.items())))
    version = "+".join([base.version, *suffix])
    return replace(
        base,
        version=version,
        link=link,
        review=review,
        veto=veto,
        duplicate_free=frozenset(duplicate_free),
        attributes=attributes,
    )
