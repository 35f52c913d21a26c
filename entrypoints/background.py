"""Processing in the background of a server process, as two stages on two threads.

The processing thread is woken by each stored message: it turns the inbox into events and
follows order tracking inline, so an order is visible as soon as its batch commits. The
projection thread is woken by the processing thread: identity resolution and the projections
that did not follow inline catch up there, so order tracking never waits for them.

Failures are logged and retried on the next wake-up; a message-level failure never gets here
(it becomes a dead letter inside processing), so what reaches these loops is infrastructure
trouble.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from eventsourcing.persistence import PersistenceError

from hub.bootstrap import Hub
from hub.processing import BatchReport

__all__ = ["BackgroundProcessor"]

log = logging.getLogger(__name__)


class BackgroundProcessor:
    def __init__(
        self,
        hub: Hub,
        idle_seconds: float = 1.0,
        on_batch: Callable[[BatchReport], None] | None = None,
    ) -> None:
        """``on_batch``: told of each processed batch after its commit (the benchmark's clock)."""
        self.hub = hub
        self.idle_seconds = idle_seconds
        self.on_batch = on_batch
        self._stop = threading.Event()
        failed = hub.metrics.database_failed
        self._process = _Stage("hub-processor", self._stop, idle_seconds, self._process_messages, failed)
        self._project = _Stage("hub-projector", self._stop, idle_seconds, self._catch_up, failed)

    def start(self) -> None:
        self._process.thread.start()
        self._project.thread.start()

    def wake(self) -> None:
        self._process.wake.set()

    def stop(self) -> None:
        self._stop.set()
        for stage in (self._process, self._project):
            stage.wake.set()
        for stage in (self._process, self._project):
            if stage.thread.is_alive():
                stage.thread.join(timeout=30)

    def _process_messages(self) -> bool:
        report = self.hub.process_messages(self.on_batch)
        if report.messages or report.dead_lettered:
            self._project.wake.set()
        return False  # woken by the next stored message (or the idle timeout)

    def _catch_up(self) -> bool:
        return self.hub.project() > 0  # applied something: look again before sleeping


class _Stage:
    """One loop on its own thread: run ``step`` when woken (or every ``idle_seconds``), at once
    again while it reports more work."""

    def __init__(
        self,
        name: str,
        stop: threading.Event,
        idle_seconds: float,
        step: Callable[[], bool],
        database_failed: Callable[[str], None],
    ) -> None:
        self.name, self.stop, self.idle_seconds, self.step = name, stop, idle_seconds, step
        self.database_failed = database_failed
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def _loop(self) -> None:
        busy = False
        while not self.stop.is_set():
            if not busy:
                self.wake.wait(self.idle_seconds)
            self.wake.clear()
            try:
                busy = self.step()
            except PersistenceError as error:  # a database outage: one line per attempt, no trace
                busy = False
                log.warning("%s: the database failed (%s); retrying on the next wake-up", self.name, error)
                self.database_failed(self.name)
            except Exception:
                busy = False
                log.exception("%s failed; retrying on the next wake-up", self.name)
