"""Raw messages on Kafka: one JSON document per record, keyed by the entity it concerns."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hub.inbox import RawMessage
from hub.processing import Delivery
from hub.store import Store

__all__ = ["decode_delivery", "encode_raw", "partition_source", "processed_records"]


def encode_raw(message: RawMessage) -> bytes:
    return json.dumps(
        {
            "system": message.system,
            "message_id": message.message_id,
            "received_at": message.received_at.astimezone(UTC).isoformat(),
            "envelope": message.envelope,
        },
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    ).encode()


def partition_source(topic: str, partition: int) -> str:
    """The tracking name of one partition: its position is the next offset to process."""
    return f"{_SOURCE_PREFIX}{topic}:{partition}"


_SOURCE_PREFIX = "kafka:"


def processed_records(store: Store, topic: str) -> int:
    """Records of a topic processed over all its partitions (the sum of their next offsets)."""
    rows = store.query(
        f"SELECT COALESCE(SUM(notification_id), 0) AS n FROM {store.tracking_table} "
        "WHERE application_name LIKE ?",
        (f"{_SOURCE_PREFIX}{topic}:%",),
    )
    return int(rows[0]["n"])


def decode_delivery(value: bytes | None, topic: str, partition: int, offset: int, system: str) -> Delivery:
    """A Kafka record as a delivery; a record that is not a hub message carries its problem."""
    source = partition_source(topic, partition)
    try:
        document: Any = json.loads(value or b"")
        if not isinstance(document, dict) or not isinstance(document.get("envelope"), dict):
            raise ValueError("not a hub message: expected an object with an 'envelope' object")
        received = datetime.fromisoformat(str(document["received_at"]))
        message = RawMessage(
            system=str(document.get("system") or system),
            message_id=str(document["message_id"]),
            envelope=document["envelope"],
            received_at=received if received.tzinfo else received.replace(tzinfo=UTC),
        )
        return Delivery(message, source, offset)
    except (ValueError, KeyError, TypeError) as error:
        text = (value or b"").decode("utf-8", errors="replace")
        raw = RawMessage(
            system=system,
            message_id=f"{source}:{offset}",
            envelope={"raw": text[:100_000]},
            received_at=datetime.now(UTC),
        )
        return Delivery(raw, source, offset, problem=f"{topic}[{partition}]@{offset}: {error}")
