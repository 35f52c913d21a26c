"""Log lines that repeat while a dependency is away, one of each per window.

A Kafka client that cannot reach its broker logs the same three errors ten times a second
(aiokafka's reconnect loop): a broker restart of a few seconds wrote hundreds of lines and
buried whatever else happened. The first line of each kind goes out; the repeats within the
window are counted and named on the next line of that kind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["RepeatedMessages", "quiet_client_libraries"]

CLIENT_LOGGERS = ("aiokafka", "kafka")


class RepeatedMessages(logging.Filter):
    def __init__(
        self,
        window_seconds: float = 10.0,
        kinds_kept: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.window, self.kinds_kept, self.clock = window_seconds, kinds_kept, clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))  # the template: repeats differ only in their arguments
        now = self.clock()
        shown = self._seen.get(key)
        if shown is not None and now - shown[0] < self.window:
            self._seen[key] = (shown[0], shown[1] + 1)
            return False
        if shown is not None and shown[1]:
            record.msg = f"{record.msg} [{shown[1]} more like this in the {self.window:g} s before]"
        if len(self._seen) >= self.kinds_kept:
            self._seen.clear()
        self._seen[key] = (now, 0)
        return True


def quiet_client_libraries(window_seconds: float = 10.0) -> RepeatedMessages:
    """Put one ``RepeatedMessages`` on every logger of the Kafka client libraries (a filter on
    a logger does not reach its children, so each is given it)."""
    repeated = RepeatedMessages(window_seconds)
    names = [name for name in list(logging.root.manager.loggerDict) if name.split(".")[0] in CLIENT_LOGGERS]
    for name in {*names, *CLIENT_LOGGERS}:
        logging.getLogger(name).addFilter(repeated)
    return repeated
