"""What an adapter is given of the hub, and all it is given.

Adapters read sources and write to them; they never process, project or answer queries for
the hub. The composition root builds these ports (``Hub.ports``); an adapter that needs
something more gets one more narrow port here, not the whole hub.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.dead_letters import Failure
from hub.inbox import RecordOutcome
from hub.settings import HubSettings
from hub.store import Store

if TYPE_CHECKING:
    from hub.planning.queries import PlanQueries

__all__ = ["AdapterPorts", "Receive", "Submit"]

Receive = Callable[..., RecordOutcome]  # (system, envelopes, also=None) -> RecordOutcome
Submit = Callable[[str, list[dict[str, Any]]], Future[RecordOutcome]]


@dataclass(frozen=True)
class AdapterPorts:
    settings: HubSettings  # read, never changed
    store: Store  # the log (an outbound sync follows it) and the adapter's own state tables
    receive: Receive  # messages in: returns once committed, with ``also`` in the same transaction
    submit: Submit  # webhooks: stored in one commit with other requests', resolved after it
    reject: Callable[[list[Failure]], None]  # input that never became a message: dead letters
    refused: Callable[[str, str], None]  # a request refused, by system and reason code (a metric)
    plan: PlanQueries  # planning's buffers and recommendations (the planned-order push)
