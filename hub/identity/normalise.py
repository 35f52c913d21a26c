"""A source customer record as the matcher sees it: every attribute in one canonical spelling.

Names lose case, accents and punctuation (and a nickname becomes its full form); e-mails lose
case, ``+tags`` and (at Gmail) dots; phones become E.164; an organisation's legal form is
dropped ("Müller GmbH" = "Mueller"); street abbreviations are written out ("Hauptstr. 5" =
"hauptstrasse 5"); an initial is spelt out by the person's mailbox when it names one known first
name with that initial. Blocking keys are built from these, so "the same spelling" means the same
thing everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cached_property, lru_cache
from importlib.resources import files
from typing import Any

import jellyfish
import phonenumbers
from nameparser import HumanName
from nameparser.config import CONSTANTS as NAME_CONSTANTS
from nicknames import NickNamer

__all__ = [
    "GIVEN_NAMES",
    "NICKNAMES",
    "SHORT_FORMS",
    "Profile",
    "blocking_keys",
    "canonical_email",
    "is_nickname",
    "normalise",
    "plain",
    "search_keys",
    "typo_keys",
    "word_keys",
]

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe", "å": "aa"})
_NOT_WORD = re.compile(r"[^a-z0-9 ]+")
_SPACES = re.compile(r"\s+")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_MAILBOX_WORDS = re.compile(r"[^a-z]+")  # the words of a mailbox's local part

# Common given-name short forms → the name they stand for (English and German).
NICKNAMES = {
    "bob": "robert", "rob": "robert", "bobby": "robert", "bill": "william", "will": "william",
    "liz": "elizabeth", "beth": "elizabeth", "betty": "elizabeth", "kate": "katherine",
    "katie": "katherine", "kathy": "katherine", "jim": "james", "jimmy": "james", "mike": "michael",
    "tom": "thomas", "tommy": "thomas", "dick": "richard", "rick": "richard", "tony": "anthony",
    "sam": "samuel", "dan": "daniel", "danny": "daniel", "dave": "david", "joe": "joseph",
    "alex": "alexander", "andy": "andrew", "chris": "christopher", "matt": "matthew",
    "nick": "nicholas", "steve": "stephen", "sue": "susan", "jenny": "jennifer", "jen": "jennifer",
    "peggy": "margaret", "maggie": "margaret", "hans": "johannes", "sepp": "josef", "fritz": "friedrich",
    "lena": "magdalena", "leni": "helene", "uli": "ulrich", "wolfi": "wolfgang", "kathi": "katharina",
    "steffi": "stefanie", "flo": "florian", "basti": "sebastian", "max": "maximilian",
}  # fmt: skip
# Common given names (``data/given_names.txt``): two different ones are two names, however close
# their spelling, and one in a mailbox spells out an initial.
GIVEN_NAMES = frozenset(
    word
    for line in (files("hub.identity") / "data" / "given_names.txt").read_text("utf-8").splitlines()
    if not line.startswith("#")
    for word in line.split()
)
# Titles and honorifics as people type them into a first-name field ("Sir", "Dr", "Frau"): from
# nameparser's maintained list, minus the words that are also first names (Dean, Major, Earl).
_TITLES = frozenset(t for t in NAME_CONSTANTS.titles if t.isalpha() and t not in GIVEN_NAMES) | {
    "herr", "frau", "fraeulein", "mme", "mlle", "sig", "sra", "sr",
}  # fmt: skip
_NICKNAMER = NickNamer()  # the nicknames package's English name/nickname list


def is_nickname(a: str, b: str) -> bool:
    """One first name a nickname of the other, by the maintained list of the ``nicknames``
    package (Fred and Frederick, Peggy and Margaret) or the short forms above."""
    return bool(a) and bool(b) and a != b and (b in _nicknames(a) or a in _nicknames(b))


@lru_cache(maxsize=1 << 16)  # first names repeat: each one's nicknames are looked up once
def _nicknames(name: str) -> frozenset[str]:
    return frozenset(_NICKNAMER.nicknames_of(name)) | {NICKNAMES.get(name, name)} - {name}


# ... and back: a full name's short forms (Johannes → hans)
SHORT_FORMS: dict[str, tuple[str, ...]] = {}
for _short, _full in NICKNAMES.items():
    SHORT_FORMS[_full] = (*SHORT_FORMS.get(_full, ()), _short)

# Legal forms dropped from organisation names (after normalisation, as whole words).
LEGAL_FORMS = frozenset({
    "gmbh", "mbh", "ag", "kg", "ohg", "ug", "ev", "eg", "se", "co", "kgaa", "ltd", "limited", "plc",
    "llc", "inc", "incorporated", "corp", "corporation", "sa", "sas", "sarl", "srl", "spa", "bv",
    "nv", "ab", "oy", "as", "gbr", "e", "k", "and", "company",
})  # fmt: skip

# Street-name abbreviations written out (German and English).
_STREET_WORDS = {
    "str": "strasse", "strasse": "strasse", "st": "street", "rd": "road", "ave": "avenue", "av": "avenue",
    "blvd": "boulevard", "dr": "drive", "ln": "lane", "pl": "platz", "ct": "court", "sq": "square",
    "hwy": "highway", "pkwy": "parkway",
}  # fmt: skip
_STREET_SUFFIX = re.compile(r"(?<=[a-z])(str|strasse)\b")  # "hauptstr" / "hauptstrasse" → "haupt strasse"


def plain(text: str | None) -> str:
    """Lower case, umlauts spelled out, accents and punctuation gone, single spaces."""
    if not text:
        return ""
    return _plain(text)


@lru_cache(maxsize=1 << 16)  # names, cities and streets repeat: a spelling is worked out once
def _plain(text: str) -> str:
    text = text.lower().translate(_UMLAUTS)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return _SPACES.sub(" ", _NOT_WORD.sub(" ", text)).strip()


def canonical_email(email: str) -> str | None:
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain:
        return None
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def _phone(text: str, region: str) -> str | None:
    if _E164.fullmatch(text):  # as the mappings write it (they parse and check every number)
        return text
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _given(text: str | None) -> str:
    words = plain(text).split()
    while words and words[0] in _TITLES:  # "Sir Aurel", "Dr. Anna", or a title alone
        words.pop(0)
    if not words:
        return ""
    first = words[0]
    return " ".join([NICKNAMES.get(first, first), *words[1:]])


def _names(fields: dict[str, Any]) -> tuple[str, str, str]:
    """Given name, family name and middle names: from their own fields, or parsed from a full
    name written as one string ("Dr. Mary Ann O'Neil", "O'Neil, Mary") when the fields are
    empty. A first-name field holding more words keeps them; its first word is what is compared,
    the rest count as middle names."""
    given_text, family_text = fields.get("given_name"), fields.get("family_name")
    middle = plain(" ".join(fields.get("middle_names") or []))
    full = fields.get("full_name")
    if full and not (given_text or family_text):
        parsed = HumanName(str(full))
        given_text, family_text = parsed.first, parsed.last
        middle = " ".join(x for x in (middle, plain(parsed.middle)) if x)
    given = _given(given_text)
    rest = given.partition(" ")[2]
    return given, plain(family_text), " ".join(x for x in (rest, middle) if x)


_GENDERS = {"f": "f", "female": "f", "w": "f", "woman": "f", "weiblich": "f", "m": "m", "male": "m",
            "man": "m", "maennlich": "m"}  # fmt: skip


def _gender(text: Any) -> str:
    """ "f", "m" or "" (unknown, diverse, or anything else: no evidence either way)."""
    return _GENDERS.get(plain(str(text)) if text else "", "")


def _spelt_out(given: str, family: str, emails: frozenset[str]) -> str:
    """An initial spelt out by the person's own mailbox: "C. Schulze" at
    christian_schulze65@… is Christian. Only a known given name with that initial counts, whole
    between separators or beside the family name ("christianschulze", "schulzechristian"), and
    only when the mailboxes name one such name."""
    if len(given) != 1 or not family:
        return given
    surname = family.replace(" ", "")
    found = set()
    for email in emails:
        for word in _MAILBOX_WORDS.split(email.split("@")[0]):
            for name in (word, word.removesuffix(surname), word.removeprefix(surname)):
                if name != surname and name[:1] == given and name in GIVEN_NAMES:
                    found.add(NICKNAMES.get(name, name))  # "hans.mueller": H. is Hans, i.e. Johannes
    return found.pop() if len(found) == 1 else given


def _organisation(text: str | None) -> str:
    """The firm's name without its legal form ("G.m.b.H." read as "gmbh")."""
    return " ".join(w for w in plain((text or "").replace(".", "")).split() if w not in LEGAL_FORMS)


def _street(text: str | None) -> str:
    street = _STREET_SUFFIX.sub(r" \1", plain(text))
    return " ".join(_STREET_WORDS.get(w, w) for w in street.split())


@dataclass(frozen=True)
class Profile:
    """The matcher's view of one source record."""

    record: str  # "system:ref"
    kind: str  # person | organisation
    given: str
    family: str
    organisation: str
    birth: date | None
    emails: frozenset[str]
    phones: frozenset[str]
    street: str
    postcode: str
    city: str
    country: str
    tax_id: str
    middle: str = ""  # middle names, and the further words of a first-name field
    birth_year: int | None = None  # known even when only the year (or year and month) is
    gender: str = ""  # "f", "m" or "" (unknown)
    attributes: tuple[tuple[str, str], ...] = ()  # open attributes (occupation, ...), plain, sorted

    @cached_property
    def keys(self) -> frozenset[str]:
        """The blocking keys, worked out once: a record's neighbourhood asks for them often."""
        return frozenset(_blocking_keys(self))

    @property
    def family_code(self) -> str:
        return jellyfish.nysiis(self.family) if self.family else ""

    @property
    def given_code(self) -> str:
        return jellyfish.nysiis(self.given.split(" ")[0]) if self.given else ""


def _full_date(value: Any) -> date | None:
    """A birth date known to the day; one known only to the year or month is no day to compare."""
    if isinstance(value, str):
        return date.fromisoformat(value) if len(value) == 10 else None
    return value or None


def _year(value: Any) -> int | None:
    if isinstance(value, str) and value[:4].isdigit():
        return int(value[:4])
    return value.year if isinstance(value, date) else None


def normalise(record: str, fields: dict[str, Any], region: str = "DE") -> Profile:
    """From a SourceCustomer's fields (the CustomerRecord contract's shape)."""
    address = (fields.get("addresses") or [{}])[0] or {}
    birth = fields.get("birth_date")
    given, family, middle = _names(fields)
    emails = frozenset(e for e in (canonical_email(x) for x in fields.get("emails") or []) if e)
    attributes = tuple(  # lower case and single spaces only: "1.85" stays a number
        sorted(
            (str(k), " ".join(str(v).lower().split())) for k, v in (fields.get("attributes") or {}).items()
        )
    )
    attributes = tuple((k, v) for k, v in attributes if v)
    return Profile(
        record=record,
        kind=fields.get("kind") or "person",
        middle=middle,
        birth_year=_year(birth),
        gender=_gender(fields.get("gender")),
        attributes=attributes,
        given=_spelt_out(given, family, emails),
        family=family,
        organisation=_organisation(fields.get("organisation_name")),
        birth=_full_date(birth),
        emails=emails,
        phones=frozenset(p for p in (_phone(x, region) for x in fields.get("phones") or []) if p),
        street=_street(" ".join(address.get("lines") or [])),
        postcode=plain(address.get("postcode")).replace(" ", ""),
        city=plain(address.get("city")),
        country=(address.get("country") or "").upper(),
        tax_id=re.sub(r"[^A-Z0-9]", "", (fields.get("tax_id") or "").upper()),
    )


def search_keys(p: Profile) -> set[str]:
    """Each word of the name by its spelling and its sound (``word_keys``): what ``hub customers
    search`` looks names up by. Not blocking keys: a name alone never links, and these blocks
    grow with the number of customers."""
    words = (p.organisation if p.kind == "organisation" else f"{p.given} {p.family}").split()
    return {key for word in words for key in word_keys(word)}


def word_keys(word: str) -> set[str]:
    """A stored word's search keys: its spelling and its sound (NYSIIS: "Jahnsen" sounds like
    Jansen); none for an initial. Two per word: the typos are spelt out by the query instead
    (``typo_keys``), so the table grows by two rows per word, not by one per letter."""
    if len(word) < 2:
        return set()
    return {f"x:{word}", f"s:{jellyfish.nysiis(word)}"}


_LETTERS = "abcdefghijklmnopqrstuvwxyz"  # all a plain() word holds besides digits
TYPO_LETTERS = 20  # longer words are looked up as typed: the spellings grow with the square


def typo_keys(word: str) -> set[str]:
    """The search keys a word typed by a customer or an agent is looked up by: its sound, and the
    spelling of every word one keystroke away (a letter lost, added, changed, or two swapped:
    "Fscher" finds Fischer, "Kaus" Kraus) — from three letters on; a shorter word only as typed.
    The spellings of a word are about 54 times its length, each as long as the word: a word
    beyond ``TYPO_LETTERS`` (longer than names are) is looked up as typed and by its sound, so a
    query costs time and memory in proportion to its length, whatever is typed."""
    if len(word) < 2:
        return set()
    spellings = {word}
    if 3 <= len(word) <= TYPO_LETTERS:
        splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
        spellings.update(a + b[1:] for a, b in splits if b)
        spellings.update(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1)
        spellings.update(a + c + b[1:] for a, b in splits if b for c in _LETTERS)
        spellings.update(a + c + b for a, b in splits for c in _LETTERS)
    return {f"s:{jellyfish.nysiis(word)}"} | {f"x:{spelling}" for spelling in spellings}


def blocking_keys(p: Profile) -> frozenset[str]:
    """Keys under which candidates are looked up: a true match shares at least one of them even
    when most of its attributes are misspelt, missing or swapped."""
    return p.keys


def _blocking_keys(p: Profile) -> set[str]:
    keys = {f"e:{e}" for e in p.emails} | {f"p:{n}" for n in p.phones}
    if p.tax_id:
        keys.add(f"t:{p.tax_id}")
    names = [n for n in (p.family_code, p.given_code) if n]
    if p.kind == "organisation" and p.organisation:
        words = sorted(p.organisation.split(), key=len, reverse=True)
        if p.postcode or p.city:  # the firm's main word where it is: found despite a typo elsewhere
            keys.add(f"o:{jellyfish.nysiis(words[0])}:{p.postcode or p.city}")
        keys.add(f"of:{p.organisation}")  # its whole name, wherever: firms' names are nearly unique
    initials = _initials(p.given)
    if p.postcode and p.given and p.family:
        # each name's sound with the other's initial, so a typo in either name and swapped names
        # still meet, but an Anna does not meet every other Anna of the postcode
        keys.update(f"np:{p.family_code}:{initial}:{p.postcode}" for initial in initials)
        keys.add(f"np:{p.given_code}:{p.family[:1]}:{p.postcode}")
    if p.birth and p.postcode:  # both names misspelt or one replaced: the birthday where they live
        keys.add(f"bp:{p.birth.isoformat()}:{p.postcode}")
    number, street = _house(p.street)
    if number and street and p.postcode:
        # the house - its number and the street's initial, which a typo in the street leaves -
        # with the postcode: names and birthday all mistyped, or left out
        keys.add(f"hp:{number}:{street[:1]}:{p.postcode}")
    if number and street and p.city:  # in its town, by the street's name: the postcode mistyped
        keys.add(f"hc:{number}:{street}:{p.city}")
    for code in names:  # either name, so swapped given/family names still meet
        if p.birth:
            keys.add(f"nb:{code}:{p.birth.isoformat()}")
    if p.kind == "person" and p.family_code and p.given_code:
        # by name alone - both names' sounds, in either order (swapped names) - so a record with
        # neither birth date nor address is still found; a frequent name's block is too big to
        # search (``resolver.NAME_BLOCK``) and finds no one, so it cannot blow up
        keys.add(f"nn:{':'.join(sorted((p.family_code, p.given_code)))}")
        year = p.birth.year if p.birth else p.birth_year
        if year:  # the family name and the year: first name typed over, day and month unknown
            keys.add(f"ny:{p.family_code}:{year}")
    if p.birth and p.given and p.family:
        # misspelt names and moved house: both initials (in either order: swapped names) and the
        # birthday (day and month in either order)
        day = sorted((p.birth.month, p.birth.day))
        keys.update(f"gb:{''.join(sorted((i, p.family[:1])))}:{p.birth.year}:{day}" for i in initials)
    return keys


def _house(street: str) -> tuple[str, str]:
    """The house number and the street's name, its first word ("5", "linden" for Lindenstraße 5
    and for 5 Linden St): the house is where a household lives."""
    words = street.split()
    return next((w for w in words if w.isdigit()), ""), next((w for w in words if not w.isdigit()), "")


def _initials(given: str) -> set[str]:
    """The first letters a given name may be typed with: its own, and its short forms' (a typo in
    "Hans" is not read as Johannes, so it keeps the h)."""
    first = given.split(" ")[0]
    return {first[:1], *(short[:1] for short in SHORT_FORMS.get(first, ()))} if first else set()
