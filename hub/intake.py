"""Where adapters put what they read: the local inbox, or Kafka in distributed mode.

``Receive(system, envelopes, also)`` returns once the messages are safe (committed to the inbox,
or acknowledged by every Kafka replica), then — for the inbox in the same transaction — runs
``also``: an adapter's own progress (a cursor, a file's state) never gets ahead of its messages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hub.bootstrap import Hub
from hub.ports import Receive

__all__ = ["intake", "receiving"]


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


@contextmanager
def receiving(hub: Hub) -> Iterator[Receive]:
    """The intake for polled sources (SOAP); no Kafka connection where none is configured."""
    if not any(c.adapter == "soap" for c in hub.settings.systems.values()):
        yield hub.receive
        return
    with intake(hub) as receive:
        yield receive
