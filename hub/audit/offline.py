"""Verify a ``hub audit export`` without the hub: standard library only, one file to hand over.

    python -m hub.audit.offline EXPORT.jsonl|EXPORT.csv [--checkpoint CHECKPOINT.json]

Each event row must hash to its recorded link: SHA-256 over the previous link (32 bytes), the
position (8 bytes, big-endian), the aggregate id (16 bytes), the version (8 bytes, big-endian),
the topic's length (4 bytes, big-endian) and UTF-8 bytes, and the stored state. A complete export
(``--all``) must also be continuous from the genesis link (32 zero bytes), and end in — or pass
through — the checkpoint's position with the checkpoint's link. Exit 0 when everything holds.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["link", "main", "verify_export"]

GENESIS = bytes(32)
CSV_COLUMNS = [
    "position",
    "aggregate_id",
    "version",
    "topic",
    "state_b64",
    "previous_link",
    "link",
    "recorded_at",
    "event",
]


def link(
    previous: bytes, position: int, aggregate_id: uuid.UUID, version: int, topic: str, state: bytes
) -> bytes:
    digest = hashlib.sha256()
    digest.update(previous)
    digest.update(position.to_bytes(8, "big"))
    digest.update(aggregate_id.bytes)
    digest.update(version.to_bytes(8, "big"))
    digest.update(len(topic.encode()).to_bytes(4, "big"))
    digest.update(topic.encode())
    digest.update(state)
    return digest.digest()


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["position"].startswith("#"):
                    yield json.loads(row["aggregate_id"])  # the header row carries the metadata
                else:
                    yield {"kind": "event", **row}
        return
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}:{number}: not JSON ({error})") from None


def verify_export(path: Path, checkpoint: dict[str, Any] | None = None) -> tuple[bool, str]:
    header: dict[str, Any] | None = None
    previous_position, previous_link = 0, GENESIS
    checked = 0
    checkpoint_seen = False
    for row in _rows(path):
        if row.get("kind") == "header":
            header = row
            continue
        if header is None:
            return False, f"{path}: no header line; not a hub audit export"
        position, version = int(row["position"]), int(row["version"])
        before = bytes.fromhex(row["previous_link"])
        recorded = bytes.fromhex(row["link"])
        state = base64.b64decode(row["state_b64"])
        if link(before, position, uuid.UUID(row["aggregate_id"]), version, row["topic"], state) != recorded:
            return False, f"position {position}: the event does not hash to its link (altered)"
        continuous = position == previous_position + 1 and before == previous_link
        if header.get("complete") and not continuous:
            return False, f"position {position}: the chain is broken before it (a row removed or moved)"
        if checkpoint is not None and position == int(checkpoint["position"]):
            if recorded.hex() != checkpoint["link"]:
                return False, f"position {position}: link differs from the checkpoint (history rewritten)"
            checkpoint_seen = True
        previous_position, previous_link = position, recorded
        checked += 1
    if header is None:
        return False, f"{path}: empty, or not a hub audit export"
    if header.get("complete") and previous_link.hex() != header["head"]["link"]:
        return False, "the last event's link is not the head the export declares (truncated)"
    if checkpoint is not None and header.get("complete") and not checkpoint_seen:
        return False, f"the export does not reach the checkpoint's position {checkpoint['position']}"
    scope = "complete log" if header.get("complete") else "selection"
    return True, f"ok: {checked} events of a {scope}, each matching its link" + (
        f"; the chain passes through the checkpoint at {checkpoint['position']}" if checkpoint_seen else ""
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("export", type=Path)
    parser.add_argument("--checkpoint", type=Path)
    args = parser.parse_args(argv)
    checkpoint = json.loads(args.checkpoint.read_text(encoding="utf-8")) if args.checkpoint else None
    try:
        ok, message = verify_export(args.export, checkpoint)
    except (ValueError, KeyError) as error:
        ok, message = False, f"{args.export}: unreadable export ({error})"
    print(message)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
