"""The CLI the way a user drives it: real processes, real files, a real SQLite file."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aggregates import STAGES
from tests.conftest import FIXTURES, ROOT

SHOPIFY = FIXTURES / "shopify-webhooks"


def hub(
    tmp_path: Path, *args: str, check: bool = True, answer: str | None = None, **env: str
) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    environment.update({"HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}", "COLUMNS": "200", **env})
    result = subprocess.run(
        [sys.executable, "-m", "entrypoints", *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        input=answer,  # what the user types at a prompt
    )
    if check and result.returncode != 0:
        pytest.fail(f"hub {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def captured(topic: str, fixture: str, **changes: object) -> str:
    body = next(iter(json.loads((SHOPIFY / fixture).read_text()).values()))
    body.update(changes)
    return json.dumps({"headers": {"X-Shopify-Topic": topic}, "body": body})


@pytest.fixture
def shopify_lifecycle(tmp_path: Path) -> Path:
    """The real Shopify fixtures of order #1001, captured as webhook envelopes, one per line."""
    lines = [
        captured("order_transactions/create", "transaction.json"),  # authorisation before the order
        captured("orders/create", "order.json"),
        captured("order_transactions/create", "transaction.json", id=389404470, kind="capture"),
        captured("fulfillments/create", "fulfillment.json", status="success"),
        captured("refunds/create", "refund.json"),
        captured("orders/create", "order.json"),  # a re-delivery
        "{not json",
    ]
    feed = tmp_path / "shopify.jsonl"
    feed.write_text("\n".join(lines) + "\n")
    return feed


def test_ingest_real_shopify_messages_and_query_the_order(tmp_path: Path, shopify_lifecycle: Path) -> None:
    result = hub(tmp_path, "ingest", "--system", "shopify", str(shopify_lifecycle))
    assert "received 7, duplicates 1, stored 5, unreadable 1, processed 5" in result.stdout
    assert f"skipped {shopify_lifecycle.name}:7: invalid JSON" in result.stdout  # the name, not the path
    order = json.loads(hub(tmp_path, "orders", "show", "#1001", "--json").stdout)
    assert order["order_ref"] == "450789469"
    assert order["stage"] == "partially_shipped"
    assert (order["total_amount"], order["paid_amount"], order["refunded_amount"]) == (
        "409.94",
        "409.94",
        "209.00",
    )
    assert order["placed_at"] == "2008-01-10T16:00:00+00:00"
    assert order["shipments"] == [
        {
            "shipment_id": "255858046",
            "carrier": "null-company",
            "tracking_number": "1Z2345",
            "status": "handed_over",
            "lines": [{"sku": "IPOD2008GREEN", "quantity": "1"}],
            "updated_at": "2013-11-01T20:06:08+00:00",
        }
    ]
    assert {"system": "shopify", "ref": "#1001"} in order["aliases"]
    for key in ("paid_at", "shipped_at", "delivered_at", "confirmed_at", "currency", "anomalies"):
        assert key in order
    listed = json.loads(hub(tmp_path, "orders", "list", "--stage", "partially_shipped", "--json").stdout)
    assert [o["order_ref"] for o in listed] == ["450789469"]
    letters = json.loads(hub(tmp_path, "deadletters", "list", "--json").stdout)
    assert [(x["stage"], x["system"]) for x in letters] == [("parse", "shopify")]
    shown = json.loads(hub(tmp_path, "deadletters", "show", str(letters[0]["id"]), "--json").stdout)
    assert shown["envelope"]["raw"].startswith("{not json")


def test_ingest_csv_with_a_bad_row_and_replay_after_fixing_the_mapping(tmp_path: Path) -> None:
    mappings = tmp_path / "feedback-mappings"
    shutil.copytree(ROOT / "mappings" / "feedback", mappings)
    hub(
        tmp_path,
        "ingest",
        "--system",
        "shopify",
        str(ROOT / "mappings/shopify/samples/orders_create.input.json"),
    )
    rows = tmp_path / "feedback.csv"
    rows.write_text(
        "type,order_system,order_ref,at,rating,comment\n"
        "confirmation,shopify,450789469,15.01.2008 18:05,5,great\n"
        "confirmation,shopify,450789469\n"
    )
    result = hub(tmp_path, "ingest", "--system", "feedback", "--mappings", str(mappings), str(rows))
    assert "processed 0, dead-lettered 2" in result.stdout
    letters = json.loads(hub(tmp_path, "deadletters", "list", "--json").stdout)
    reasons = {x["stage"]: x["reason"] for x in letters}
    assert "feedback.csv:3: row does not have the header's 6 fields" in reasons["parse"]
    assert "field 'confirmed_at', path 'at', value \"15.01.2008 18:05\"" in reasons["mapping"]

    confirmation = mappings / "confirmation.yaml"
    confirmation.write_text(
        confirmation.read_text().replace(
            "confirmed_at: {path: at, transforms: [datetime]}",
            'confirmed_at: {path: at, transforms: ["datetime:%d.%m.%Y %H:%M"]}',
        )
    )
    replay = hub(
        tmp_path, "deadletters", "replay", "--json", check=False, HUB_CONFIG=str(_config(tmp_path, mappings))
    )
    outcomes = {o["resolved"] for o in json.loads(replay.stdout)}
    assert outcomes == {True, False}  # the mapping error is fixed; the short row stays unreadable
    order = json.loads(hub(tmp_path, "orders", "show", "450789469", "--json").stdout)
    assert order["confirmed_at"] == "2008-01-15T17:05:00+00:00"
    # Nothing was delivered: the confirmation is recorded and flagged, the stage waits for a delivery.
    assert order["stage"] == "placed"
    assert "confirmed_before_delivery" in [a["code"] for a in order["anomalies"]]
    remaining = json.loads(hub(tmp_path, "deadletters", "list", "--json").stdout)
    assert [x["stage"] for x in remaining] == ["parse"] and remaining[0]["replays"] == 1


def _config(tmp_path: Path, feedback_mappings: Path) -> Path:
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[systems.feedback]\nadapter = "file"\ntimezone = "Europe/Berlin"\n'
        f'mappings = "{feedback_mappings}"\n'
    )
    return config


def test_projection_rebuild_verify_and_status(tmp_path: Path, shopify_lifecycle: Path) -> None:
    hub(tmp_path, "ingest", "--system", "shopify", str(shopify_lifecycle))
    rebuilt = hub(tmp_path, "projections", "rebuild", "order_tracking", "--verify")
    assert "identical to the live rows" in rebuilt.stdout
    statuses = json.loads(hub(tmp_path, "projections", "status", "--json").stdout)
    assert [s["name"] for s in statuses] == ["order_tracking", "planning", "customers"]
    assert all(s["lag"] == 0 and s["position"] == s["head"] for s in statuses)
    rebuilt = hub(tmp_path, "projections", "rebuild", "planning", "--verify")
    assert "identical to the live rows" in rebuilt.stdout


def test_ingest_without_processing_then_process(tmp_path: Path, shopify_lifecycle: Path) -> None:
    stored = hub(tmp_path, "ingest", "--no-process", "--system", "shopify", str(shopify_lifecycle))
    assert "not processed" in stored.stdout
    assert json.loads(hub(tmp_path, "orders", "list", "--json").stdout) == []
    processed = hub(tmp_path, "process")
    assert "processed 5" in processed.stdout
    assert len(json.loads(hub(tmp_path, "orders", "list", "--json").stdout)) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "--system", "shopify", "missing.jsonl"], "missing.jsonl: file not found"),
        (["ingest", "--system", "sap", "feed.jsonl"], "mapping folder for system 'sap' not found"),
        (["ingest", "--system", "shopify", "feed.xml"], "unsupported file type '.xml'"),
        (["orders", "list", "--stage", "lost"], "unknown stage 'lost'"),
        (["orders", "show", "nope"], "no order with reference or alias 'nope'"),
    ],
)
def test_unusable_input_fails_with_a_clear_message(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "feed.jsonl").write_text("{}\n")
    (tmp_path / "feed.xml").write_text("<x/>")
    result = hub(tmp_path, *args, check=False)
    assert result.returncode != 0
    assert message in " ".join(result.stderr.split())


def test_bad_database_url_and_config_are_named(tmp_path: Path) -> None:
    result = hub(tmp_path, "orders", "list", check=False, HUB_DATABASE_URL="mysql://x/y")
    assert result.returncode == 2 and "unsupported database URL" in result.stderr
    (tmp_path / "hub.toml").write_text("batch_size = 0\n")
    result = hub(tmp_path, "orders", "list", check=False)
    assert result.returncode == 2 and "hub.toml: batch_size" in result.stderr


def test_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    hub(tmp_path, "init")
    assert "# [systems.shopify]" in (tmp_path / "hub.toml").read_text()  # an example to edit
    assert hub(tmp_path, "init", check=False).returncode == 2  # does not overwrite
    hub(tmp_path, "orders", "list")  # the starter file is valid


def test_mappings_test_checks_every_shipped_folder(tmp_path: Path) -> None:
    result = hub(tmp_path, "mappings", "test")
    assert "FAIL" not in result.stdout
    for system in ("shopify", "woocommerce", "feedback"):
        assert f"ok   {system}/" in result.stdout


def test_demo_shows_orders_in_every_stage(tmp_path: Path) -> None:
    result = hub(tmp_path, "demo")
    assert (
        "refused (HTTP 400 malformed_json ×1, HTTP 401 bad_signature ×1, HTTP 413 too_large ×1)"
        in result.stdout
    )
    counts = {}
    for stage in STAGES:
        listed = json.loads(hub(tmp_path, "orders", "list", "--stage", stage, "--json").stdout)
        counts[stage] = len(listed)
    assert all(counts.values()), counts
    assert "paid_not_shipped ×" in result.stdout
    # The ERP took the shop orders, and its payments and deliveries moved them on.
    assert "49 shop orders created as ERP sales orders, 17 refused" in result.stdout
    everything = json.loads(hub(tmp_path, "orders", "list", "--json").stdout)
    synced = [o for o in everything if any(r["status"] == "accepted" for r in o["references"])]
    moved = [o for o in synced if any(p["payment_id"].startswith("ZA") for p in o["payments"])]
    assert len(synced) == 49 and len(moved) >= 6
    assert {o["stage"] for o in moved} >= {"delivered", "partially_paid", "shipped"}
    assert sum(o["system"] == "erp" for o in everything) == 6  # taken by phone in the ERP
    # The carrier's events (tracking number only) moved the shop's own parcels.
    tracked = [o for o in everything if any(src.startswith("carrier:") for src in o["sources"])]
    statuses = {s["status"] for o in tracked for s in o["shipments"]}
    assert len(tracked) == 4 and {"out_for_delivery", "delivered"} <= statuses
    adapters = {a["name"]: a for a in json.loads(hub(tmp_path, "adapters", "status", "--json").stdout)}
    erp, crm = adapters["soap:erp"], adapters["soap:crm"]
    assert erp["status"] == crm["status"] == "unconfigured"  # the demo's ERP and CRM are gone
    assert {e["entity"] for e in crm["entities"]} == {"accounts", "contacts", "tasks", "cases"}
    assert {e["entity"] for e in erp["entities"]} == {
        "customers",
        "orders",
        "payments",
        "deliveries",
        "items",
        "production",
    }
    assert all(e["cursor"]["since"] for e in erp["entities"])
    # Planning: the planner's file and the partner's EDI orders made buffers; the red and yellow
    # ones went to the ERP as planned production orders, now on order.
    buffers = json.loads(hub(tmp_path, "plan", "buffers", "--json").stdout)
    assert len(buffers) == 6 and all("zones" in b for b in buffers)
    planned = [b for b in buffers if any(s["order_ref"].startswith("FA") for s in b["inputs"]["supply"])]
    assert "handed to the ERP as planned production orders: 2" in result.stdout and len(planned) >= 2
    assert (tmp_path / "hub-plan.svg").read_text().count("Work centre") >= 1
    [sync] = json.loads(hub(tmp_path, "outbound", "status", "--json").stdout)
    assert sync["counts"] == {"created": 49 + 2, "rejected": 17}
    assert "JKT-RAIN-L" in sync["attention"][0]["reason"]
    assert "waits for order 5999999999" in result.stdout
    letters = json.loads(hub(tmp_path, "deadletters", "list", "--json").stdout)
    assert sorted(x["stage"] for x in letters) == ["mapping", "mapping", "mapping", "mapping"]
    # The capture in USD on a EUR order is a fact all the same: recorded, flagged, not counted.
    assert "payment_currency ×1" in result.stdout
    assert any("row 9" in x["reason"] and '"many"' in x["reason"] for x in letters)  # the WMS typo
    assert any(x["system"] == "callcentre" and "anonymous" in x["reason"] for x in letters)
    # The front office: CRM contacts, interactions and cases; phone orders joined to web customers.
    assert "poll crm/contacts: 34 records" in result.stdout and "1 retry" in result.stdout
    phone = [o for o in everything if o["channel"] == "phone"]
    assert len(phone) == 3 and all(o["system"] == "callcentre" for o in phone)
    exported = list(
        csv.DictReader(io.StringIO(hub(tmp_path, "customers", "export", "--format", "csv").stdout))
    )
    systems_of: dict[str, set[str]] = {}
    for row in exported:
        systems_of.setdefault(row["customer_id"], set()).add(row["system"])
    assert sum({"crm", "shopify", "erp"} <= known for known in systems_of.values()) >= 10
    caller = next(c for c, known in systems_of.items() if {"callcentre", "shopify"} <= known)
    view = json.loads(hub(tmp_path, "customers", "show", caller, "--json").stdout)
    assert {"web", "phone"} <= set(view["value"]["channels"]) and view["interactions"]
    assert "On the phone:" in result.stdout
    # Every message the demo sent is accounted for, the refused webhooks among them.
    accounts = hub(tmp_path, "accounting")
    assert "every message is accounted for" in accounts.stdout
    [shop] = [
        a
        for a in json.loads(hub(tmp_path, "accounting", "--json").stdout)["systems"]
        if a["system"] == "shopify"
    ]
    assert shop["refused_by_reason"] == {"bad_signature": 1, "malformed_json": 1, "too_large": 1}
    assert shop["difference"] == 0 and shop["received"] == shop["stored"] + shop["duplicates"] + 3
    head = json.loads(hub(tmp_path, "projections", "status", "--json").stdout)[0]["head"]
    # A second run on the same database sends nothing again (its simulated ERP would take the
    # shop's orders a second time): it shows what the first left, and says how to start over.
    again = hub(tmp_path, "demo")
    assert "already holds" in again.stdout and "hub demo --fresh" in again.stdout
    assert "Dead letters 4 open" in again.stdout
    assert json.loads(hub(tmp_path, "projections", "status", "--json").stdout)[0]["head"] == head
    assert counts == {
        s: len(json.loads(hub(tmp_path, "orders", "list", "--stage", s, "--json").stdout)) for s in counts
    }
    fresh = hub(tmp_path, "demo", "--fresh")
    assert "starting over" in fresh.stdout and "49 shop orders created as ERP sales orders" in fresh.stdout
    assert [p.name for p in tmp_path.glob("hub.db.*.bak")]  # the first run's file, kept
