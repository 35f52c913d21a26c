"""Audit by replay: any entity as of any instant, its history with provenance, field lineage.

Everything here is reconstructed from the event log — never from the read models — so it answers
"what did the hub know at that instant" (by recording time) even after views were rebuilt.
"""

from __future__ import annotations

import json
from dataclasses import fields as dataclass_fields
from dataclasses import is_dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aggregates import Order, SourceCustomer, customer_id
from hub.inbox import Inbox
from hub.order_tracking import OrderQueries
from hub.store import Store, recorded_by
from projections import apply_event, public_view

__all__ = ["EntityNotFound", "History", "parse_instant"]

_BOOKKEEPING = {"originator_id", "originator_version", "originator_topic", "timestamp", "provenance"}


class EntityNotFound(LookupError):
    """The entity named on the command line or in the URL does not exist (the message says why)."""


def parse_instant(text: str) -> datetime:
    """ISO 8601; a time without zone is UTC, a bare date means the end of that day (UTC)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time (e.g. 2026-11-22T10:00:00Z)") from None
    if len(text) == 10:  # a date: everything recorded on it
        moment = moment.replace(hour=23, minute=59, second=59, microsecond=999_999)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class History:
    def __init__(self, store: Store, orders: OrderQueries) -> None:
        self.store, self.orders = store, orders

    # -- naming entities ----------------------------------------------------------------------

    def resolve(self, entity: str, system: str | None = None) -> UUID:
        """``order:REF`` (or a bare order reference/alias), ``customer:SYSTEM:REF``, or an id."""
        kind, _, rest = entity.partition(":")
        if kind == "customer":
            customer_system, _, ref = rest.partition(":")
            if not customer_system or not ref:
                raise EntityNotFound(f"{entity!r}: write a customer as customer:SYSTEM:REF")
            key = customer_id(customer_system, ref)
        elif kind == "order":
            key = self._order(rest, system)
        else:
            key = self._id_or_order(entity, system)
        if not self.store.exists(key):
            raise EntityNotFound(f"{entity!r}: the log holds no events of {key}")
        return key

    def _id_or_order(self, text: str, system: str | None) -> UUID:
        """An id when the log has that aggregate; otherwise an order reference — also one that
        reads as a UUID (a marketplace's 32 hex digits)."""
        try:
            key = UUID(text)
        except ValueError:
            return self._order(text, system)
        if self.store.exists(key) or self.orders.order_id(text, system) is None:
            return key
        return self._order(text, system)

    def resolve_customer(self, text: str) -> UUID:
        """A customer as ``SYSTEM:REF`` (how people name one), ``customer:SYSTEM:REF`` or an id."""
        return self.resolve(text if text.count(":") != 1 else f"customer:{text}")

    def _order(self, ref: str, system: str | None) -> UUID:
        found = self.orders.order_id(ref, system)
        if found is None:
            raise EntityNotFound(f"no order with reference or alias {ref!r}")
        return found

    # -- replay ---------------------------------------------------------------------------------

    def events(self, aggregate_id: UUID, until: datetime | None = None) -> list[Any]:
        events = self.store.events_of([aggregate_id]).get(aggregate_id, [])
        return recorded_by(events, until)

    def as_of(self, aggregate_id: UUID, at: datetime) -> dict[str, Any] | None:
        """The entity as the hub knew it at ``at``; None if it did not exist yet."""
        return self._view(self.events(aggregate_id, at), at)

    def _view(self, events: list[Any], at: datetime) -> dict[str, Any] | None:
        if not events:
            return None
        if isinstance(events[0], Order.Placed):
            tracked = None
            for event in events:
                tracked = apply_event(tracked, event, self.orders.tolerance)
            assert tracked is not None
            return public_view(tracked.to_document(), self.orders.thresholds, at, self.orders.tolerance)
        aggregate: Any = None
        for event in events:
            aggregate = event.mutate(aggregate)
        if isinstance(aggregate, SourceCustomer):
            return {
                "customer_id": str(aggregate.id),
                "system": aggregate.system,
                "customer_ref": aggregate.customer_ref,
                "fields": aggregate.fields,
                "source_updated_at": aggregate.as_of,
                "version": aggregate.version,
            }
        state = {k.lstrip("_"): v for k, v in vars(aggregate).items() if k != "_pending_events"}
        return json.loads(json.dumps(state, default=str))

    # -- history and lineage ----------------------------------------------------------------

    def entries(self, aggregate_id: UUID, raw: bool = False) -> list[dict[str, Any]]:
        """Every event of the entity, oldest first, with its provenance (and source message)."""
        found = []
        for event in self.events(aggregate_id):
            provenance = getattr(event, "provenance", None) or {}
            entry = {
                "version": event.originator_version,
                "event": type(event).__qualname__,
                "recorded_at": event.timestamp.isoformat(),
                "system": provenance.get("system"),
                "message_id": provenance.get("message_id"),
                "received_at": provenance.get("received_at"),
                "mapping": provenance.get("mapping"),
                "notes": provenance.get("notes", []),  # values a lenient field could not read
                "data": _data(event),
            }
            if raw:
                entry["source_message"] = self._raw(provenance.get("system"), provenance.get("message_id"))
            found.append(entry)
        return found

    def _raw(self, system: str | None, message_id: str | None) -> Any:
        return Inbox(self.store).envelope(system, message_id)

    def lineage(self, aggregate_id: UUID, path: str) -> list[dict[str, Any]]:
        """Each change of one field (dotted path into the entity's view): from what, to what, and
        which message did it."""
        events = self.events(aggregate_id)
        changes = []
        before: Any = _MISSING
        for index, event in enumerate(events):
            view = self._view(events[: index + 1], event.timestamp)
            value = _dig(view, path)
            if value != before and not (before is _MISSING and value is _MISSING):
                provenance = getattr(event, "provenance", None) or {}
                changes.append(
                    {
                        "version": event.originator_version,
                        "event": type(event).__qualname__,
                        "recorded_at": event.timestamp.isoformat(),
                        "before": None if before is _MISSING else before,
                        "after": None if value is _MISSING else value,
                        "system": provenance.get("system"),
                        "message_id": provenance.get("message_id"),
                        "mapping": provenance.get("mapping"),
                    }
                )
            before = value
        if not changes:
            known = ", ".join(sorted((self._view(events, events[-1].timestamp) or {}).keys()))
            raise EntityNotFound(f"field {path!r} never had a value; top-level fields: {known}")
        return changes


_MISSING: Any = object()


def _dig(view: Any, path: str) -> Any:
    value = view
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _data(event: Any) -> dict[str, Any]:
    names: list[str] = [f.name for f in dataclass_fields(event)] if is_dataclass(event) else list(vars(event))
    data = {name: getattr(event, name) for name in names if name not in _BOOKKEEPING}
    return json.loads(json.dumps(data, default=str))
