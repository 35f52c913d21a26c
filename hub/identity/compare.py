"""Two profiles compared attribute by attribute: for each, an agreement level.

Levels are what the weights are attached to (``model.py``): exact, close (for names a typo: one
keystroke, two in long names; a token-set ratio for streets and firm names; one keystroke for a
postcode), initial, transposed
(a birth date with day and month swapped), near (two of day, month and year agree), diff - and
missing when either side lacks the attribute, which is no evidence either way. A person whose
given and family names were entered the wrong way round is compared both ways and the better
reading is kept; when both records were, their family-name fields hold two first names, and they
are compared as first names. A typo on an umlaut ("Mnller" for Müller, spelt "mueller") counts as
one keystroke, and two misspelt first names one keystroke from the same known name ("Samoel",
"Smuel") are close. First names with nothing in common are ``other``: not a typo, another person.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from rapidfuzz import fuzz, process, utils
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from hub.identity.normalise import GIVEN_NAMES, SHORT_FORMS, Profile, is_nickname

__all__ = ["ATTRIBUTE_KINDS", "Pattern", "compare"]

ATTRIBUTE_KINDS = ("exact", "fuzzy", "numeric")  # how a configured open attribute is compared

Pattern = dict[str, str]
_RANK = {"exact": 4, "nickname": 3, "close": 3, "initial": 2, "diff": 0, "missing": 1}
_UNLIKE = 0.6  # Jaro-Winkler below which two first names are not one mistyped
_NOT_LETTERS = re.compile(r"[a-z]+")  # removed: what is left of an e-mail are its digits and separators


_LONGER_NAMES = sorted(name for name in GIVEN_NAMES if len(name) >= 4)


def _forms(name: str) -> tuple[str, ...]:
    """A name as normalised, and the short forms of its first word: a typo may have hit the short
    form ("Hasn" for Hans, normalised to Johannes), and a swapped record's family-name field holds
    the short form unexpanded."""
    first, _, rest = name.partition(" ")
    return (name, *(f"{short} {rest}".strip() for short in SHORT_FORMS.get(first, ())))


def _spelling(a: str, b: str) -> str:
    if a == b or a.split(" ")[0] == b.split(" ")[0]:
        return "exact"
    shortest, longest = sorted((len(a), len(b)))
    if _known(a) and _known(b):
        return "diff"  # Helen and Helene, Johanna and Johannes: two names, not a typo
    # a typo that hit an umlaut costs two letters once it is spelt out ("Mnller" and "mueller"):
    # compared without the spelt-out vowels' e, it is one keystroke again
    edits = min(DamerauLevenshtein.distance(a, b), DamerauLevenshtein.distance(_unspelt(a), _unspelt(b)))
    if edits == 1 and (shortest >= 4 or (shortest == 3 and longest == 4)):
        # a typo: a letter swapped, changed, lost or doubled ("Ema"/"Emma"); but two different
        # three-letter names ("jan"/"jon") are two names
        return "close"
    if edits == 2 and shortest >= 8 and JaroWinkler.similarity(a, b) >= 0.9:
        return "close"  # two typos in a long name
    if edits == 2 and not _known(a) and not _known(b) and _meant(a) & _meant(b):
        return "close"  # a typo on each side of one name: "Samoel" and "Smuel" both mean Samuel
    return "diff"


@lru_cache(maxsize=1 << 14)
def _meant(name: str) -> frozenset[str]:
    """The known first names of four letters or more one keystroke away from a misspelt one."""
    first = name.split(" ")[0]
    if len(first) < 3:
        return frozenset()
    near = process.extract(
        first, _LONGER_NAMES, scorer=DamerauLevenshtein.distance, score_cutoff=1, limit=None
    )
    return frozenset(known for known, _, _ in near)


def _known(name: str) -> bool:
    return name.split(" ")[0] in GIVEN_NAMES


def _unspelt(name: str) -> str:
    return name.replace("ae", "a").replace("oe", "o").replace("ue", "u")


@lru_cache(maxsize=1 << 16)  # the same pairs of names come up again and again
def _name(a: str, b: str, *, initials: bool = False) -> str:
    if not a or not b:
        return "missing"
    if a == b:
        return "exact"
    level = max((_spelling(x, y) for x in _forms(a) for y in _forms(b)), key=_RANK.__getitem__)
    if level == "close" and _known(a) and _known(b):
        level = "diff"  # Nicholas and Richard: their short forms Nick and Rick are not a typo
    if level == "diff" and initials and (len(a) == 1 or len(b) == 1) and a[0] == b[0]:
        return "initial"  # of the name itself: "P." is not Margaret, though Peggy is
    if level == "diff" and is_nickname(a.split(" ")[0], b.split(" ")[0]):
        return "nickname"  # Fred and Frederick: one person's two names, by the nicknames package
    return level


def _birth(x: Profile, y: Profile, placeholders: frozenset[str]) -> str:
    """Full dates compared by their parts; a date known only to the year (a partial date, or a
    day a source writes for "unknown", such as 1 January where the data shows far more of them
    than chance: ``placeholder_days``) compares by the year alone."""
    a, b = x.birth, y.birth
    if placeholders:  # (formatting a date is the dearest step here: only when there are any)
        a = a if a and f"{a.month:02}-{a.day:02}" not in placeholders else None
        b = b if b and f"{b.month:02}-{b.day:02}" not in placeholders else None
    if a is None or b is None:
        year_a = x.birth.year if x.birth else x.birth_year
        year_b = y.birth.year if y.birth else y.birth_year
        if year_a is None or year_b is None:
            return "missing"
        return "year" if year_a == year_b else "diff"
    if a == b:
        return "exact"
    if (a.year, a.month, a.day) == (b.year, b.day, b.month):
        return "transposed"
    if sum(x == y for x, y in ((a.year, b.year), (a.month, b.month), (a.day, b.day))) == 2:
        return "near"  # one part mistyped
    if abs((a - b).days) <= 365:
        return "within_year"  # a date misremembered or written from another document
    return "diff"


def _same(a: frozenset[str] | str, b: frozenset[str] | str) -> str:
    if not a or not b:
        return "missing"
    if isinstance(a, frozenset) and isinstance(b, frozenset):
        return "exact" if a & b else "diff"
    return "exact" if a == b else "diff"


def _mailbox(a: frozenset[str], b: frozenset[str]) -> str:
    """E-mail addresses: one in common, or two letters apart with the same digits and separators
    ("lynn04@jones.com" and "lynn04@jone.cos"): close. Not the same name spelt another way or at
    another provider ("felixschneider@" and "felix_schneider@", "johanna.mueller65@" and
    "johannamueller75@"): mailboxes are made of names, and namesakes make them alike."""
    if not a or not b:
        return "missing"
    if a & b:
        return "exact"
    for x in a:
        for y in b:
            if (
                min(len(x), len(y)) >= 10
                and _digits_and_separators(x) == _digits_and_separators(y)
                and DamerauLevenshtein.distance(x, y, score_cutoff=2) <= 2
            ):
                return "close"
    return "diff"


@lru_cache(maxsize=1 << 16)  # a record's addresses meet many candidates
def _digits_and_separators(address: str) -> str:
    return _NOT_LETTERS.sub("", address)


def _code(a: str, b: str) -> str:
    """A postcode one keystroke off ("4113"/"1413", "2261"/"2266") is close: a typo, or the
    district next door - neither for nor against. Two keystrokes are another district."""
    if not a or not b:
        return "missing"
    if a == b:
        return "exact"
    return "close" if len(a) == len(b) and DamerauLevenshtein.distance(a, b) == 1 else "diff"


@lru_cache(maxsize=1 << 16)  # streets and above all cities meet again and again
def _text(a: str, b: str) -> str:
    if not a or not b:
        return "missing"
    if a == b:
        return "exact"
    if fuzz.token_set_ratio(a, b) >= 85:
        return "close"  # words left out or abbreviated
    joined_a, joined_b = a.replace(" ", ""), b.replace(" ", "")
    if fuzz.ratio(joined_a, joined_b) >= 85:
        return "close"  # a typo that split or joined words
    if min(len(joined_a), len(joined_b)) >= 10 and fuzz.partial_ratio(joined_a, joined_b) >= 95:
        return "close"  # one says more, and the words it shares are joined: "264 ainsworthstreet"
    return "diff"


def _unlike(a: Profile, b: Profile) -> bool:
    """First names with nothing in common however the records are read (Lena and Friedrich,
    not Lnida and Lidna): no typo makes one of the other. An initial is never unlike: it may be
    of a short form ("B." for Betty, that is Elizabeth)."""
    if len(a.given) <= 1 or len(b.given) <= 1:
        return False
    return _unlike_names(a.given, a.family, b.given, b.family)


@lru_cache(maxsize=1 << 16)  # namesakes' pairs of names come up with every candidate
def _unlike_names(given_a: str, family_a: str, given_b: str, family_b: str) -> bool:
    readings = ((given_a, given_b), (given_a, family_b), (family_a, given_b))
    return max(JaroWinkler.similarity(x, y) for x, y in readings if x and y) < _UNLIKE


def _attribute(a: str, b: str, kind: str) -> str:
    if not a or not b:
        return "missing"
    if a == b:
        return "exact"
    if kind == "fuzzy":
        return "close" if fuzz.token_set_ratio(a, b, processor=utils.default_process) >= 85 else "diff"
    if kind == "numeric":
        try:
            x, y = float(a), float(b)
        except ValueError:
            return "diff"
        return "close" if abs(x - y) <= 0.05 * max(abs(x), abs(y)) else "diff"
    return "diff"


def compare(
    a: Profile,
    b: Profile,
    placeholders: frozenset[str] = frozenset(),
    attributes: Mapping[str, str] | None = None,
) -> tuple[Pattern, bool]:
    """The agreement pattern, and whether the names were read swapped. ``placeholders``: birth
    days that stand for "only the year known"; ``attributes``: open attributes to compare, each
    ``exact``, ``fuzzy`` or ``numeric`` (``[customers.matching.attributes]``)."""
    straight = (_name(a.given, b.given, initials=True), _name(a.family, b.family))
    # Read crosswise, either record may be the swapped one, so which comparison is the first
    # name's is unknown: the weaker counts as the first name (the stronger as the family name).
    crosswise = sorted(
        (_name(a.given, b.family, initials=True), _name(a.family, b.given, initials=True)), key=_RANK.get
    )
    # Only when neither crosswise reading clearly differs: "Sarah Leonard" and "Leonard Molloy"
    # share a word, not a person read the wrong way round.
    flip = crosswise[0] != "diff" and sum(_RANK[x] for x in crosswise) > sum(_RANK[x] for x in straight) + 2
    given, family = (crosswise[0], crosswise[1]) if flip else straight
    both_swapped = (_known(a.family) and _known(b.family)) or (
        # or one of them: the same word, no first name, in both first-name fields
        given == "exact" and not _known(a.given) and (_known(a.family) or _known(b.family))
    )
    if family == "diff" and given != "diff" and both_swapped:
        # two different first names in the family-name fields: both records were typed the wrong
        # way round (Lisa and Luise Günther, not one Günther with two surnames; "Lange, Heinz"
        # and "Lange, Maximiilan" with a typo)
        given, family = family, given
    elif given == "diff" and _unlike(a, b):
        given = "other"
    if family in ("initial", "nickname"):
        family = "diff"  # "J. Schmidt" and "S. Jansen" read crosswise: a surname is never an initial
    pattern = {
        "birth": _birth(a, b, placeholders),
        "email": _mailbox(a.emails, b.emails),
        "phone": _same(a.phones, b.phones),
        "street": _text(a.street, b.street),
        "postcode": _code(a.postcode, b.postcode),
        "city": _text(a.city, b.city),
        "tax_id": _same(a.tax_id, b.tax_id),
    }
    if a.kind == "organisation" or b.kind == "organisation":
        pattern["organisation"] = _text(a.organisation, b.organisation)
    else:
        pattern["given"], pattern["family"] = given, family
        if a.gender and b.gender:
            pattern["gender"] = "exact" if a.gender == b.gender else "diff"
    if attributes:
        mine, theirs = dict(a.attributes), dict(b.attributes)
        for name, kind in attributes.items():
            pattern[f"attribute:{name}"] = _attribute(mine.get(name, ""), theirs.get(name, ""), kind)
    return pattern, flip
