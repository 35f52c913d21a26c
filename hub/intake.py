"""Where adapters put what they read: the local inbox, or Kafka in distributed mode.

``Receive(system, envelopes, also)`` returns once the messages are safe (committed to the inbox,
or acknowledged by every Kafka replica), then — for the inbox in the same transaction — runs
``also``: an adapter's own progress (a cursor, a file's state) never gets ahead of its messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from hub.bootstrap import Hub
from hub.inbox import RecordOutcome

__all__ = ["Receive", "intake"]

Receive = Callable[..., RecordOutcome]  # (system, envelopes, also=None) -> RecordOutcome
Also = Callable[[Any], None]


@contextmanager
def intake(hub: Hub) -> Iterator[Receive]:
    if hub.settings.transport != "kafka":
        yield hub.receive
        return
    from hub.streaming.blocking import BlockingPublisher  # the streaming extra

    publisher = BlockingPublisher(hub)
    try:
        yield publisher.receive
    finally:
        publisher.close()
