"""Provenance: where a domain event came from, carried by every event for lineage and audit."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

__all__ = ["Provenance"]


class Provenance(TypedDict):
    """The source message behind an event: enough to find it again in the inbox."""

    system: str
    message_id: str
    received_at: str
    mapping: str
    # Values lenient mapping fields could not read: {field, path, value, reason} each (only when any).
    notes: NotRequired[list[dict[str, Any]]]
