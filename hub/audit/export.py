"""``hub audit export``: events with their chain links, for an auditor to verify offline
(``python -m hub.audit.offline``; the procedure is in docs/AUDIT.md)."""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any
from uuid import UUID

from hub.audit.offline import CSV_COLUMNS
from hub.audit.verify import chained_events, checkpoint
from hub.store import Store

__all__ = ["Selection", "export"]


@dataclass(frozen=True)
class Selection:
    aggregate_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def complete(self) -> bool:
        """The whole log: the verifier can then also check the chain's continuity."""
        return self.aggregate_id is None and self.since is None and self.until is None

    def wants(self, aggregate_id: UUID, recorded: datetime) -> bool:
        return (
            (self.aggregate_id is None or aggregate_id == self.aggregate_id)
            and (self.since is None or recorded >= self.since)
            and (self.until is None or recorded <= self.until)
        )


def export(
    store: Store, selection: Selection, fmt: str, out: IO[str], on_event: Callable[[], None] | None = None
) -> int:
    """Write the selected events; returns how many. Raises ValueError if the chain is broken."""
    head = checkpoint(store)
    header = {
        "kind": "header",
        "format": "hub-audit-export/1",
        "exported_at": datetime.now(UTC).isoformat(),
        "complete": selection.complete,
        "selection": {
            "aggregate_id": str(selection.aggregate_id) if selection.aggregate_id else None,
            "since": selection.since.isoformat() if selection.since else None,
            "until": selection.until.isoformat() if selection.until else None,
        },
        "head": {"position": head.position, "link": head.link},
    }
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(CSV_COLUMNS)
        writer.writerow(["#header", json.dumps(header), *[""] * (len(CSV_COLUMNS) - 2)])
    else:
        out.write(json.dumps(header) + "\n")
    written = 0
    for position, originator, version, topic, state, previous, own in chained_events(store):
        if position > head.position:
            break  # recorded after the header's head: the next export's
        event = store.decode_row(originator, version, topic, state)
        if not selection.wants(originator, event.timestamp):
            continue
        row: dict[str, Any] = {
            "position": position,
            "aggregate_id": str(originator),
            "version": version,
            "topic": topic,
            "state_b64": base64.b64encode(state).decode(),
            "previous_link": previous.hex(),
            "link": own.hex(),
            "recorded_at": event.timestamp.isoformat(),
            "event": json.dumps(_readable(event), default=str),
        }
        if writer is not None:
            writer.writerow([row[c] for c in CSV_COLUMNS])
        else:
            out.write(json.dumps({"kind": "event", **row}) + "\n")
        written += 1
        if on_event is not None:
            on_event()
    return written


def _readable(event: Any) -> dict[str, Any]:
    """The event as a person reads it (the verifier uses the stored bytes, not this)."""
    return {"type": type(event).__qualname__, **{k: v for k, v in vars(event).items() if k != "timestamp"}}
