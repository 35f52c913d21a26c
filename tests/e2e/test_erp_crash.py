"""SIGKILL during an ERP poll and during outbound sync, then the same command again: nothing lost,
nothing duplicated, and the ERP never gets an order twice (``hub`` runs as a real process)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.soap.outbound import TABLES as OUTBOUND_TABLES
from adapters.soap.state import AdapterState
from aggregates import customer_id
from hub.bootstrap import Hub
from simulators.erp import ErpSimulator
from simulators.erp.book import LOCAL_FORMAT
from tests.conftest import ROOT, TEST_SYSTEMS
from tests.integration.test_crash import kill_when
from tests.integration.test_erp_adapter import debtors, erp_config, shop_order

pytestmark = pytest.mark.slow


def write_config(path: Path, erp: ErpSimulator) -> Path:
    path.write_text(
        f"""
[systems.shopify]
adapter = "shopify"

[systems.erp]
adapter = "soap"
timezone = "Europe/Berlin"
phone_region = "DE"

[systems.erp.soap]
wsdl = "{erp.wsdl_url}"
retry_attempts = 3
backoff_seconds = 0.01

[systems.erp.soap.entities.customers]
operation = "GetCustomersChangedSince"
request = {{ Since = "{{since}}", Page = "{{page}}", PageSize = "{{page_size}}" }}
page_size = 20
cursor_field = "ChangedAt"
cursor_format = "{LOCAL_FORMAT}"
initial_cursor = "01.01.2000 00:00:00"

[systems.erp.outbound]
enabled = true
channels = ["web"]
""",
        encoding="utf-8",
    )
    return path


def hub_command(database_url: str, config: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "HUB_DATABASE_URL": database_url, "HUB_CONFIG": str(config)}
    return subprocess.Popen(
        [sys.executable, "-m", "entrypoints", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_during_a_poll_then_restart(
    make_hub: Callable[..., Hub], database_url: str, erp: ErpSimulator, tmp_path: Path
) -> None:
    refs = debtors(erp.book, 300, per_second=7)
    erp.faults.arm("slow", operation="GetCustomersChangedSince", seconds=0.1, times=10_000)
    config = write_config(tmp_path / "hub.toml", erp)
    observer = make_hub(systems={**TEST_SYSTEMS, "erp": erp_config(erp)})

    state = AdapterState(observer.store)  # the adapter's table, read through its owner

    def some_pages_stored(hub: Hub) -> bool:
        return state.load("erp", "customers").records >= 100

    kill_when(observer, hub_command(database_url, config, "adapters", "poll", "erp"), some_pages_stored)
    stored_before = observer.inbox.count_after(0)
    assert 0 < stored_before < len(refs)

    erp.faults.clear()
    again = hub_command(database_url, config, "adapters", "poll", "erp")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err + out

    keys = {customer_id("erp", ref): ref for ref in refs}
    events = observer.store.events_of(list(keys))
    assert len(events) == len(refs)  # nothing lost
    assert {len(e) for e in events.values()} == {1}  # nothing registered twice
    assert observer.inbox.count_after(0) == len(refs)  # every record stored once
    assert observer.dead_letters.list() == []


@pytest.mark.parametrize(
    "delay",
    ["slow", "slow_after_create"],
    ids=["killed-before-the-erp-creates", "killed-after-the-erp-created"],
)
def test_sigkill_during_outbound_sync_then_restart(
    make_hub: Callable[..., Hub], database_url: str, erp: ErpSimulator, tmp_path: Path, delay: str
) -> None:
    config = write_config(tmp_path / "hub.toml", erp)
    observer = make_hub(systems={**TEST_SYSTEMS, "erp": erp_config(erp)})
    observer.store.ensure(*OUTBOUND_TABLES)  # the adapter creates it; the observer reads it first
    orders = list(range(5000, 5040))
    for number in orders:
        shop_order(observer, number)
    observer.process()
    erp.faults.arm(delay, operation="CreateSalesOrder", seconds=0.1, times=10_000)

    def some_created(hub: Hub) -> bool:
        created = len(erp.book.by_external_ref)
        recorded = hub.store.query(
            "SELECT COUNT(*) AS n FROM hub_outbound WHERE target = 'erp' AND state <> 'sending'"
        )[0]["n"]
        # Killed while the ERP has an order the hub has not heard back about, or before the call.
        return created >= 12 and (created > recorded if delay == "slow_after_create" else created == recorded)

    kill_when(observer, hub_command(database_url, config, "outbound", "sync", "erp"), some_created)
    assert len(erp.book.by_external_ref) < len(orders)

    erp.faults.clear()
    again = hub_command(database_url, config, "outbound", "sync", "erp")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err + out
    observer.process()

    assert sorted(erp.book.by_external_ref) == sorted(f"shopify:{n}" for n in orders)
    assert erp.book.create_calls == len(orders)  # the ERP never saw an order twice
    states = Counter(
        row["state"] for row in observer.store.query("SELECT state FROM hub_outbound WHERE target = 'erp'")
    )
    assert states["rejected"] == 0 and states["sending"] == 0
    assert states["created"] + states["found"] == len(orders)
    if delay == "slow_after_create":
        assert states["found"] == 1  # the order the ERP created as the hub died was looked up
    for number in orders:
        [reference] = observer.orders.show(str(number), "shopify")["references"]
        assert reference["ref"] == erp.book.by_external_ref[f"shopify:{number}"]
