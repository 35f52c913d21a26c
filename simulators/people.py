"""Realistic noisy customer data with a known truth, for identity-resolution tests, the accuracy
report and the benchmark.

A population of people and firms — with the hard cases that fool matchers: twins (same surname,
address, landline and birth month, different first names and birthdays), couples and families at
one address, namesakes (the commonest names, in other cities), firms whose legal form is written
differently — and, per source system, records of them as clerks and customers type them: typos,
first and last name swapped, nicknames, missing fields, day and month swapped, phone numbers in
every format, abbreviated streets, e-mail aliases, people who moved or changed their e-mail.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, replace
from datetime import date, timedelta
from itertools import combinations
from typing import Any


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


__all__ = [
    "FEWER_GAPS",
    "REALISTIC",
    "Entity",
    "Noise",
    "Record",
    "dedup_task",
    "hard_negatives",
    "link_task",
    "population",
    "record_of",
]

GIVEN = _words(
    "Anna Maria Emma Sophie Laura Julia Lena Sarah Lisa Hannah Lea Katharina Johanna Clara Marie "
    "Elisabeth Charlotte Greta Ida Frieda Paula Mila Emilia Helene Luise Nora Amelie Theresa Ella "
    "Margaret Susan Jennifer Patricia Linda Barbara Nancy Karen Betty Helen Sandra Donna Carol Ruth "
    "Thomas Michael Andreas Stefan Peter Christian Martin Markus Alexander Daniel Sebastian Tobias "
    "Florian Johannes Jan Lukas Felix Jonas Maximilian Paul Leon Finn Elias Noah Ben Matthias Uwe "
    "Robert William James John Richard Joseph Charles David Anthony Samuel Nicholas Stephen Andrew "
    "Wolfgang Josef Friedrich Ulrich Hans Jürgen Günter Karl Heinz Dieter Horst Klaus Bernd Rolf"
)
# Surnames in rough order of frequency: the first ones are the namesakes' names.
FAMILY = _words(
    "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer "
    "Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange "
    "Schmitt Werner Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler Herrmann König Walter "
    "Mayer Huber Kaiser Fuchs Peters Lang Scholz Möller Weiß Jung Hahn Schubert Vogel Friedrich "
    "Keller Günther Frank Berger Winkler Roth Beck Lorenz Baumann Franke Albrecht Schuster Simon "
    "Ludwig Böhm Winter Kraus Martin Schumacher Krämer Vogt Stein Jäger Otto Sommer Groß Seidel "
    "Heinrich Brandt Haas Schreiber Graf Schulte Dietrich Ziegler Kuhn Kühn Pohl Engel Horn Busch "
    "Bergmann Thomas Voigt Sauer Arnold Wolff Pfeiffer Smith Johnson Williams Brown Jones Miller "
    "Davis Wilson Anderson Taylor Moore Jackson White Harris Clark Lewis Walker Hall Young Allen "
    "Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter Phillips Evans "
    "Turner Torres Parker Kowalski Nowak Wiśniewski Novák Dvořák Rossi Russo Ferrari Esposito "
    "Bianchi García Fernández López Martínez Dubois Durand Lefebvre Moreau Jansen Visser Smit "
    "Bakker Janssen Öztürk Yılmaz"
)
CITIES = [
    ("10115", "Berlin", "030"), ("10245", "Berlin", "030"), ("20095", "Hamburg", "040"),
    ("22765", "Hamburg", "040"), ("80331", "München", "089"), ("81667", "München", "089"),
    ("50667", "Köln", "0221"), ("50823", "Köln", "0221"), ("60311", "Frankfurt am Main", "069"),
    ("70173", "Stuttgart", "0711"), ("40213", "Düsseldorf", "0211"), ("44135", "Dortmund", "0231"),
    ("45127", "Essen", "0201"), ("04109", "Leipzig", "0341"), ("28195", "Bremen", "0421"),
    ("01067", "Dresden", "0351"), ("30159", "Hannover", "0511"), ("90402", "Nürnberg", "0911"),
    ("47051", "Duisburg", "0203"), ("44787", "Bochum", "0234"), ("42103", "Wuppertal", "0202"),
    ("33602", "Bielefeld", "0521"), ("53111", "Bonn", "0228"), ("48143", "Münster", "0251"),
    ("76133", "Karlsruhe", "0721"), ("68159", "Mannheim", "0621"), ("86150", "Augsburg", "0821"),
    ("65183", "Wiesbaden", "0611"), ("41061", "Mönchengladbach", "02161"), ("45879", "Gelsenkirchen", "0209"),
    ("24103", "Kiel", "0431"), ("18055", "Rostock", "0381"), ("55116", "Mainz", "06131"),
    ("93047", "Regensburg", "0941"), ("79098", "Freiburg im Breisgau", "0761"), ("97070", "Würzburg", "0931"),
]  # fmt: skip
STREETS = _words(
    "Haupt Bahnhof Schul Garten Dorf Berg Kirch Wald Ring Linden Birken Eichen Buchen Rosen Goethe "
    "Schiller Mozart Beethoven Friedrich Wilhelm Luisen Park Feld Wiesen Mühlen Schloss Markt "
    "Brunnen Sonnen Tal Burg Kastanien Ahorn Fichten Tannen Blumen Nelken Tulpen"
)
DOMAINS = ["gmail.com", "web.de", "gmx.de", "t-online.de", "outlook.com", "yahoo.de", "posteo.de"]
NICK = {
    "Robert": "Bob", "William": "Bill", "Elizabeth": "Liz", "Katharina": "Kathi", "James": "Jim",
    "Michael": "Mike", "Thomas": "Tom", "Richard": "Rick", "Anthony": "Tony", "Samuel": "Sam",
    "Daniel": "Dan", "David": "Dave", "Joseph": "Joe", "Alexander": "Alex", "Andrew": "Andy",
    "Nicholas": "Nick", "Stephen": "Steve", "Susan": "Sue", "Jennifer": "Jenny", "Margaret": "Maggie",
    "Johannes": "Hans", "Josef": "Sepp", "Friedrich": "Fritz", "Ulrich": "Uli", "Maximilian": "Max",
}  # fmt: skip
FIRMS = _words(
    "Nordlicht Bergmann Sonnenschein Alpen Rhein Elbe Main Hanse Stern Adler Falken Löwen Eiche "
    "Birke Quelle Brücke Anker Leuchtturm Kompass Mühle"
)
FIRM_KINDS = ["Handel", "Logistik", "Bau", "Technik", "Textil", "Druck", "Consulting", "Maschinenbau"]
LEGAL = [
    ("GmbH", ["GmbH", "Gmbh", "G.m.b.H.", ""]),
    ("AG", ["AG", "A.G.", ""]),
    ("Ltd.", ["Ltd.", "Ltd", "Limited", ""]),
]


_FAMILY_WEIGHTS = [1 / (rank + 10) for rank in range(len(FAMILY))]  # Zipf-like: Müller ≈ 3 %


@dataclass(frozen=True)
class Entity:
    """One real person or firm: the truth behind the records."""

    id: str
    kind: str
    given: str
    family: str
    firm: str
    legal: int  # index into LEGAL
    birth: date | None
    email: str
    phone: str  # national format with the city's area code
    street: str
    number: int
    postcode: str
    city: str
    area: str


@dataclass(frozen=True)
class Record:
    record: str  # "system:ref"
    truth: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class Noise:
    """Chances per record; ``realistic`` is the level the accuracy targets are stated for."""

    typo: float = 0.08
    swap_names: float = 0.03
    nickname: float = 0.05
    initial: float = 0.02
    no_birth: float = 0.15
    swap_day_month: float = 0.04
    birth_typo: float = 0.02
    no_email: float = 0.25
    email_alias: float = 0.08
    new_email: float = 0.05
    no_phone: float = 0.35
    new_phone: float = 0.05
    moved: float = 0.06
    no_address: float = 0.08
    abbreviate: float = 0.3


REALISTIC = Noise()
# The same typos, swaps and aliases with fewer fields left blank: records that carry the evidence
# public linkage benchmarks' records carry, to tell the matcher's errors from the data's gaps.
FEWER_GAPS = Noise(no_birth=0.05, no_email=0.1, no_phone=0.2, no_address=0.03)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _birth(rng: random.Random) -> date:
    return date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 65))


def _email(rng: random.Random, given: str, family: str, birth: date | None, taken: set[str]) -> str:
    """A mailbox of its own: e-mail addresses are personal (a clash gets digits appended)."""
    from hub.identity.normalise import canonical_email

    email = _mailbox(rng, given, family, birth)
    while canonical_email(email) in taken:  # Gmail ignores dots: "a.b" and "ab" are one mailbox
        local, domain = email.split("@")
        email = f"{local}{rng.randint(1, 9)}@{domain}"
    taken.add(canonical_email(email) or email)
    return email


def _mailbox(rng: random.Random, given: str, family: str, birth: date | None) -> str:
    from hub.identity.normalise import plain

    first, last = plain(given).replace(" ", ""), plain(family).replace(" ", "")
    local = rng.choice(
        [f"{first}.{last}", f"{first[0]}.{last}", f"{first}{last}", f"{last}.{first}", f"{first}_{last}"]
    )
    if rng.random() < 0.4:
        local += str(birth.year % 100 if birth else rng.randint(1, 99))
    return f"{local}@{rng.choice(DOMAINS)}"


def _name_of(given: str) -> str:
    """A given name as the matcher reads it: Hans is Johannes, so they are not two names."""
    from hub.identity.normalise import NICKNAMES, plain

    return NICKNAMES.get(plain(given), plain(given))


def _names_apart(rng: random.Random, head: str, n: int) -> list[str]:
    """``n`` given names for a family, each different from the others and from ``head``'s."""
    names = [head]
    while len(names) <= n:
        given = rng.choice(GIVEN)
        if all(_name_of(given) != _name_of(other) for other in names):
            names.append(given)
    return names[1:]


def _place(rng: random.Random) -> tuple[str, str, str]:
    """A postcode of one of the cities: a city has a hundred of them, as German cities do."""
    postcode, city, area = rng.choice(CITIES)
    return f"{postcode[:3]}{rng.randint(0, 99):02d}", city, area


def _person(rng: random.Random, n: int, taken: set[str], **fixed: Any) -> Entity:
    family = fixed.pop("family", None) or rng.choices(FAMILY, _FAMILY_WEIGHTS)[0]
    given = fixed.pop("given", None) or rng.choice(GIVEN)
    birth = fixed.pop("birth", None) or _birth(rng)
    postcode, city, area = fixed.pop("place", None) or _place(rng)
    values = {
        "id": f"P{n:07d}",
        "kind": "person",
        "given": given,
        "family": family,
        "firm": "",
        "legal": 0,
        "birth": birth,
        "email": _email(rng, given, family, birth, taken),
        "phone": f"{area} {rng.randint(2, 9)}{_digits(rng, rng.choice([5, 6, 7]))}",
        "street": f"{rng.choice(STREETS)}straße",
        "number": rng.randint(1, 180),
        "postcode": postcode,
        "city": city,
        "area": area,
    }
    return Entity(**{**values, **fixed})


def population(
    size: int, rng: random.Random, firms: float = 0.1, beside: list[Entity] | None = None
) -> list[Entity]:
    """``size`` entities: mostly single people, with twins, families sharing an address and
    landline, namesakes, and firms. ``beside``: a population these join, whose mailboxes and
    firm names are taken (new people of the same world, not someone's double)."""
    from hub.identity.normalise import canonical_email

    people: list[Entity] = []
    taken: set[str] = {canonical_email(e.email) or e.email for e in beside or []} | {
        e.firm for e in beside or [] if e.firm
    }
    while len(people) < size:
        n = len(people)
        roll = rng.random()
        if roll < firms:
            postcode, city, area = _place(rng)
            firm = f"{rng.choice(FIRMS)} {rng.choice(FIRM_KINDS)}"
            while firm in taken:  # one firm per name (and mailbox): a second gets its founder's name
                firm = f"{firm.split(' ')[0]} {rng.choice(FAMILY)} {firm.split(' ')[-1]}"
            taken.add(firm)
            people.append(
                replace(
                    _person(rng, n, taken, place=(postcode, city, area)),
                    kind="organisation",
                    firm=firm,
                    legal=rng.randrange(len(LEGAL)),
                    given="",
                    family="",
                    birth=None,
                    email=f"info@{firm.lower().replace(' ', '-').replace('ö', 'oe').replace('ü', 'ue')}.de",
                )
            )
        elif roll < firms + 0.03:  # twins
            first = _person(rng, n, taken)
            day = first.birth.replace(day=1 + (first.birth.day % 27))  # same month, another day
            second = _person(
                rng,
                n + 1,
                taken,
                family=first.family,
                given=rng.choice([g for g in GIVEN if _name_of(g) != _name_of(first.given)]),
                birth=day,
                place=(first.postcode, first.city, first.area),
            )
            people += [first, replace(second, street=first.street, number=first.number, phone=first.phone)]
        elif roll < firms + 0.13:  # a family: two or three people at one address and landline
            head = _person(rng, n, taken)
            people.append(head)
            names = _names_apart(rng, head.given, rng.randint(1, 2))  # each their own
            for k, given in enumerate(names):
                member = _person(
                    rng,
                    n + 1 + k,
                    taken,
                    family=head.family,
                    given=given,
                    place=(head.postcode, head.city, head.area),
                )
                people.append(replace(member, street=head.street, number=head.number, phone=head.phone))
        elif roll < firms + 0.18:  # a namesake of someone already there, elsewhere
            model = rng.choice(people) if people else _person(rng, n, taken)
            if model.kind == "person":
                place = rng.choice([c for c in CITIES if c[1] != model.city])
                people.append(_person(rng, n, taken, given=model.given, family=model.family, place=place))
        else:
            people.append(_person(rng, n, taken))
    return people[:size]


def hard_negatives(people: list[Entity]) -> list[tuple[str, str]]:
    """Pairs a matcher must never link: twins and family members (one surname, address and
    landline; different first names and birthdays) and namesakes in different cities."""
    households: dict[tuple[Any, ...], list[Entity]] = {}
    namesakes: dict[tuple[str, str], list[Entity]] = {}
    for p in people:
        if p.kind == "person":
            households.setdefault((p.family, p.street, p.number, p.postcode), []).append(p)
            namesakes.setdefault((p.given, p.family), []).append(p)
    pairs = [
        (a.id, b.id)
        for group in households.values()
        for a, b in combinations(group, 2)
        if a.given != b.given and a.birth != b.birth
    ]
    return pairs + [
        (a.id, b.id) for group in namesakes.values() for a, b in combinations(group, 2) if a.city != b.city
    ]


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.random()
    if kind < 0.35:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]  # transposition
    if kind < 0.65:
        return text[:i] + text[i + 1 :]  # deletion
    return text[:i] + rng.choice("aeinrstlo") + text[i + 1 :]  # substitution


def _phone_format(rng: random.Random, national: str) -> str:
    area, number = national.split(" ")
    return rng.choice(
        [
            f"{area} {number}",
            f"+49 {area[1:]} {number}",
            f"0049{area[1:]}{number}",
            f"({area}) {number[:3]}-{number[3:]}",
            f"+49 ({area[1:]}) {number}",
            f"{area}/{number}",
        ]
    )


def _alias(rng: random.Random, email: str) -> str:
    local, domain = email.split("@")
    choice = rng.random()
    if choice < 0.4:
        return f"{local}+{rng.choice(['shop', 'news', 'web', 'orders'])}@{domain}"
    if choice < 0.7:
        return email.upper() if rng.random() < 0.5 else email.capitalize()
    return f"{local.replace('.', '')}@{domain}" if domain == "gmail.com" else f"{local}@{domain.upper()}"


def record_of(entity: Entity, record: str, rng: random.Random, noise: Noise = REALISTIC) -> Record:
    """One system's record of ``entity``, as typed there."""
    fields: dict[str, Any] = {"kind": entity.kind}
    if entity.kind == "organisation":
        suffix = rng.choice(LEGAL[entity.legal][1])
        name = f"{entity.firm} {suffix}".strip()
        fields["organisation_name"] = _typo(rng, name) if rng.random() < noise.typo / 2 else name
    else:
        given, family = entity.given, entity.family
        if rng.random() < noise.nickname and given in NICK:
            given = NICK[given]
        elif rng.random() < noise.initial:
            given = given[0] + "."
        if rng.random() < noise.typo:
            given = _typo(rng, given)
        if rng.random() < noise.typo:
            family = _typo(rng, family)
        if rng.random() < noise.swap_names:
            given, family = family, given
        fields["given_name"], fields["family_name"] = given, family
        birth = entity.birth
        if birth is not None and rng.random() >= noise.no_birth:
            if rng.random() < noise.swap_day_month and birth.day <= 12:
                birth = date(birth.year, birth.day, birth.month)
            elif rng.random() < noise.birth_typo:
                birth = birth.replace(day=1 + (birth.day + rng.randint(1, 8)) % 28)
            fields["birth_date"] = birth.isoformat()
    if rng.random() >= noise.no_email:
        email = entity.email
        if rng.random() < noise.new_email:
            email = f"{rng.choice(string.ascii_lowercase)}{_digits(rng, 5)}@{rng.choice(DOMAINS)}"
        elif rng.random() < noise.email_alias:
            email = _alias(rng, email)
        fields["emails"] = [email]
    if rng.random() >= noise.no_phone:
        phone = entity.phone
        if rng.random() < noise.new_phone:
            phone = f"01{rng.choice('567')}{rng.randint(0, 9)} {_digits(rng, 7)}"  # a mobile
        fields["phones"] = [_phone_format(rng, phone)]
    if rng.random() >= noise.no_address:
        street, number, postcode, city = entity.street, entity.number, entity.postcode, entity.city
        if rng.random() < noise.moved:
            postcode, city, _ = _place(rng)
            street, number = f"{rng.choice(STREETS)}weg", rng.randint(1, 99)
        if rng.random() < noise.abbreviate:
            street = street.replace("straße", rng.choice(["str.", "str", "strasse", " Str."]))
        if rng.random() < noise.typo / 2:
            street = _typo(rng, street)
        fields["addresses"] = [
            {"lines": [f"{street} {number}"], "postcode": postcode, "city": city, "country": "DE"}
        ]
    return Record(record, entity.id, fields)


def link_task(size: int, rng: random.Random, noise: Noise = REALISTIC) -> list[Record]:
    """Two systems: every entity in the first, 70 % of them in the second (persons only)."""
    people = [e for e in population(size, rng, firms=0.0)]
    records = [record_of(e, f"crm:{e.id}", rng, noise) for e in people]
    records += [record_of(e, f"shop:{e.id}", rng, noise) for e in people if rng.random() < 0.7]
    return records


def dedup_task(size: int, rng: random.Random, noise: Noise = REALISTIC) -> list[Record]:
    """Four systems (shop, ERP, CRM, call centre); each entity in one to four of them, and some
    twice in the same system (a second account)."""
    records = []
    for entity in population(size, rng):
        systems = rng.sample(["shop", "erp", "crm", "phone"], rng.choice([1, 1, 2, 2, 3, 4]))
        if rng.random() < 0.05:
            systems.append(systems[0] + "-2")
        records += [record_of(entity, f"{system}:{entity.id}", rng, noise) for system in systems]
    return records
