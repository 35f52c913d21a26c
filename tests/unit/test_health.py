"""Process health from heartbeats: ok, idle, stalled (backlog without progress) and down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.health import Heartbeat, assess, process_health
from hub.store import Store


def test_assess_tells_idle_ok_stalled_and_down() -> None:
    assert assess(backlog=0, seen_ago=1, progress_ago=500, stall_after=60) == "idle"
    assert assess(backlog=10, seen_ago=1, progress_ago=5, stall_after=60) == "ok"
    assert assess(backlog=10, seen_ago=1, progress_ago=61, stall_after=60) == "stalled"
    assert assess(backlog=10, seen_ago=61, progress_ago=61, stall_after=60) == "down"


def test_a_growing_backlog_at_a_standing_position_becomes_stalled(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        runner = Heartbeat(store, "projection:x", "projection")
        runner.beat(position=10, backlog=0)
        runner.beat(position=10, backlog=5)
        runner.beat(position=10, backlog=9)  # lag grows, position stands still
        worker = Heartbeat(store, "worker:a", "worker")
        worker.beat(position=3, backlog=4)
        soon = datetime.now(UTC) + timedelta(seconds=30)
        later = datetime.now(UTC) + timedelta(seconds=90)
        assert {p.name: p.status for p in process_health(store, 60, now=soon)} == {
            "projection:x": "ok",
            "worker:a": "ok",
        }
        # The runner still beats, but its position has not moved for two minutes: stalled.
        runner._progressed -= timedelta(seconds=120)
        runner.beat(position=10, backlog=12)
        states = {p.name: p for p in process_health(store, 60)}
        assert states["projection:x"].status == "stalled" and states["projection:x"].backlog == 12
        # Nobody beats for 90 s: down.
        assert {p.status for p in process_health(store, 60, now=later)} == {"down"}
    finally:
        store.close()
