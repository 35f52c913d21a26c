"""EDI messages as documents the mappings can read: segments grouped into their loops.

A document is ``{"standard", "type", "version", "control", "sender", "receiver", "interchange",
"header": {TAG: [occurrence, …]}, "lines": [{TAG: [occurrence, …]}, …], "trailer": {…}}``; an
occurrence is the segment's elements (0-based: X12's BEG03 is ``BEG[0][2]``): in X12 each a string
(a list where it has components), in EDIFACT always the list of its components (``QTY+21:2`` is
``QTY[0][0] == ['21', '2']``, ``RFF+ON:123`` is ``RFF[0][0][1] == '123'``).

Advance ship notices describe one shipment for possibly several orders, while a shipment update
belongs to one order: X12 856 is split per order level (HL …*O) and EDIFACT DESADV per order
reference of its lines, each part carrying the shipment's own header.
"""

from __future__ import annotations

from typing import Any

from adapters.edi.syntax import Message, Segment

__all__ = ["documents"]

# Per message type: the segment that opens a line, the segments that close the line section.
_LINES = {
    ("x12", "850"): ("PO1", {"CTT", "AMT", "SE"}),
    ("x12", "940"): ("LX", {"W76", "SE"}),
    ("edifact", "ORDERS"): ("LIN", {"UNS", "UNT"}),
    ("edifact", "DESADV"): ("LIN", {"UNS", "UNT"}),
}
_ENVELOPE = {"ST", "SE", "UNH", "UNT"}


def _table(segments: list[Segment], composite: bool) -> dict[str, list[list[Any]]]:
    """Segments by tag; ``composite``: keep every element as its list of components (EDIFACT)."""
    table: dict[str, list[list[Any]]] = {}
    for segment in segments:
        if segment.tag in _ENVELOPE:
            continue
        values = [e if composite or len(e) > 1 else e[0] for e in segment.elements]
        table.setdefault(segment.tag, []).append(values)
    return table


def _base(message: Message) -> dict[str, Any]:
    return {
        "standard": message.standard,
        "type": message.type,
        "version": message.version,
        "control": message.control,
        "sender": message.sender,
        "receiver": message.receiver,
        "interchange": message.interchange,
    }


def _sections(
    message: Message, opener: str, closers: set[str]
) -> tuple[list[Segment], list[list[Segment]], list[Segment]]:
    header: list[Segment] = []
    lines: list[list[Segment]] = []
    trailer: list[Segment] = []
    for segment in message.segments:
        if segment.tag == opener:
            lines.append([segment])
        elif (segment.tag in closers and lines) or trailer:
            trailer.append(segment)
        elif lines:
            lines[-1].append(segment)
        else:
            header.append(segment)
    return header, lines, trailer


def documents(message: Message) -> list[dict[str, Any]]:
    """The document(s) of one message (several for a ship notice covering several orders)."""
    composite = message.standard == "edifact"
    if (message.standard, message.type) == ("x12", "856"):
        return _ship_notice(message)
    opener, closers = _LINES.get((message.standard, message.type), ("", set()))
    header, lines, trailer = _sections(message, opener, closers)
    document = {
        **_base(message),
        "header": _table(header, composite),
        "lines": [_table(line, composite) for line in lines],
        "trailer": _table(trailer, composite),
    }
    if (message.standard, message.type) == ("edifact", "DESADV"):
        return _per_order(document)
    return [document]


def _ship_notice(message: Message) -> list[dict[str, Any]]:
    """X12 856: the HL tree (shipment → order → pack → item), one document per order."""
    composite = False
    levels: dict[str, tuple[str, str, list[Segment]]] = {}  # HL id -> (parent, level code, segments)
    order: list[str] = []
    current: list[Segment] | None = None
    for segment in message.segments:
        if segment.tag == "HL":
            current = [segment]
            levels[segment.element(1)] = (segment.element(2), segment.element(3), current)
            order.append(segment.element(1))
        elif current is not None and segment.tag not in _ENVELOPE:
            current.append(segment)
    header = [s for s in message.segments if s.tag not in _ENVELOPE and s.tag != "HL"][:1]  # BSN

    def ancestor(node: str, level: str) -> str | None:
        while node in levels:
            if levels[node][1] == level:
                return node
            node = levels[node][0]
        return None

    parts = []
    for node in order:
        parent, level, segments = levels[node]
        if level != "O":
            continue
        shipment = ancestor(parent, "S")
        items = [
            _table(levels[item][2], composite)
            for item in order
            if levels[item][1] == "I" and ancestor(item, "O") == node
        ]
        parts.append(
            {
                **_base(message),
                "header": _table(header, composite),
                "shipment": _table(levels[shipment][2], composite) if shipment else {},
                "order": _table(segments, composite),
                "lines": items,
            }
        )
    return parts


def _reference(table: dict[str, list[list[Any]]], qualifier: str) -> str | None:
    for occurrence in table.get("RFF", []):
        value = occurrence[0] if occurrence else None
        if isinstance(value, list) and value[0] == qualifier and len(value) > 1:
            return value[1]
    return None


def _per_order(document: dict[str, Any]) -> list[dict[str, Any]]:
    """EDIFACT DESADV: lines grouped by their order reference (RFF+ON), else the header's."""
    default = _reference(document["header"], "ON")
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for line in document["lines"]:
        groups.setdefault(_reference(line, "ON") or default, []).append(line)
    return [{**document, "order_ref": ref, "lines": lines} for ref, lines in groups.items()]
