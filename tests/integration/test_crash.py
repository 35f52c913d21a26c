"""Given a large ingest, when the hub process is killed with SIGKILL and the same command is run
again, then every message has been stored once and processed exactly once (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from hub.accounting import Accounting
from hub.bootstrap import Hub
from hub.processing import PROCESSOR
from simulators.bulk import shop_messages
from tests.conftest import ROOT

MESSAGES = 30_000
pytestmark = pytest.mark.slow


def hub_command(database_url: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "HUB_DATABASE_URL": database_url, "HUB_BATCH_SIZE": "250"}
    env.pop("HUB_CONFIG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "entrypoints", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when(hub: Hub, process: subprocess.Popen, ready: callable, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the command finished before it could be killed: {process.stderr.read()}")
        if ready(hub):
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            return
        time.sleep(0.005)
    process.kill()
    pytest.fail("the kill point was never reached")


def processing_started(hub: Hub) -> bool:
    return hub.store.position(PROCESSOR) > 0


def half_stored(hub: Hub) -> bool:
    return hub.inbox.head() > MESSAGES // 3


@pytest.mark.parametrize("kill_point", [half_stored, processing_started], ids=["storing", "processing"])
def test_sigkill_mid_ingest_loses_and_duplicates_nothing(
    make_hub, database_url: str, tmp_path: Path, kill_point
) -> None:
    feed = tmp_path / "orders.jsonl"
    with feed.open("w") as handle:
        for envelope in shop_messages(MESSAGES, seed=3):
            handle.write(json.dumps(envelope) + "\n")
    observer = make_hub()

    killed = hub_command(database_url, "ingest", "--system", "shopify", str(feed))
    kill_when(observer, killed, kill_point)
    stored_before_restart = observer.inbox.count_after(0)
    processed_before_restart = observer.store.position(PROCESSOR)
    assert stored_before_restart < MESSAGES or processed_before_restart < MESSAGES

    again = hub_command(database_url, "ingest", "--system", "shopify", str(feed))
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert f"received {MESSAGES}, duplicates {stored_before_restart}" in out

    # Every message is in the inbox once, and processing reached the last one.
    assert observer.inbox.count_after(0) == MESSAGES
    assert observer.store.position(PROCESSOR) == observer.inbox.head()
    assert observer.processor.backlog() == 0
    # Each message produced its one Order event exactly once.
    order_events = Counter()
    for notification in observer.store.notifications(0, 10 * MESSAGES):
        event = observer.store.decode(notification)
        if type(event).__qualname__.startswith("Order."):
            order_events[event.provenance["message_id"]] += 1
    assert len(order_events) == MESSAGES
    assert set(order_events.values()) == {1}
    assert observer.dead_letters.list() == []
    # The projection is complete and equals a rebuild from the log.
    assert observer.projector.status()[0]["lag"] == 0
    assert observer.projector.rebuild("order_tracking", verify=True).verified is True
    # The accounting agrees: every line read twice is stored once, repeated once, applied once.
    report = Accounting(observer.store).report()
    assert report.balanced, report.as_dict()
    [shop] = report.systems
    assert (shop.received, shop.stored, shop.duplicates, shop.applied) == (
        MESSAGES + stored_before_restart,
        MESSAGES,
        stored_before_restart,
        MESSAGES,
    )
