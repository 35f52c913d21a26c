"""The auditor's and the data-protection officer's commands, as they run them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.e2e.test_cli import captured, hub


def test_audit_and_erasure_from_the_command_line(tmp_path: Path) -> None:
    lines = [
        captured("orders/create", "order.json"),
        captured("orders/paid", "order.json", financial_status="paid"),
    ]
    (tmp_path / "shop.jsonl").write_text("\n".join(lines) + "\n")
    hub(tmp_path, "ingest", "--system", "shopify", "shop.jsonl")

    verified = json.loads(hub(tmp_path, "audit", "verify", "--json").stdout)
    assert verified["ok"] and verified["checked"] >= 3
    hub(tmp_path, "audit", "checkpoint", "--output", "checkpoint.json")
    hub(tmp_path, "audit", "export", "--all", "--output", "log.jsonl")
    checked = hub(tmp_path, "audit", "verify-export", "log.jsonl", "--against", "checkpoint.json")
    assert "passes through the checkpoint" in checked.stdout

    history = json.loads(hub(tmp_path, "audit", "history", "#1001", "--raw", "--json").stdout)
    assert [e["message_id"] for e in history] == ["orders/create:450789469", "orders/paid:450789469:paid"]
    assert history[0]["source_message"]["body"]["id"] == 450789469
    csv_rows = hub(tmp_path, "audit", "history", "order:#1001", "--csv").stdout.splitlines()
    assert csv_rows[0].startswith("version,event,recorded_at,system,message_id") and len(csv_rows) == 3
    lineage = json.loads(hub(tmp_path, "audit", "lineage", "#1001", "stage", "--json").stdout)
    assert [c["after"] for c in lineage] == ["placed", "paid"]
    before = hub(tmp_path, "orders", "show", "#1001", "--as-of", "2000-01-01", check=False)
    assert before.returncode == 1 and "at 2000-01-01" in before.stderr
    customer = json.loads(hub(tmp_path, "customers", "record", "shopify:207119551", "--json").stdout)
    assert customer["fields"]["family_name"] == "Norman"

    erased = json.loads(
        hub(
            tmp_path, "privacy", "erase", "shopify:207119551", "--yes", "--json", "--reason", "asked by mail"
        ).stdout
    )
    assert (
        erased["records"]["shopify:207119551"]["keys_destroyed"] == 1 and erased["reason"] == "asked by mail"
    )
    request = json.loads(hub(tmp_path, "audit", "history", erased["request"], "--json").stdout)
    assert [e["event"] for e in request] == ["ErasureRequest.Requested", "ErasureRequest.Completed"]
    customer = json.loads(hub(tmp_path, "customers", "record", "shopify:207119551", "--json").stdout)
    assert customer["fields"]["family_name"] == "[erased]"
    assert json.loads(hub(tmp_path, "audit", "verify", "--json").stdout)["ok"]
    hub(tmp_path, "projections", "rebuild", "order_tracking", "--verify")

    # Someone with the owner's rights edits history: verify names the place and exits 1.
    with sqlite3.connect(tmp_path / "hub.db") as connection:
        connection.execute("DROP TRIGGER stored_events_no_update")
        connection.execute("UPDATE stored_events SET state = X'7B7D' WHERE rowid = 2")
    tampered = hub(tmp_path, "audit", "verify", check=False)
    assert tampered.returncode == 1 and "position 2" in tampered.stdout
