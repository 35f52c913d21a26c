"""Processing in the background of a server process: woken by each stored message.

Failures are logged and retried on the next wake-up; a message-level failure never gets here
(it becomes a dead letter inside processing), so what reaches this loop is infrastructure trouble.
"""

from __future__ import annotations

import logging
import threading

from hub.bootstrap import Hub

__all__ = ["BackgroundProcessor"]

log = logging.getLogger(__name__)


class BackgroundProcessor:
    def __init__(self, hub: Hub, idle_seconds: float = 1.0) -> None:
        self.hub = hub
        self.idle_seconds = idle_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hub-processor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.idle_seconds)
            self._wake.clear()
            try:
                self.hub.process()
            except Exception:
                log.exception("processing failed; retrying on the next wake-up")
