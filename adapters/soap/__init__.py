"""SOAP sources (legacy ERPs): WSDL-driven polling into the inbox, and outbound order creation."""

from __future__ import annotations

from adapters.soap.client import SoapCallFailed, SoapClient
from adapters.soap.outbound import OutboundReport, OutboundSyncer
from adapters.soap.planned import PlannedOrderPush
from adapters.soap.poller import PollReport, SoapPoller
from adapters.soap.runner import SoapRunner, outbound_syncers, planned_pushers, soap_pollers
from adapters.soap.state import AdapterState

__all__ = [
    "AdapterState",
    "OutboundReport",
    "OutboundSyncer",
    "PlannedOrderPush",
    "PollReport",
    "SoapCallFailed",
    "SoapClient",
    "SoapPoller",
    "SoapRunner",
    "outbound_syncers",
    "planned_pushers",
    "soap_pollers",
]
