"""The hash chain: one link per recorded event, written in the event's own transaction.

``link(n) = SHA-256(link(n-1) ‖ n ‖ aggregate id ‖ version ‖ topic ‖ stored state)`` — over the
bytes as stored (after any upcasting-free encoding, encryption included), so a row changed,
deleted, inserted or moved by plain SQL no longer matches its link, and rewriting the links too
is caught by a checkpoint kept outside the database. The procedure is documented in
``docs/AUDIT.md`` and implemented a second time, dependency-free, in ``hub.audit.offline``.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

__all__ = ["GENESIS", "link"]

GENESIS = bytes(32)


def link(
    previous: bytes, position: int, originator_id: UUID, version: int, topic: str, state: bytes
) -> bytes:
    digest = hashlib.sha256()
    digest.update(previous)
    digest.update(position.to_bytes(8, "big"))
    digest.update(originator_id.bytes)
    digest.update(version.to_bytes(8, "big"))
    digest.update(len(topic.encode()).to_bytes(4, "big"))
    digest.update(topic.encode())
    digest.update(state)
    return digest.digest()
