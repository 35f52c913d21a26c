"""Walk the event log against its hash chain and name the first place where they disagree.

Each stored event is checked against the link recorded with it, starting from the link before
it as stored — so a changed, inserted, deleted or moved row is named at its own position — and a
checkpoint kept outside the database proves that the links themselves were not rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import zip_longest
from typing import Any
from uuid import UUID

from hub.audit.chain import GENESIS, link
from hub.store import Store

__all__ = ["Checkpoint", "VerifyReport", "chained_events", "checkpoint", "verify"]

PAGE = 5000


@dataclass(frozen=True)
class Checkpoint:
    """The chain head at one moment: keep it where the database's owner cannot change it."""

    position: int
    link: str  # hex
    events: int
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "link": self.link,
            "events": self.events,
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any], source: str = "checkpoint") -> Checkpoint:
        try:
            return cls(
                position=int(document["position"]),
                link=str(document["link"]),
                events=int(document["events"]),
                created_at=str(document["created_at"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{source}: not a hub checkpoint ({error})") from None


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked: int
    head: int
    head_link: str | None
    problem: str | None = None
    position: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "head": self.head,
            "head_link": self.head_link,
            "problem": self.problem,
            "position": self.position,
        }


def _events(store: Store) -> Iterator[tuple[int, UUID, int, str, bytes]]:
    column = "rowid" if store.dialect == "sqlite" else "notification_id"
    table = store.recorder.events_table_name
    after = 0
    while True:
        rows = store.query(
            f"SELECT {column} AS position, originator_id, originator_version, topic, state FROM {table} "
            f"WHERE {column} > ? ORDER BY {column} LIMIT ?",
            (after, PAGE),
        )
        if not rows:
            return
        for row in rows:
            yield (
                row["position"],
                _originator(row["originator_id"]),
                _version(row["originator_version"]),
                str(row["topic"]),
                _stored_bytes(row["state"]),
            )
        after = rows[-1]["position"]


def _links(store: Store) -> Iterator[tuple[int, bytes]]:
    after = 0
    while True:
        rows = store.query(
            "SELECT position, link FROM hub_chain WHERE position > ? ORDER BY position LIMIT ?", (after, PAGE)
        )
        if not rows:
            return
        for row in rows:
            yield row["position"], _stored_bytes(row["link"])
        after = rows[-1]["position"]


# Someone with write access to a SQLite file can store any type in any column (a BLOB rewritten
# as text, an id that is no UUID). Such a row is read as a value that matches no link, so verify
# names its position instead of stopping with a type error.
_ALTERED = UUID(int=0)


def _stored_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return b"\x00altered:" + repr(value).encode("utf-8", "backslashreplace")


def _originator(value: Any) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return _ALTERED


def _version(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0  # none is 0


def chained_events(store: Store) -> Iterator[tuple[int, UUID, int, str, bytes, bytes, bytes]]:
    """Events in log order with the link before them and their own (a verified walk: stops with
    ``ValueError`` at the first place where log and chain disagree)."""
    events, links = _events(store), _links(store)
    previous = GENESIS
    for event, chained in zip_longest(events, links):
        if event is None or chained is None or chained[0] != event[0]:
            where = (event or chained or (0,))[0]
            raise ValueError(f"position {where}: log and chain disagree; run 'hub audit verify'")
        position, originator, version, topic, state = event
        if link(previous, position, originator, version, topic, state) != chained[1]:
            raise ValueError(f"position {position}: log and chain disagree; run 'hub audit verify'")
        yield position, originator, version, topic, state, previous, chained[1]
        previous = chained[1]


def verify(
    store: Store, against: Checkpoint | None = None, on_progress: Callable[[int], None] | None = None
) -> VerifyReport:
    events, links = _events(store), _links(store)
    event, chained = next(events, None), next(links, None)
    previous, checked, head = GENESIS, 0, 0
    seen_checkpoint = against is None

    def failed(problem: str, position: int) -> VerifyReport:
        return VerifyReport(False, checked, head, previous.hex(), problem, position)

    while event is not None or chained is not None:
        if chained is None or (event is not None and event[0] < chained[0]):
            assert event is not None
            return failed(f"position {event[0]}: event without a link (inserted outside the hub)", event[0])
        if event is None or chained[0] < event[0]:
            return failed(f"position {chained[0]}: linked event is missing (deleted)", chained[0])
        position, originator, version, topic, state = event
        expected = link(previous, position, originator, version, topic, state)
        if expected != chained[1]:
            return failed(
                f"position {position}: stored event (aggregate {originator} v{version}) does not match "
                "its link (changed, or moved from another position)",
                position,
            )
        if against is not None and position == against.position:
            if chained[1].hex() != against.link:
                return failed(
                    f"position {position}: the chain differs from the checkpoint of {against.created_at} "
                    "(history before it was rewritten)",
                    position,
                )
            seen_checkpoint = True
        previous, head = chained[1], position
        checked += 1
        if on_progress is not None and checked % PAGE == 0:
            on_progress(PAGE)
        event, chained = next(events, None), next(links, None)
    if not seen_checkpoint:
        assert against is not None
        return failed(
            f"the log no longer reaches checkpoint position {against.position} (truncated or rewritten)",
            against.position,
        )
    return VerifyReport(True, checked, head, previous.hex() if checked else None)


def checkpoint(store: Store) -> Checkpoint:
    """The current chain head (verify first: a checkpoint of a broken chain proves nothing)."""
    rows = store.query("SELECT position, link FROM hub_chain ORDER BY position DESC LIMIT 1")
    count = store.query("SELECT COUNT(*) AS n FROM hub_chain")[0]["n"]
    if not rows:
        return Checkpoint(0, GENESIS.hex(), int(count), datetime.now(UTC).isoformat())
    position, head = rows[0]["position"], _stored_bytes(rows[0]["link"]).hex()
    return Checkpoint(position, head, int(count), datetime.now(UTC).isoformat())


def read_checkpoint(text: str, source: str) -> Checkpoint:
    try:
        return Checkpoint.from_json(json.loads(text), source)
    except json.JSONDecodeError as error:
        raise ValueError(f"{source}: not JSON ({error})") from None
