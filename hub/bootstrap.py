"""The composition root: every store, adapter and service of a hub process is wired here.

Commands, the HTTP server, the demo and the tests all call ``bootstrap``; nothing opens a
connection at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hub.accounting import RefusalTally
from hub.audit.history import History
from hub.catalog import MappingCatalog
from hub.dead_letters import DeadLetters, Failure
from hub.group_commit import GroupCommit
from hub.identity.customers import CustomerQueries, CustomerTables
from hub.identity.service import IdentityService
from hub.inbox import Inbox, RawMessage, RecordOutcome, received_at
from hub.metrics import HubMetrics
from hub.order_tracking import OrderQueries, OrderTrackingTables
from hub.parked import ParkedMessages
from hub.planning.queries import PlanQueries
from hub.planning.tables import PlanningTables
from hub.ports import AdapterPorts
from hub.privacy.keys import SubjectKeys, open_subject_keys
from hub.processing import BatchReport, Processor
from hub.projecting import Projector
from hub.replay import DeadLetterReplay
from hub.settings import HubSettings
from hub.store import Store, key_store_url

__all__ = ["Hub", "bootstrap"]


@dataclass
class Hub:
    settings: HubSettings
    store: Store
    metrics: HubMetrics
    catalog: MappingCatalog
    inbox: Inbox
    processor: Processor
    projector: Projector
    dead_letters: DeadLetters
    replayer: DeadLetterReplay
    parked: ParkedMessages
    orders: OrderQueries
    history: History
    plan: PlanQueries
    identity: IdentityService
    customers: CustomerQueries
    group_commit: GroupCommit = field(init=False, repr=False)
    ports: AdapterPorts = field(init=False, repr=False)
    refusals: RefusalTally = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.refusals = RefusalTally(self.store, self.settings.systems)
        self.group_commit = GroupCommit(self.record_groups)
        self.ports = AdapterPorts(
            settings=self.settings,
            store=self.store,
            receive=self.receive,
            submit=self.submit,
            reject=self.record_failures,
            refused=self.refused,
            plan=self.plan,
        )

    def receive(
        self, system: str, envelopes: list[dict[str, Any]], also: Callable[[Any], None] | None = None
    ) -> RecordOutcome:
        """Store raw messages durably (the step an adapter waits for before acknowledging);
        ``also`` writes the adapter's own progress in the same transaction."""

        def and_refusals(cursor: Any) -> None:
            if also is not None:
                also(cursor)
            self.refusals.write(cursor)

        with self.metrics.stage("receive", len(envelopes)):
            messages = self.raw_messages(system, envelopes)
            outcome = self.inbox.record(messages, and_refusals)
        self.metrics.received(system, outcome.stored, outcome.duplicates)
        return outcome

    def submit(self, system: str, envelopes: list[dict[str, Any]]) -> Future[RecordOutcome]:
        """Store raw messages durably together with other callers' (a group commit: webhook
        requests); the future resolves once they are committed. A message id that cannot be
        derived raises here, before anything is queued."""
        return self.group_commit.submit(self.raw_messages(system, envelopes))

    def raw_messages(self, system: str, envelopes: list[dict[str, Any]]) -> list[RawMessage]:
        """Each envelope with its message id (the mapping set's rule) and receipt time."""
        mappings = self.catalog.mappings(system)
        now = datetime.now(UTC)
        return [RawMessage(system, mappings.message_id(e), e, received_at(e, now)) for e in envelopes]

    def record_groups(self, groups: list[list[RawMessage]]) -> list[RecordOutcome]:
        """Several callers' messages in one inbox transaction (``GroupCommit`` calls this)."""
        count = sum(len(g) for g in groups)
        with self.metrics.stage("receive", count):
            outcomes = self.inbox.record_groups(groups, self.refusals.write)
        for group, outcome in zip(groups, outcomes, strict=True):
            if group:
                self.metrics.received(group[0].system, outcome.stored, outcome.duplicates)
        return outcomes

    def refused(self, system: str, code: str) -> None:
        """A request refused at the door (a 4xx): a metric now, a durable count with the next
        inbox commit (``hub accounting``)."""
        self.metrics.refused(self.refusals.add(system, code), code)

    def record_failures(self, failures: list[Failure]) -> None:
        """Input that never became a message (an unreadable file line) goes to the dead letters."""
        with self.store.transaction() as cursor:
            self.dead_letters.add(cursor, failures)
        for failure in failures:
            self.metrics.dead_lettered(failure.system, failure.stage)

    def process(self, on_batch: Callable[[BatchReport], None] | None = None) -> BatchReport:
        """Bring processing, parked-message expiry and every projection (identity resolution
        first, for the customers) up to date: both stages, one after the other."""
        report = self.process_messages(on_batch)
        self.project()
        return report

    def process_messages(self, on_batch: Callable[[BatchReport], None] | None = None) -> BatchReport:
        """The processing stage: the inbox into events, order tracking (and every projection
        that is at the head) inline, parked messages that waited too long dead-lettered."""
        self.refusals.flush()  # refusals counted since the last inbox commit, if any
        report = self.processor.process_available(on_batch)
        report.dead_lettered += self.expire_parked()  # waited too long: dead letters of this run too
        self.metrics.inbox_backlog.set(self.processor.backlog())
        return report

    def project(self) -> int:
        """The projection stage: identity resolution on its own position, then every projection
        caught up to the head of the log. Returns the events applied."""
        return self.projector.catch_up()

    def expire_parked(self) -> int:
        """Dead-letter parked messages whose order never arrived within the configured time."""
        return self.parked.expire(timedelta(hours=self.settings.tracking.parked_timeout_hours))

    def close(self) -> None:
        self.group_commit.close()
        try:
            self.refusals.flush()
        finally:
            self.store.close()


def open_keys(settings: HubSettings) -> SubjectKeys:
    """The subject-key store; the embedded default makes its own KEK file when none is set."""
    url = settings.privacy.key_store_url or key_store_url(settings.database_url)
    fallback = None
    if url.startswith("sqlite:///") and not os.environ.get(settings.privacy.kek_env):
        fallback = Path(url.removeprefix("sqlite:///")).with_suffix(".kek")
    privacy = settings.privacy
    return open_subject_keys(
        url,
        privacy.kek_env,
        fallback,
        command=privacy.kek_command,
        kek_file=privacy.kek_file,
        previous_variable=privacy.previous_kek_env,
    )


def bootstrap(
    settings: HubSettings,
    *,
    database_url: str | None = None,
    mapping_folders: dict[str, Path] | None = None,
    metrics: HubMetrics | None = None,
) -> Hub:
    if database_url is not None:
        settings = settings.model_copy(update={"database_url": database_url})
    store = Store(settings.database_url, open_keys(settings))
    metrics = metrics or HubMetrics()
    catalog = MappingCatalog(settings, mapping_folders)
    planning = PlanningTables(store, settings.planning.policy())
    matching = settings.customers.matching
    identity = IdentityService(
        store,
        lambda system: settings.system(system).phone_region,
        matching.configure,
        metrics=metrics,
        train_after=matching.train_after,
    )
    customers = CustomerTables(store)
    # The projection stage: order tracking and planning follow the log; identity resolution is a
    # stage on its own position that records customer links, run just before the customer view.
    projector = Projector(
        store,
        metrics,
        [OrderTrackingTables(store, settings.tracking.tolerance()), planning, customers],
        feeds={customers.name: identity.follow},
    )
    projector.upgrade()
    # Embedded, processing keeps the projections current in its own transaction; distributed,
    # `hub project NAME` runners follow the log and workers must not contend for their rows.
    inline = projector if settings.transport == "inbox" else None
    batch_size = settings.batch_size if settings.transport == "inbox" else settings.streaming.batch_size
    processor = Processor(store, catalog, metrics, batch_size=batch_size, follower=inline)
    orders = OrderQueries(store, settings.tracking)
    history = History(store, orders)
    return Hub(
        settings=settings,
        store=store,
        metrics=metrics,
        catalog=catalog,
        inbox=processor.inbox,
        processor=processor,
        projector=projector,
        dead_letters=processor.dead_letters,
        replayer=DeadLetterReplay(
            store, catalog, processor.decider, processor.dead_letters, processor.parking
        ),
        parked=ParkedMessages(
            store, catalog, metrics, processor.inbox, processor.parking, processor.dead_letters
        ),
        orders=orders,
        history=history,
        plan=PlanQueries(store, planning, settings.planning),
        identity=identity,
        customers=CustomerQueries(store, customers, orders, history.as_of, settings.customers.rules()),
    )
