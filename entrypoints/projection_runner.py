"""``hub project NAME``: one projection followed by its own process, woken by the log.

With PostgreSQL the runner LISTENs for the notification eventsourcing sends on every insert and
polls only as a fallback; it reports its lag to Prometheus and its progress as a heartbeat, so a
runner whose lag grows while its position stands still shows as stalled.
"""

from __future__ import annotations

import logging
import threading
import time

from hub.bootstrap import Hub
from hub.health import Heartbeat

__all__ = ["ProjectionRunner"]

log = logging.getLogger(__name__)


class ProjectionRunner:
    def __init__(self, hub: Hub, name: str) -> None:
        hub.projector.get(name)  # unknown names fail here, before anything runs
        self.hub, self.name = hub, name
        self.heartbeat = Heartbeat(hub.store, f"projection:{name}", "projection")
        self.applied = 0

    def lag(self) -> tuple[int, int]:
        """(position, events behind the head of the log)."""
        for entry in self.hub.projector.status():
            if entry["name"] == self.name:
                return entry["position"], entry["lag"]
        raise KeyError(self.name)

    def step(self) -> int:
        applied = self.hub.projector.follow(self.name)
        self.applied += applied
        return applied

    def beat(self) -> None:
        position, lag = self.lag()
        self.hub.metrics.projection_lag.labels(self.name).set(lag)
        self.heartbeat.beat(position, lag, {"applied": self.applied})

    def run(self, stop: threading.Event, wait_seconds: float = 1.0) -> None:
        """Follow the log until ``stop`` is set; a failure is logged and retried.

        The heartbeat goes on while steps fail, so a runner that cannot apply an event shows as
        stalled (lag, no progress) rather than disappearing.
        """
        with self.hub.store.change_waiter() as wait:
            last_beat = 0.0
            while not stop.is_set():
                failed = False
                try:
                    applied = self.step()
                except Exception:
                    log.exception("projection %s failed; retrying", self.name)
                    applied, failed = 0, True
                if time.monotonic() - last_beat >= 1.0:
                    try:
                        self.beat()
                        last_beat = time.monotonic()
                    except Exception:
                        log.exception("projection %s could not report its heartbeat", self.name)
                if failed:
                    stop.wait(wait_seconds)
                elif not applied:
                    wait(wait_seconds)
