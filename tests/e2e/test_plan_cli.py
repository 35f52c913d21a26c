"""``hub plan`` and the planning API the way a planner drives them: files ingested through the
CLI, then buffers, schedule (table, CSV, JSON), the chart (SVG and PNG) and explanations."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from entrypoints.api import create_app
from entrypoints.server_thread import ServerThread
from hub.bootstrap import bootstrap
from tests.conftest import hub_settings
from tests.e2e.test_cli import hub
from tests.integration.test_planning import ITEMS, production_report, purchase_orders, stock_count


@pytest.fixture
def plant(tmp_path: Path) -> Path:
    (tmp_path / "items.csv").write_text(ITEMS)
    (tmp_path / "stock.csv").write_text(stock_count(("HOOD", 100, 0), ("TEE", 100, 0)))
    history = [(f"H-{n}", n, -n, [("HOOD", 14), ("TEE", 10)]) for n in range(1, 15)]
    (tmp_path / "orders.x12").write_text(purchase_orders(*history))
    (tmp_path / "production.csv").write_text(
        production_report("MO-7", "TEE", 300, due_in=1, status="released")
    )
    for system, name in (("planning", "items.csv"), ("wms", "stock.csv"), ("edi", "orders.x12")):
        hub(tmp_path, "ingest", "--system", system, name)
    return tmp_path


def test_buffers_schedule_and_explain_on_the_command_line(plant: Path) -> None:
    table = hub(plant, "plan", "buffers").stdout
    assert "HOOD" in table and "dark red" in table and "180 by" in table
    found = json.loads(hub(plant, "plan", "buffers", "--json").stdout)
    assert [b["sku"] for b in found] == ["HOOD", "TEE"]  # most urgent first
    red = json.loads(hub(plant, "plan", "buffers", "--status", "red", "--json").stdout)
    assert [b["colour"] for b in red] == ["dark_red", "dark_red"]
    assert json.loads(hub(plant, "plan", "buffers", "--status", "green", "--json").stdout) == []
    wrong = hub(plant, "plan", "buffers", "--status", "blue", check=False)
    assert wrong.returncode == 2 and "--status 'blue'" in wrong.stderr

    moment = datetime.now(UTC)
    hub(plant, "ingest", "--system", "mes", "production.csv")  # a production update after `moment`
    rows = list(csv.DictReader(io.StringIO(hub(plant, "plan", "schedule", "--format", "csv").stdout)))
    assert [(r["work_centre"], r["ref"], r["late"]) for r in rows] == [
        ("SEW-1", "REC-HOOD", "False"),
        ("SEW-1", "MO-7", "True"),  # TEE needs no new order once MO-7 is on order; it is late
    ]
    plan = json.loads(hub(plant, "plan", "schedule", "--work-centre", "SEW-1", "--format", "json").stdout)
    assert [s["ref"] for s in plan["late"]] == ["MO-7"] and plan["at_risk"]
    screen = hub(plant, "plan", "schedule").stdout
    assert "late" in screen and "Customer orders at risk" in screen

    now = json.loads(hub(plant, "plan", "explain", "TEE", "--json").stdout)
    then = json.loads(hub(plant, "plan", "explain", "TEE", "--as-of", moment.isoformat(), "--json").stdout)
    assert (now["on_order"], then["on_order"]) == ("300", "0")  # the production order came after
    text = hub(plant, "plan", "explain", "HOOD").stdout
    assert "ADU 3.500" in text and "H-1" in text and "past due" in text and "order 180" in text
    missing = hub(plant, "plan", "explain", "NOPE", check=False)
    assert missing.returncode == 1 and "'NOPE' is not in the item master" in missing.stderr


@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<?xml"), (".png", b"\x89PNG")])
def test_chart_is_written_as_svg_or_png(plant: Path, suffix: str, magic: bytes) -> None:
    out = plant / f"plan{suffix}"
    result = hub(plant, "plan", "chart", "--out", str(out))
    assert "2 items, 1 work centres" in result.stdout
    assert out.read_bytes().startswith(magic) and out.stat().st_size > 5_000
    if suffix == ".svg":
        svg = out.read_text()
        assert "HOOD" in svg and "Work centre SEW-1" in svg
    refused = hub(plant, "plan", "chart", "--out", str(plant / "plan.pdf"), check=False)
    assert refused.returncode == 2 and ".svg or .png" in refused.stderr


def test_planning_over_http(plant: Path) -> None:
    hub_ = bootstrap(hub_settings(f"sqlite:///{plant / 'hub.db'}"))
    try:
        with ServerThread(create_app(hub_)) as server, httpx.Client(base_url=server.url) as client:
            _ask(client)
    finally:
        hub_.close()


def _ask(client: httpx.Client) -> None:
    buffers = client.get("/plan/buffers", params={"status": "red"}).json()
    assert [b["sku"] for b in buffers] == ["HOOD", "TEE"]
    assert client.get("/plan/buffers", params={"status": "blue"}).status_code == 422
    schedule = client.get("/plan/schedule", params={"work_centre": "SEW-1"}).json()
    assert [s["ref"] for s in schedule["work_centres"]["SEW-1"]] == ["REC-HOOD", "REC-TEE"]
    item = client.get("/plan/items/HOOD").json()
    assert item["recommendation"]["quantity"] == "180"
    assert client.get("/plan/items/HOOD", params={"as_of": "2000-01-01"}).status_code == 404
    assert client.get("/plan/items/NOPE").status_code == 404
    assert client.get("/plan/items/HOOD", params={"as_of": "yesterday"}).status_code == 422
