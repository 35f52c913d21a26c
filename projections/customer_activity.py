"""A customer's interactions and service cases as the 360 view shows them (pure).

Definitions, documented in the README: a case is *open* until its status is resolved or closed;
*escalated* once escalated and not closed since; a *complaint* is a case of kind complaint. The
service flags feed the risk side of the view: open complaints and escalations are what an agent
must know before saying anything else on the phone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from aggregates import CLOSED_STATUSES

__all__ = ["case_view", "interaction_view", "service_summary"]


def interaction_view(system: str, ref: str, customer: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {"system": system, "interaction_id": ref, "record": customer, **fields}


def case_view(
    system: str, ref: str, customer: str, fields: Mapping[str, Any], history: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The case now and how it got there (one entry per recorded transition)."""
    return {
        "system": system,
        "case_ref": ref,
        "record": customer,
        **fields,
        "open": fields.get("status") not in CLOSED_STATUSES,
        "history": list(history),
    }


def service_summary(
    interactions: Sequence[Mapping[str, Any]], cases: Sequence[Mapping[str, Any]], now: datetime
) -> dict[str, Any]:
    year_ago = (now - timedelta(days=365)).isoformat()
    open_cases = [c for c in cases if c["open"]]
    flags = []
    if any(c.get("kind") == "complaint" for c in open_cases):
        flags.append("open_complaint")
    if any(c.get("escalated") or c.get("status") == "escalated" for c in open_cases):
        flags.append("escalated_case")
    channels: dict[str, int] = {}
    for item in interactions:
        channels[item["channel"]] = channels.get(item["channel"], 0) + 1
    return {
        "interactions": len(interactions),
        "last_interaction": max((i["occurred_at"] for i in interactions), default=None),
        "interaction_channels": dict(sorted(channels.items())),
        "open_cases": len(open_cases),
        "complaints_last_year": sum(
            1 for c in cases if c.get("kind") == "complaint" and str(c.get("opened_at", "")) >= year_ago
        ),
        "service_flags": flags,
    }
