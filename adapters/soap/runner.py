"""SOAP sources inside ``hub run``: each source polled on its interval, then its outbound sync.

One thread per source, so a slow or unreachable ERP delays nobody else; a poll's messages are
processed by the hub's background processor, woken after every poll that stored something.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from adapters.soap.client import SoapClient
from adapters.soap.outbound import OutboundSyncer
from adapters.soap.poller import SoapPoller
from hub.bootstrap import Hub
from hub.intake import Receive, intake

__all__ = ["SoapRunner", "outbound_syncers", "receiving", "soap_pollers"]

log = logging.getLogger(__name__)


@contextmanager
def receiving(hub: Hub) -> Iterator[Receive]:
    """The hub's intake for SOAP sources; no Kafka connection where no source is configured."""
    if not any(c.adapter == "soap" for c in hub.settings.systems.values()):
        yield hub.receive
        return
    with intake(hub) as receive:
        yield receive


def soap_pollers(hub: Hub, receive: Receive | None = None) -> dict[str, SoapPoller]:
    """A poller for every system configured with ``adapter = "soap"``."""
    return {
        name: SoapPoller(hub, name, config.soap, receive=receive)
        for name, config in hub.settings.systems.items()
        if config.adapter == "soap" and config.soap is not None
    }


def outbound_syncers(
    hub: Hub, pollers: dict[str, SoapPoller] | None = None, receive: Receive | None = None
) -> dict[str, OutboundSyncer]:
    """An outbound sync for every SOAP system with an ``[outbound]`` table (enabled or not)."""
    syncers = {}
    for name, config in hub.settings.systems.items():
        if config.outbound is None or config.soap is None:
            continue
        client = pollers[name].client if pollers and name in pollers else SoapClient(name, config.soap)
        syncers[name] = OutboundSyncer(hub, name, config.outbound, config.soap, client, receive)
    return syncers


class SoapRunner:
    def __init__(
        self, hub: Hub, on_stored: Callable[[], None] | None = None, receive: Receive | None = None
    ) -> None:
        self.hub, self.on_stored = hub, on_stored
        self.pollers = soap_pollers(hub, receive)
        self.syncers = outbound_syncers(hub, self.pollers, receive)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for name in sorted(set(self.pollers) | set(self.syncers)):
            thread = threading.Thread(target=self._loop, args=(name,), name=f"soap-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _loop(self, name: str) -> None:
        source = self.hub.settings.systems[name].soap
        assert source is not None
        while not self._stop.is_set():
            try:
                self.round(name)
            except Exception:  # a bug must not end the loop silently: log it, try next round
                log.exception("SOAP source %s: round failed", name)
            self._stop.wait(source.poll_interval_seconds)

    def round(self, name: str) -> None:
        """One poll of every entity, then one outbound round."""
        poller, syncer = self.pollers.get(name), self.syncers.get(name)
        if poller is not None:
            reports = poller.poll()
            for report in reports:
                if report.error:
                    log.warning("SOAP source %s/%s: %s", name, report.entity, report.error)
            if any(r.stored for r in reports) and self.on_stored is not None:
                self.on_stored()
        if syncer is not None:
            outcome = syncer.run_once()
            if outcome.error:
                log.warning("outbound to %s: %s", name, outcome.error)
            if (outcome.created or outcome.found or outcome.rejected) and self.on_stored is not None:
                self.on_stored()
