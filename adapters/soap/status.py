"""What each SOAP source is doing: per entity its cursor, last success and last error, and the
source's circuit — one shape for ``hub adapters status`` and the ``/health`` endpoint."""

from __future__ import annotations

from typing import Any

from adapters.soap.state import CIRCUIT, AdapterState
from hub.bootstrap import Hub

__all__ = ["soap_status"]


def _failing(state: Any) -> bool:
    return bool(state.last_error_at) and (state.last_success_at or "") < state.last_error_at


def soap_status(hub: Hub) -> list[dict[str, Any]]:
    states = AdapterState(hub.store)
    found = []
    for name, config in sorted(hub.settings.systems.items()):
        if config.adapter != "soap" or config.soap is None:
            continue
        circuit = states.load(name, CIRCUIT)
        entities = []
        for entity in config.soap.entities:
            state = states.load(name, entity)
            entities.append(
                {
                    "entity": entity,
                    "operation": config.soap.entities[entity].operation,
                    "cursor": state.cursor,
                    "records": state.records,
                    "polls": state.polls,
                    "last_success_at": state.last_success_at,
                    "last_error": state.last_error,
                    "last_error_at": state.last_error_at,
                    "failing": _failing(state),
                }
            )
        if circuit.circuit == "open":
            status, detail = "down", f"circuit open since {circuit.opened_at}: {circuit.last_error}"
        elif any(e["failing"] for e in entities):
            failing = [e["entity"] for e in entities if e["failing"]]
            status, detail = "degraded", f"last poll failed for {', '.join(failing)}"
        else:
            status, detail = "ok", ""
        found.append(
            {
                "name": f"soap:{name}",
                "adapter": "soap",
                "system": name,
                "status": status,
                "detail": detail,
                "circuit": circuit.circuit,
                "circuit_opened_at": circuit.opened_at,
                "failures_in_a_row": circuit.failures,
                "wsdl": config.soap.wsdl,
                "entities": entities,
            }
        )
    return found
