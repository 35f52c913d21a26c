"""Publishing raw messages from threads that are not asyncio code (polling adapters).

Its own event loop runs in a background thread; ``receive`` has the same meaning as
``Hub.receive``: it returns once the broker has every message, then writes the adapter's
progress (``also``). A crash in between re-reads the page and publishes it again — the worker
stores each message id once, so a repeat costs a little work and changes nothing.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from hub.bootstrap import Hub
from hub.inbox import RecordOutcome
from hub.streaming.publisher import RawPublisher

__all__ = ["BlockingPublisher"]

T = TypeVar("T")


class BlockingPublisher:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kafka-publisher", daemon=True)
        self._thread.start()
        self._publisher = RawPublisher(hub.settings, hub.catalog, hub.metrics)
        self._run(self._publisher.start())

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def receive(
        self, system: str, envelopes: list[dict[str, Any]], also: Callable[[Any], None] | None = None
    ) -> RecordOutcome:
        outcome = self._run(self._publisher.publish(system, envelopes)) if envelopes else RecordOutcome(0, 0)
        if also is not None:
            with self.hub.store.transaction() as cursor:
                also(cursor)
        return outcome

    def close(self) -> None:
        self._run(self._publisher.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
