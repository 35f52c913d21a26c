"""Projection runner: follows the notification log and keeps read-model tables up to date.

Read-model rows and the projection's tracking position commit in one transaction, so a crash
never applies an event twice or skips one. ``rebuild`` builds a shadow copy from the start of the
log, compares it row by row with the live tables, and swaps it in inside one transaction: readers
see the old rows until the commit and the new rows after it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hub.metrics import NO_TIME, HubMetrics, Lap
from hub.store import Store

__all__ = ["ProjectionTables", "Projector", "RebuildReport"]


class ProjectionTables(Protocol):
    """What the projector needs of a read model: its tables, how to apply a batch of events in
    the caller's transaction, and a shadow copy to rebuild into and swap in."""

    name: str
    # The aggregates (class names) whose events it reads: the rest of the log is not decoded
    # for it (most of a busy log is another view's: customers, links, stock).
    reads: frozenset[str]

    def create(self, cursor: Any) -> None: ...
    def drop(self, cursor: Any) -> None: ...
    def apply(self, cursor: Any, events: list[Any], position: int, reaches: int) -> None: ...
    def settle(self, committed: bool) -> None: ...
    def shadow(self, suffix: str) -> Any: ...
    def replace(self, cursor: Any, live: Any) -> None: ...
    def rows(self) -> list[tuple[Any, ...]]: ...
    def count(self) -> int: ...
    def outdated(self) -> bool: ...  # rows an older hub wrote, in a shape this one cannot read


@dataclass(frozen=True)
class RebuildReport:
    name: str
    events: int
    rows: int
    position: int
    verified: bool | None
    differences: list[str]


INLINE_GAP = 5000  # events a projection may lag and still be followed inline (it catches up first)


class Projector:
    """Runs every projection; ``tracking name = projection:<name>``.

    Two threads may drive it (``hub run``): processing follows the projections inline, in its
    transactions; the projection stage catches them up (identity resolution first). Each
    projection has a lock: catching up holds it from reading the position to the commit;
    processing takes it only if it is free (else the projection is left to catching up) and
    holds it until its own commit (``settle``). So a projection is never applied twice over."""

    def __init__(
        self,
        store: Store,
        metrics: HubMetrics,
        projections: list[ProjectionTables],
        batch_size: int = 2000,
        feeds: Mapping[str, Callable[[], int]] | None = None,
    ) -> None:
        self.store, self.metrics, self.batch_size = store, metrics, batch_size
        # The stages that record the events a projection shows (identity resolution records the
        # customer links the customer view shows): each runs just before its projection is
        # followed, so the projections that need none never wait for it.
        self.feeds: dict[str, Callable[[], int]] = dict(feeds or {})
        self.projections: dict[str, ProjectionTables] = {t.name: t for t in projections}
        self._decoded: dict[int, Any] | None = None  # during catch_up: events by notification id
        self._locks = {name: threading.Lock() for name in self.projections}
        self._held: list[str] = []  # projections follow_inline locked until its transaction ends
        with store.schema_lock(), store.transaction() as cursor:
            for tables in self.projections.values():
                tables.create(cursor)

    @staticmethod
    def tracking_name(name: str) -> str:
        return f"projection:{name}"

    def get(self, name: str) -> Any:
        if name not in self.projections:
            raise KeyError(f"unknown projection {name!r}; known: {', '.join(self.projections)}")
        return self.projections[name]

    def catch_up(self, upto: int | None = None, on_batch: Callable[[int], None] | None = None) -> int:
        """Every projection, each after its feed; an event is decoded once for all the projections
        that need it."""
        self._decoded = {}
        try:
            applied = fed = 0
            for name, tables in self.projections.items():
                fed += self._feed(name)
                applied += self._follow(tables, self.tracking_name(name), upto, on_batch)
            if fed:  # events the feeds appended, which the projections before them have not seen
                for name, tables in self.projections.items():
                    applied += self._follow(tables, self.tracking_name(name), upto, on_batch)
        finally:
            self._decoded = None
        self.observe_lag()
        return applied

    def _decode(self, notifications: Sequence[Any], reads: frozenset[str]) -> list[Any]:
        """The events of ``notifications`` a projection reads, by their topic ("module:Class.Event");
        decoded once per catch-up round for all projections."""
        wanted = [n for n in notifications if _aggregate_of(n.topic) in reads]
        if self._decoded is None:
            return [self.store.decode(n) for n in wanted]
        if len(self._decoded) > 50_000:
            self._decoded.clear()
        return [
            self._decoded.get(n.id) or self._decoded.setdefault(n.id, self.store.decode(n)) for n in wanted
        ]

    def follow(
        self, name: str, upto: int | None = None, on_batch: Callable[[int], None] | None = None
    ) -> int:
        """Apply what one projection has not seen yet (``hub project NAME`` calls this)."""
        tables = self.get(name)
        self._feed(name)
        return self._follow(tables, self.tracking_name(name), upto, on_batch)

    def _feed(self, name: str) -> int:
        feed = self.feeds.get(name)
        return feed() if feed is not None else 0

    def _follow(
        self,
        tables: ProjectionTables,
        tracking: str | None,
        upto: int | None,
        on_batch: Callable[[int], None] | None,
        start: int | None = None,
        batch_size: int | None = None,
    ) -> int:
        """Apply events after the tracked (or given) position; ``tracking=None`` for shadows
        (a shadow is this thread's own: no lock)."""
        position = start or 0
        applied = 0
        while True:
            with self._locks[tables.name] if tracking else _NO_LOCK:
                if tracking:  # read again under the lock: processing may have moved it inline
                    position = self.store.position(tracking)
                notifications = self.store.notifications(position, batch_size or self.batch_size, upto)
                if not notifications:
                    return applied
                events = self._decode(notifications, tables.reads)
                began = Lap.now()
                try:
                    with self.store.transaction() as cursor:
                        tables.apply(cursor, events, position, notifications[-1].id)
                        if tracking:
                            self.store.track(cursor, tracking, notifications[-1].id)
                except BaseException:
                    tables.settle(committed=False)
                    raise
                if tracking:  # the live view's stage; a shadow rebuild is not the pipeline
                    # counted as log entries passed, as inline: the events it skips by topic too
                    self.metrics.spent(f"project:{tables.name}", began, len(notifications))
            position = notifications[-1].id
            applied += len(notifications)
            if on_batch is not None:
                on_batch(len(notifications))

    def follow_inline(self, cursor: Any, events: list[Any], ids: list[int]) -> Lap:
        """Apply just-recorded events in the recording transaction: each projection that is
        free (not being caught up by the projection stage) and at most ``INLINE_GAP`` events
        behind them — the events it lacks (another stage's, such as identity's links) first.
        A projection further behind is left to ``catch_up``. The locks taken are held until
        ``settle``. Returns the time spent (each projection's stage)."""
        spent = NO_TIME
        if not ids:
            return spent
        missed_after: dict[int, list[Any]] = {}  # views at one position miss the same events: read once
        for name, tables in self.projections.items():
            if not self._locks[name].acquire(blocking=False):
                continue  # the projection stage is catching it up: it will take these too
            self._held.append(name)
            began = Lap.now()
            tracking = self.tracking_name(name)
            position = self.store.position_in(cursor, tracking)
            if position >= ids[0]:
                continue
            if position not in missed_after:
                missed_after[position] = self.store.events_between(cursor, position, ids[0], INLINE_GAP + 1)
            missed = missed_after[position]
            if len(missed) > INLINE_GAP:
                continue
            tables.apply(cursor, [*missed, *events], position, ids[-1])
            self.store.track(cursor, tracking, ids[-1])
            spent += self.metrics.spent(f"project:{name}", began, len(missed) + len(events))
        return spent

    def settle(self, committed: bool) -> None:
        """The outcome of the transaction ``follow_inline`` wrote into: the caches of the
        projections it applied kept or dropped, and their locks released. Outside such a
        transaction, ``committed=False`` drops every projection's cache (after an erasure),
        each under its lock, so not while the projection stage applies it."""
        held, self._held = self._held, []
        try:
            if held:
                for name in held:
                    self.projections[name].settle(committed)
            elif not committed:
                for name, tables in self.projections.items():
                    with self._locks[name]:
                        tables.settle(False)
        finally:
            for name in held:
                self._locks[name].release()

    def status(self) -> list[dict[str, Any]]:
        head = self.store.head()
        result = []
        for name in self.projections:
            position = self.store.position(self.tracking_name(name))
            result.append({"name": name, "position": position, "head": head, "lag": head - position})
        return result

    def observe_lag(self) -> None:
        for entry in self.status():
            self.metrics.projection_lag.labels(entry["name"]).set(entry["lag"])

    def upgrade(self) -> list[RebuildReport]:
        """Rebuild every projection whose stored rows an older hub wrote (run at start, before
        anything reads or extends them)."""
        return [
            self.rebuild(name, verify=False, follow_live=False)
            for name, tables in self.projections.items()
            if tables.outdated()
        ]

    def rebuild(
        self,
        name: str,
        *,
        verify: bool,
        on_batch: Callable[[int], None] | None = None,
        follow_live: bool = True,
    ) -> RebuildReport:
        live = self.get(name)
        # Bring the live view to the head first, so both sides describe the same prefix of the log
        # (not when its rows are outdated: the rebuild replaces them up to where they had come).
        if follow_live:
            self._follow(live, self.tracking_name(name), None, None)
        position = self.store.position(self.tracking_name(name))
        shadow = live.shadow("__rebuild")
        with self.store.transaction() as cursor:
            shadow.drop(cursor)
            shadow.create(cursor)
        events = self._follow(shadow, None, position, on_batch, start=0, batch_size=10_000)
        # Another process may have advanced the live view meanwhile: follow it to the same point.
        while (live_position := self.store.position(self.tracking_name(name))) > position:
            events += self._follow(shadow, None, live_position, on_batch, start=position)
            position = live_position
        rows = shadow.count()
        if verify:
            differences = _compare(live.rows(), shadow.rows())
            if differences:
                with self.store.transaction() as cursor:
                    shadow.drop(cursor)
                return RebuildReport(name, events, rows, position, False, differences)
        with self.store.transaction() as cursor:
            shadow.replace(cursor, live)
        live.settle(committed=False)  # its cached orders describe the tables just replaced
        return RebuildReport(name, events, rows, position, True if verify else None, [])


def _compare(live: list[tuple[Any, ...]], rebuilt: list[tuple[Any, ...]]) -> list[str]:
    differences = []
    live_by_key = {row[:2]: row for row in live}
    rebuilt_by_key = {row[:2]: row for row in rebuilt}
    for key in sorted(set(live_by_key) | set(rebuilt_by_key)):
        before, after = live_by_key.get(key), rebuilt_by_key.get(key)
        if before != after:
            differences.append(f"{key[0]} {key[1]}: live {before!r} != rebuilt {after!r}")
    return differences


_NO_LOCK = contextlib.nullcontext()


def _aggregate_of(topic: str) -> str:
    """The aggregate class of an event's topic: ``aggregates.order:Order.Placed`` → ``Order``."""
    return topic.partition(":")[2].partition(".")[0]
