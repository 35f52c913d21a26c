"""Identity resolution inside the hub: follows the log for source customer records that were
created or changed, resolves them one at a time in the order they were recorded, and records
every decision as an event of the record's ``CustomerLink`` — with the resolver's tables and the
follower's position, in one transaction (a crash repeats nothing and skips nothing).

Stewards' merge, split, confirm and reject go through the same path, recorded ``by`` the steward.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Container, Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError, PersistenceError

from aggregates import (
    CustomerLink,
    MatchingModel,
    Provenance,
    SourceCustomer,
    customer_id,
    link_id,
    matching_model_id,
)
from hub.identity.model import DEFAULT_MODEL, MatchModel
from hub.identity.normalise import Profile, normalise
from hub.identity.resolver import Decision, Resolver, UnknownCustomer
from hub.identity.tables import IdentityTables, Loaded, profile_of
from hub.identity.training import Progress, train
from hub.metrics import HubMetrics, Lap
from hub.store import Store

__all__ = ["IdentityService", "UnknownCustomer"]

log = logging.getLogger(__name__)

TRACKING = "identity"
NOTIFICATIONS_PER_STEP = 5000  # log entries read per step: one neighbourhood load and one commit each
_ATTEMPTS = 5
_SOURCE_TOPICS = tuple(
    f":{SourceCustomer.__name__}.{e.__name__}" for e in (SourceCustomer.Registered, SourceCustomer.Changed)
)


class IdentityService:
    def __init__(
        self,
        store: Store,
        region: Callable[[str], str] = lambda system: "DE",
        configure: Callable[[MatchModel], MatchModel] = lambda model: model,
        batch_size: int = 500,
        metrics: HubMetrics | None = None,
        train_after: int = 0,
    ) -> None:
        """``configure``: the configured thresholds, sources and attributes applied to a model
        (the default, or the one trained last); ``train_after``: once this many records are held
        and no model was trained yet, train one and re-match the records with it (0: only by
        ``train``)."""
        self.store, self.region, self.configure, self.batch_size = store, region, configure, batch_size
        self.metrics = metrics
        self.train_after = train_after
        self.tables = IdentityTables(store)
        self.resolved = self.analysed = 0  # records resolved by this process, and at the last ANALYZE
        with store.schema_lock(), store.transaction() as cursor:
            self.tables.create(cursor)
            self.tables.add_search_words(cursor)
        self._trainings = 0  # trainings in the log when the model was last read
        self.trained: MatchModel | None = None
        self.model = configure(DEFAULT_MODEL)
        self._refresh()

    # -- the model ------------------------------------------------------------------------------

    def stored_model(self) -> MatchModel | None:
        """The model trained last, as recorded in the log (None: never trained)."""
        found = self.store.replay([matching_model_id()]).get(matching_model_id())
        return MatchModel.from_json(found.model) if found is not None else None

    def train(
        self, *, by: str, dry_run: bool = False, seed: int = 1, on_progress: Progress | None = None
    ) -> MatchModel:
        """A model learned from the records held now (``training.train``), recorded in the log
        and used for the records resolved from now on; ``hub customers rematch`` applies it to
        those resolved before. ``dry_run``: learned and returned, not recorded or used."""
        rows = self.store.query("SELECT record, profile FROM hub_identity_records ORDER BY record")
        profiles = [profile_of(row["profile"]) for row in rows]
        # the configured attributes are compared in training too, so they are learned as well
        learned = train(profiles, self.configure(DEFAULT_MODEL), seed=seed, on_progress=on_progress)
        if dry_run:
            return self.configure(learned)
        found = self.store.replay([matching_model_id()]).get(matching_model_id())
        if found is None:
            found = MatchingModel.first(learned.to_json(), by)
        else:
            found.retrain(learned.to_json(), by)
        try:
            with self.store.transaction() as cursor:
                self.store.append(cursor, found.collect_events())
        except IntegrityError:  # another process trained at the same moment: its model holds
            learned = self.stored_model() or learned
        self._trainings = self.store.version(matching_model_id())
        self.trained, self.model = learned, self.configure(learned)
        log.info("identity model %s trained by %s on %d records", learned.version, by, len(rows))
        return self.model

    def _refresh(self) -> None:
        """The model trained last by any process (``hub customers train`` beside a running hub):
        used from the next step on. Read only when the log holds a newer training."""
        version = self.store.version(matching_model_id())
        if version != self._trainings:
            self._trainings = version
            self.trained = self.stored_model()
            self.model = self.configure(self.trained or DEFAULT_MODEL)

    def _train_when_due(self) -> None:
        if self.trained is not None or not self.train_after:
            return
        held = self.store.query("SELECT COUNT(*) AS n FROM hub_identity_records")[0]["n"]
        if held >= self.train_after:
            began = Lap.now()
            try:
                self.train(by="hub")
            except ValueError as error:  # e.g. firms only: nothing to learn people from yet
                log.warning("identity model not trained at %d records: %s", held, error)
                self.train_after = 2 * held  # try again when the hub holds twice as many
                return
            counts = self.rematch()
            self._spent("identity:train", began, held)
            log.info(
                "identity model %s trained on the first %d records and applied to them: %s",
                self.model.version,
                held,
                dict(counts),
            )

    # -- following the log ----------------------------------------------------------------------

    def follow(self, upto: int | None = None) -> int:
        """Resolve the customer records recorded since the last call; returns how many."""
        self._refresh()
        position = self.store.position(TRACKING)
        resolved = 0
        while True:
            began = Lap.now()
            notifications = self.store.notifications(position, NOTIFICATIONS_PER_STEP, upto)
            if not notifications:
                return resolved
            changes: dict[UUID, list[Any]] = {}  # per record changed: its events in this step
            for notification in notifications:
                if notification.topic.endswith(_SOURCE_TOPICS):  # decode only what concerns us
                    event = self.store.decode(notification)
                    changes.setdefault(event.originator_id, []).append(event)
            profiles = self._profiles(changes)
            # The message that changed each record last is the cause of what is decided about it.
            cause = {p.record: changes[customer_id(*p.record.split(":", 1))][-1].provenance for p in profiles}
            reached = notifications[-1].id
            try:
                self._decide(profiles, [], _resolving(profiles, cause), reached)
            except PersistenceError:
                raise  # the database is unwell: retry later, blame no record
            except Exception:
                if not profiles:
                    raise
                self._one_by_one(profiles, cause, reached)
            position = reached
            resolved += len(profiles)
            self._keep_statistics(len(profiles))
            self._spent("identity", began, len(profiles))
            if profiles:
                self._train_when_due()

    def _one_by_one(self, profiles: list[Profile], cause: dict[str, Provenance], reached: int) -> None:
        """A step the matcher broke on: each record on its own, so a bug costs only the record
        that triggers it (set aside: ``Resolver.set_aside``, logged with the error), and the
        records after it are resolved as usual. The last record's transaction moves the position."""
        for i, profile in enumerate(profiles):
            upto = reached if i == len(profiles) - 1 else None
            try:
                self._decide([profile], [], _resolving([profile], cause), upto)
            except PersistenceError:
                raise
            except Exception as error:
                log.exception(
                    "identity resolution failed on %s: set aside as its own customer", profile.record
                )
                if self.metrics is not None:
                    self.metrics.identity_set_aside_total.inc()
                problem = f"{type(error).__name__}: {error}"[:500]
                because = cause[profile.record]
                self._decide(
                    [profile],
                    [],
                    lambda r, p=profile, c=because, e=problem: [(d, c) for d in r.set_aside(p, e)],
                    upto,
                )

    def _spent(self, stage: str, began: Lap, items: int) -> None:
        if self.metrics is not None:
            self.metrics.spent(stage, began, items)

    def _keep_statistics(self, resolved: int) -> None:
        """PostgreSQL plans a neighbourhood's IN lists by the tables' statistics: with none, or
        with those of a much smaller table (autovacuum off or behind), it scans the whole table
        instead of the index, and the cost of a record grows with the number of customers. So
        the tables are analysed whenever this process has resolved twice as many records as at
        the last time (1,000, 2,000, 4,000, ...): a few times in a bulk load, rarely after."""
        self.resolved += resolved
        if self.store.dialect == "postgres" and self.resolved >= max(1000, 2 * self.analysed):
            with self.store.transaction() as cursor:
                self.tables.analyse(cursor)
            self.analysed = self.resolved

    def _profiles(self, changes: dict[UUID, list[Any]]) -> list[Profile]:
        """The records' current state: a record registered in this step is its own events folded;
        only records that existed before are replayed from the log."""
        states: dict[UUID, Any] = {}
        earlier = []
        for key, events in changes.items():
            if isinstance(events[0], SourceCustomer.Registered):
                state = None
                for event in events:
                    state = event.mutate(state)
                states[key] = state
            else:
                earlier.append(key)
        states.update(self.store.replay(earlier))
        return [
            normalise(f"{c.system}:{c.customer_ref}", c.fields, self.region(c.system))
            for c in (states[key] for key in changes if key in states)
        ]

    # -- re-matching ----------------------------------------------------------------------------

    def rematch(
        self, *, dry_run: bool = False, on_progress: Callable[[int, int], None] | None = None
    ) -> Counter[str]:
        """Every record resolved again through the current model, in the order the records were
        first recorded: a replay after a rule change. Records a steward placed stay where they
        are, and confirmed and rejected pairs hold; what moves is recorded as decisions of the
        new model version, caused by this re-match. Profiles are the ones stored (normalised
        when the records came; erased people stay blank). A pair still waiting in the review
        band with the same score is not queued again, nor a pair met twice in one run, so a
        second run moves nothing (it may queue a pair the first could not: a record's pairs for
        review are drawn against the graph as it stood when the record was resolved, and the
        first run changed the graph after it), and once those are queued, a run is a no-op.

        ``dry_run`` decides each batch against the stored graph without writing: an estimate
        of what a re-match would change. Returns the decisions by kind."""
        rows = self.store.query("SELECT record, profile FROM hub_identity_records")
        profiles = {row["record"]: profile_of(row["profile"]) for row in rows}
        order = self._recorded_order(profiles)
        waiting = {
            (row["a"], row["b"]): float(row["score"])
            for row in self.store.query("SELECT a, b, score FROM hub_cust_reviews WHERE status = 'open'")
        }
        cause: Provenance = {
            "system": "rematch",
            "message_id": f"rematch:{self.model.version}:{uuid4()}",
            "received_at": datetime.now(UTC).isoformat(),
            "mapping": self.model.version,
        }

        met: set[tuple[str, str]] = set()  # review pairs of the batches written so far
        attempt: set[tuple[str, str]] = set()

        def decide(resolver: Resolver, batch: list[Profile]) -> list[tuple[Decision, Provenance]]:
            """The batch's decisions, less the review pairs already waiting with the same score
            or met before in this run (from the other side, scored with the other customer's
            members)."""
            attempt.clear()
            attempt.update(met)
            kept = []
            for decision in (d for p in batch for d in resolver.resolve(p)):
                if decision.kind == "review" and decision.other is not None:
                    pair = (min(decision.record, decision.other), max(decision.record, decision.other))
                    if pair in attempt:
                        continue
                    attempt.add(pair)
                    if pair in waiting and abs(waiting[pair] - (decision.score or 0.0)) <= 1e-9:
                        continue
                kept.append((decision, cause))
            return kept

        counts: Counter[str] = Counter()
        for start in range(0, len(order), self.batch_size):
            batch = [profiles[r] for r in order[start : start + self.batch_size]]
            decided = self._decide(batch, [], lambda r, batch=batch: decide(r, batch), write=not dry_run)
            met.update(attempt)
            counts.update(d.kind for d in decided)
            if on_progress is not None:
                on_progress(min(start + self.batch_size, len(order)), len(order))
        return counts

    def _recorded_order(self, profiles: dict[str, Profile]) -> list[str]:
        """The records in the order their first version was recorded in the log."""
        keys = {customer_id(*record.split(":", 1)): record for record in profiles}
        order: dict[str, None] = {}
        position = 0
        while True:
            notifications = self.store.notifications(position, 10_000)
            if not notifications:
                break
            for notification in notifications:
                record = keys.get(notification.originator_id)
                if record is not None and notification.topic.endswith(_SOURCE_TOPICS):
                    order.setdefault(record)
            position = notifications[-1].id
        return [*order, *sorted(set(profiles) - set(order))]

    def _decide(
        self,
        profiles: list[Profile],
        customers: list[str],
        act: Callable[[Resolver], list[tuple[Decision, Provenance]]],
        reached: int | None = None,
        *,
        write: bool = True,
    ) -> list[Decision]:
        """Read the neighbourhood, decide in memory, then write tables, events and position in one
        transaction. Nothing is read while the write transaction is open (SQLite has one writer);
        a concurrent decision on the same records shows as a version conflict of their
        CustomerLink events, and the step is decided again on fresh state."""
        for attempt in range(_ATTEMPTS):
            with self.store.reading() as cursor:
                graph = self.tables.load(cursor, profiles, customers)
            before = Loaded(graph)
            decisions = act(Resolver(graph, self.model))
            if not write:
                return [d for d, _ in decisions]
            events = self._events(decisions, before.customer_of)
            try:
                with self.store.transaction() as cursor:
                    self.tables.save(cursor, graph, before, profiles)
                    self.store.append(cursor, events)
                    if reached is not None:
                        self.store.track(cursor, TRACKING, reached)
            except IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise
                continue
            return [d for d, _ in decisions]
        raise AssertionError("unreachable")

    def _events(self, decisions: list[tuple[Decision, Provenance]], placed: Container[str]) -> list[Any]:
        """Each decision as an event of every record it placed, with the message that caused it.
        ``placed``: the records placed before, the only ones with a CustomerLink to read."""
        placements: list[tuple[str, Decision, Provenance]] = []
        for decision, provenance in decisions:
            records = decision.evidence.get("records") if decision.kind in ("merge", "split") else None
            for record in records or [decision.record]:
                if record is not None:
                    placements.append((record, decision, provenance))
        links = self.store.replay([link_id(r) for r, _, _ in placements if r in placed])
        touched: dict[UUID, CustomerLink] = {}
        for record, decision, provenance in placements:
            key = link_id(record)
            leaving = decision.kind == "unlink"
            fields = {
                "kind": decision.kind,
                "customer": None if leaving else decision.customer,
                "other": decision.customer if leaving else decision.other,
                "score": decision.score,
                "evidence": decision.evidence,
                "model": decision.model,
                "by": decision.by,
                "provenance": provenance,
            }
            link = touched.get(key) or links.get(key)
            if link is None:
                touched[key] = CustomerLink.place(record, **fields)
            else:
                touched[key] = link
                link.decide(**fields)
        return [e for link in touched.values() for e in link.collect_events()]

    # -- stewards -------------------------------------------------------------------------------

    def customer_of(self, records: Iterable[str]) -> dict[str, str]:
        wanted = list(records)
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        rows = self.store.query(
            f"SELECT record, customer FROM hub_identity_records WHERE record IN ({marks})", wanted
        )
        return {row["record"]: row["customer"] for row in rows}

    def members(self, customer: str) -> list[str]:
        rows = self.store.query(
            "SELECT record FROM hub_identity_records WHERE customer = ? ORDER BY record", [customer]
        )
        return [row["record"] for row in rows]

    def _steward(
        self, customers: list[str], steward: str, act: Callable[[Resolver], list[Decision]]
    ) -> list[Decision]:
        for customer in customers:
            if not self.members(customer):
                raise UnknownCustomer(f"no customer {customer!r}")
        now = datetime.now(UTC).isoformat()
        act_of: Provenance = {
            "system": "steward",
            "message_id": f"steward:{steward}:{uuid4()}",
            "received_at": now,
            "mapping": "steward",
        }
        return self._decide([], customers, lambda r: [(d, act_of) for d in act(r)])

    def merge(self, keep: str, absorb: str, steward: str) -> list[Decision]:
        return self._steward([keep, absorb], steward, lambda r: r.merge(keep, absorb, steward))

    def split(self, customer: str, record: str, steward: str) -> list[Decision]:
        return self._steward([customer], steward, lambda r: r.split(customer, record, steward))

    def _pair(self, a: str, b: str) -> list[str]:
        found = self.customer_of([a, b])
        missing = [r for r in (a, b) if r not in found]
        if missing:
            raise UnknownCustomer(f"no source record {missing[0]!r} (write records as SYSTEM:REF)")
        return sorted(set(found.values()))

    def confirm(self, a: str, b: str, steward: str) -> list[Decision]:
        return self._steward(self._pair(a, b), steward, lambda r: r.confirm(a, b, steward))

    def reject(self, a: str, b: str, steward: str) -> list[Decision]:
        return self._steward(self._pair(a, b), steward, lambda r: r.reject(a, b, steward))


def _resolving(
    profiles: list[Profile], cause: dict[str, Provenance]
) -> Callable[[Resolver], list[tuple[Decision, Provenance]]]:
    """Resolve the records in order, each decision caused by the message that changed its record."""
    return lambda resolver: [(d, cause[p.record]) for p in profiles for d in resolver.resolve(p)]
