"""Background work on an interval (polling a source, scanning a folder) that a bug cannot end."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["Periodic"]

log = logging.getLogger(__name__)


class Periodic:
    """Runs ``work`` every ``interval`` seconds in a daemon thread until ``stop``."""

    def __init__(self, name: str, interval: float, work: Callable[[], None]) -> None:
        self.name, self.interval, self.work = name, interval, work
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.work()
            except Exception:  # logged with its traceback; the next round tries again
                log.exception("%s: round failed", self.name)
            self._stop.wait(self.interval)
