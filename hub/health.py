"""Liveness and progress of the hub's processes, shared through the database.

Each worker, projection runner and relay writes a heartbeat row: its position, its backlog and
when it last made progress. Any process's ``/health`` can then tell ok, idle, stalled (a backlog
that is not shrinking: lag growing while nothing is processed) or down (no heartbeat).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.store import Store

__all__ = ["Heartbeat", "ProcessHealth", "assess", "process_health"]


@dataclass(frozen=True)
class ProcessHealth:
    name: str
    kind: str
    status: str  # ok | idle | stalled | down
    position: int
    backlog: int
    seen_seconds_ago: float
    progress_seconds_ago: float
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "position": self.position,
            "backlog": self.backlog,
            "seen_seconds_ago": round(self.seen_seconds_ago, 1),
            "progress_seconds_ago": round(self.progress_seconds_ago, 1),
            "detail": self.detail,
        }


def assess(backlog: int, seen_ago: float, progress_ago: float, stall_after: float) -> str:
    """Down beats stalled beats idle: a silent process cannot be judged on its backlog."""
    if seen_ago > stall_after:
        return "down"
    if backlog > 0 and progress_ago > stall_after:
        return "stalled"
    return "ok" if backlog > 0 else "idle"


TABLES = (
    """CREATE TABLE IF NOT EXISTS hub_processes (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        progressed_at TEXT NOT NULL,
        position BIGINT NOT NULL,
        backlog BIGINT NOT NULL,
        detail TEXT NOT NULL)""",
)


class Heartbeat:
    """One process's row in ``hub_processes``; ``beat`` is cheap enough to call every second."""

    def __init__(self, store: Store, name: str, kind: str) -> None:
        self.store, self.name, self.kind = store, name, kind
        store.ensure(*TABLES)
        self._started = datetime.now(UTC)
        self._position: int | None = None
        self._progressed = self._started

    def seconds_since_progress(self) -> float:
        return (datetime.now(UTC) - self._progressed).total_seconds()

    def status(self, backlog: int, stall_after: float) -> str:
        """This process judged on itself (it is running, so never down)."""
        return assess(backlog, 0.0, self.seconds_since_progress(), stall_after)

    def beat(self, position: int, backlog: int, detail: dict[str, Any] | None = None) -> None:
        now = datetime.now(UTC)
        if position != self._position or backlog == 0:
            self._position, self._progressed = position, now
        row = (
            self.name,
            self.kind,
            socket.gethostname(),
            os.getpid(),
            self._started.isoformat(),
            now.isoformat(),
            self._progressed.isoformat(),
            position,
            backlog,
            json.dumps(detail or {}, default=str),
        )
        with self.store.transaction() as cursor:
            self.store.execute(
                cursor,
                "INSERT INTO hub_processes (name, kind, host, pid, started_at, seen_at, progressed_at, "
                "position, backlog, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) "
                "DO UPDATE SET kind = excluded.kind, host = excluded.host, pid = excluded.pid, "
                "started_at = excluded.started_at, seen_at = excluded.seen_at, "
                "progressed_at = excluded.progressed_at, position = excluded.position, "
                "backlog = excluded.backlog, detail = excluded.detail",
                row,
            )


def process_health(store: Store, stall_after: float, now: datetime | None = None) -> list[ProcessHealth]:
    """Every process that ever reported, judged now."""
    moment = now or datetime.now(UTC)
    store.ensure(*TABLES)
    found = []
    for row in store.query("SELECT * FROM hub_processes ORDER BY kind, name"):
        seen_ago = (moment - datetime.fromisoformat(row["seen_at"])).total_seconds()
        progress_ago = (moment - datetime.fromisoformat(row["progressed_at"])).total_seconds()
        found.append(
            ProcessHealth(
                name=row["name"],
                kind=row["kind"],
                status=assess(row["backlog"], seen_ago, progress_ago, stall_after),
                position=row["position"],
                backlog=row["backlog"],
                seen_seconds_ago=seen_ago,
                progress_seconds_ago=progress_ago,
                detail=json.loads(row["detail"]),
            )
        )
    return found
