"""SOAP sources inside ``hub run``: each source polled on its interval, then its outbound paths.

One thread per source, so a slow or unreachable ERP delays nobody else; a poll's messages are
processed by the hub's background processor, woken after every poll that stored something.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from adapters.soap.client import SoapClient
from adapters.soap.outbound import OutboundSyncer
from adapters.soap.planned import PlannedOrderPush
from adapters.soap.poller import SoapPoller
from adapters.soap.settings import SoapSource, soap_tables
from hub.periodic import Periodic
from hub.ports import AdapterPorts, Receive

__all__ = ["SoapRunner", "outbound_syncers", "planned_pushers", "soap_pollers"]

log = logging.getLogger(__name__)
Sender = TypeVar("Sender", bound=OutboundSyncer)


def soap_pollers(ports: AdapterPorts, receive: Receive | None = None) -> dict[str, SoapPoller]:
    """A poller for every system configured with ``adapter = "soap"``."""
    return {
        name: SoapPoller(ports, name, source, receive=receive)
        for name, config in ports.settings.systems.items()
        if config.adapter == "soap" and (source := soap_tables(config).soap) is not None
    }


def outbound_syncers(
    ports: AdapterPorts, pollers: dict[str, SoapPoller] | None = None, receive: Receive | None = None
) -> dict[str, OutboundSyncer]:
    """An outbound sync for every SOAP system with an ``[outbound]`` table (enabled or not)."""
    return _senders(OutboundSyncer, "outbound", ports, pollers, receive)


def planned_pushers(
    ports: AdapterPorts, pollers: dict[str, SoapPoller] | None = None, receive: Receive | None = None
) -> dict[str, PlannedOrderPush]:
    """A planned-order push for every SOAP system with a ``[planned_orders]`` table."""
    return _senders(PlannedOrderPush, "planned_orders", ports, pollers, receive)


def _senders(
    kind: type[Sender],
    table: str,
    ports: AdapterPorts,
    pollers: dict[str, SoapPoller] | None,
    receive: Receive | None,
) -> dict[str, Sender]:
    """One sender per SOAP system with that table, sharing the poller's client where there is one."""
    senders = {}
    for name, config in ports.settings.systems.items():
        tables = soap_tables(config)
        settings = getattr(tables, table)
        if settings is None or tables.soap is None:
            continue
        client = pollers[name].client if pollers and name in pollers else SoapClient(name, tables.soap)
        senders[name] = kind(ports, name, settings, tables.soap, client, receive)
    return senders


class SoapRunner:
    def __init__(
        self, ports: AdapterPorts, on_stored: Callable[[], None] | None = None, receive: Receive | None = None
    ) -> None:
        self.ports, self.on_stored = ports, on_stored
        self.pollers = soap_pollers(ports, receive)
        self.syncers = outbound_syncers(ports, self.pollers, receive)
        self.pushers = planned_pushers(ports, self.pollers, receive)
        self._loops = [
            Periodic(
                f"soap-{name}", self._source(name).poll_interval_seconds, lambda name=name: self.round(name)
            )
            for name in sorted(set(self.pollers) | set(self.syncers) | set(self.pushers))
        ]

    def _source(self, name: str) -> SoapSource:
        source = soap_tables(self.ports.settings.systems[name]).soap
        assert source is not None  # a runner loops only over systems with a [soap] table
        return source

    def start(self) -> None:
        for loop in self._loops:
            loop.start()

    def stop(self) -> None:
        for loop in self._loops:
            loop.stop()

    def round(self, name: str) -> None:
        """One poll of every entity, then one round of each outbound path."""
        poller = self.pollers.get(name)
        if poller is not None:
            reports = poller.poll()
            for report in reports:
                if report.error:
                    log.warning("SOAP source %s/%s: %s", name, report.entity, report.error)
            if any(r.stored for r in reports) and self.on_stored is not None:
                self.on_stored()
        for sender in (self.syncers.get(name), self.pushers.get(name)):
            if sender is None:
                continue
            outcome = sender.run_once()
            if outcome.error:
                log.warning("%s to %s: %s", sender.config_key, name, outcome.error)
            if (outcome.created or outcome.found or outcome.rejected) and self.on_stored is not None:
                self.on_stored()
