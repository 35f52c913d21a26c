"""What each SOAP source is doing: per entity its cursor, last success and last error, and the
source's circuit — one shape for ``hub adapters status`` and the ``/health`` endpoint.

Sources are those configured, and those the database holds state for although this hub's
configuration does not name them (the demo's ERP, a source since removed): their last known
state is still worth seeing.
"""

from __future__ import annotations

from typing import Any

from adapters.soap.settings import soap_tables
from adapters.soap.state import CIRCUIT, AdapterState, EntityState
from hub.ports import AdapterPorts

__all__ = ["soap_status"]


def _failing(state: EntityState) -> bool:
    return bool(state.last_error_at) and (state.last_success_at or "") < state.last_error_at


def soap_status(ports: AdapterPorts) -> list[dict[str, Any]]:
    states = AdapterState(ports.store)
    configured = {
        name: source
        for name, config in ports.settings.systems.items()
        if config.adapter == "soap" and (source := soap_tables(config).soap) is not None
    }
    recorded: dict[str, list[str]] = {}
    for system, entity in states.recorded():
        if not entity.startswith("*"):  # a source's own rows: circuit, leases
            recorded.setdefault(system, []).append(entity)
    found = []
    for name in sorted(set(configured) | set(recorded)):
        source = configured.get(name)
        operations = {e: c.operation for e, c in source.entities.items()} if source else {}
        circuit = states.load(name, CIRCUIT)
        entities = []
        for entity in operations or recorded[name]:
            state = states.load(name, entity)
            entities.append(
                {
                    "entity": entity,
                    "operation": operations.get(entity),
                    "cursor": state.cursor,
                    "records": state.records,
                    "polls": state.polls,
                    "last_success_at": state.last_success_at,
                    "last_error": state.last_error,
                    "last_error_at": state.last_error_at,
                    "failing": _failing(state),
                }
            )
        if source is None:
            status, detail = "unconfigured", "not in this configuration; state recorded by an earlier run"
        elif circuit.circuit == "open":
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
                "wsdl": source.wsdl if source else None,
                "entities": entities,
            }
        )
    return found
