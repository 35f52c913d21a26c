"""Drop folders: only complete files are taken; bad rows are refused by row while good rows go on;
files end in processed/ or failed/ with their reason; warehouse rows become stock and shipments."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from adapters.filedrop import FileDrop
from aggregates import stock_id
from hub.bootstrap import Hub
from tests.conftest import FIXTURES, TEST_SYSTEMS
from tests.shop_messages import order

STOCK_HEADER = "record_type,sku,location,on_hand,allocated,counted_at\n"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def stock_position(hub: Hub, sku: str, location: str) -> Any:
    return hub.store.replay([stock_id(sku, location)]).get(stock_id(sku, location))


def test_only_complete_files_are_taken(make_hub: Callable[..., Hub], tmp_path: Path) -> None:
    hub = make_hub()
    clock = Clock()
    drop = FileDrop(hub.ports, "wms", tmp_path, settle_seconds=2, clock=clock)
    (tmp_path / "renamed-when-done.csv.part").write_text(
        STOCK_HEADER + "STOCK,A,WH1,5,0,2026-11-20 06:00:00\n"
    )
    growing = tmp_path / "written-in-place.csv"
    growing.write_text(STOCK_HEADER + "STOCK,A,WH1,5,0,2026-11-20 06:00:00\n")

    assert drop.scan() == []  # first look: noted, not yet settled
    clock.now = 1.5
    with growing.open("a") as handle:
        handle.write("STOCK,B,WH1,7,0,2026-11-20 06:00:00\n")  # still being written
    assert drop.scan() == []
    clock.now = 3.0
    assert drop.scan() == []  # changed 1.5 s ago: not settled yet
    clock.now = 4.0
    [taken] = drop.scan()
    assert (taken.file, taken.messages, taken.outcome) == ("written-in-place.csv", 2, "processed")
    assert [p.name for p in drop.waiting()] == []  # the .part file is never a candidate
    assert (tmp_path / "renamed-when-done.csv.part").exists()
    hub.process()
    assert stock_position(hub, "B", "WH1").on_hand == Decimal(7)


def test_bad_rows_are_refused_by_row_and_the_good_rows_go_on(
    make_hub: Callable[..., Hub], tmp_path: Path
) -> None:
    hub = make_hub()
    (tmp_path / "stock-0600.csv").write_text(
        STOCK_HEADER
        + "STOCK,TEE-BLK-M,WH1,240,12,2026-11-20 06:00:00\n"
        + "STOCK,CAP-OLV,WH1,80\n"  # too few fields
        + "STOCK,SOCK-3PK,WH1,two hundred,,2026-11-20 06:00:00\n"  # not a number
        + "STOCK,BAG-CNV,WH1,35,,2026-11-20 06:00:00\n"
    )
    [report] = FileDrop(hub.ports, "wms", tmp_path, settle_seconds=0).scan()
    hub.process()

    assert (report.outcome, report.messages, len(report.refused)) == ("processed", 3, 1)
    assert "stock-0600.csv:3: row does not have the header's 6 fields" in report.refused[0]
    moved = Path(report.moved_to)
    assert moved.parent == tmp_path / "processed" and moved.name.endswith("-stock-0600.csv")
    assert "stock-0600.csv:3" in moved.with_name(moved.name + ".report.txt").read_text()
    letters = sorted(hub.dead_letters.list("open"), key=lambda x: x.stage)
    assert [x.stage for x in letters] == ["mapping", "parse"]
    assert letters[0].reason.startswith("stock-0600.csv row 4: ") and "two hundred" in letters[0].reason
    assert stock_position(hub, "TEE-BLK-M", "WH1").on_hand == Decimal(240)
    assert stock_position(hub, "BAG-CNV", "WH1").on_hand == Decimal(35)


def test_an_unreadable_file_goes_to_failed_with_its_reason(
    make_hub: Callable[..., Hub], tmp_path: Path
) -> None:
    hub = make_hub()
    damaged = (FIXTURES / "edi" / "edifact-ORDERS-D01B-EAN010.edi").read_bytes()
    (tmp_path / "partner-orders.edi").write_bytes(damaged)
    [report] = FileDrop(hub.ports, "edi", tmp_path, settle_seconds=0).scan()
    moved = Path(report.moved_to)
    assert report.outcome == "failed" and moved.parent == tmp_path / "failed"
    reason = moved.with_name(moved.name + ".reason.txt").read_text()
    assert "segment 7 (NAD), byte 197: character set fault" in reason
    assert hub.inbox.head() == 0 and len(hub.dead_letters.list("open")) == 1


def test_warehouse_receipts_counts_and_parcels(make_hub: Callable[..., Hub], tmp_path: Path) -> None:
    hub = make_hub(systems={**TEST_SYSTEMS})
    hub.receive("shopify", [order(7001)])
    hub.process()
    (tmp_path / "receipts.csv").write_text(
        "record_type,receipt_id,sku,location,quantity,received_at,purchase_order\n"
        "RECEIPT,GR-1,TEE-BLK-M,WH1,100,2026-11-20 05:00:00,PO-1\n"  # before the count: in it already
        "RECEIPT,GR-2,TEE-BLK-M,WH1,50,2026-11-20 10:00:00,PO-2\n"
    )
    (tmp_path / "stock.csv").write_text(STOCK_HEADER + "STOCK,TEE-BLK-M,WH1,240,12,2026-11-20 06:00:00\n")
    (tmp_path / "shipped.csv").write_text(
        "record_type,order_system,order_ref,shipment_id,carrier,tracking_number,sku,quantity,shipped_at\n"
        "SHIP,shopify,7001,WMS-1,DHL,00340434161094042557,IPOD2008GREEN,1,2026-11-20 16:40:00\n"
        "SHIP,shopify,7001,WMS-1,DHL,00340434161094042557,IPOD2008RED,1,2026-11-20 16:40:00\n"
        "SHIP,shopify,7001,WMS-1,DHL,00340434161094042557,IPOD2008BLACK,1,2026-11-20 16:40:00\n"
    )
    reports = FileDrop(hub.ports, "wms", tmp_path, settle_seconds=0).scan()
    hub.process()
    again = FileDrop(hub.ports, "wms", tmp_path, settle_seconds=0)
    (tmp_path / "shipped-again.csv").write_text(
        (tmp_path / "processed").glob("*shipped.csv").__next__().read_text()
    )
    assert again.scan()[0].duplicates == 3  # the same rows dropped twice are stored once

    assert [r.outcome for r in reports] == ["processed"] * 3
    position = stock_position(hub, "TEE-BLK-M", "WH1")
    assert (position.on_hand, position.allocated) == (Decimal(290), Decimal(12))  # 240 counted + GR-2
    tracked = hub.orders.show("7001", "shopify")
    [parcel] = tracked["shipments"]
    assert len(parcel["lines"]) == 3 and tracked["stage"] == "shipped"  # three rows, one parcel


def test_item_master_from_the_erp_and_the_planners_file_merge(
    make_hub: Callable[..., Hub], erp: Any, tmp_path: Path
) -> None:
    """The ERP knows lead time, lot size and MOQ; the planner's file adds profile and work centre;
    neither wipes out what only the other knows, and the ERP's production orders are open supply."""
    from datetime import datetime

    from adapters.soap import soap_pollers
    from aggregates import MasterRecord, master_id
    from tests.integration.test_erp_adapter import erp_config

    erp.book.add_production_order("CAP-OLV", 200, datetime(2026, 11, 28), status="F")
    hub = make_hub(systems={**TEST_SYSTEMS, "erp": erp_config(erp)})
    reports = soap_pollers(hub.ports)["erp"].poll(["items", "production"])
    assert [r.error for r in reports] == [None, None]
    (tmp_path / "items.csv").write_text(
        "sku,description,lead_time_days,minimum_order,order_multiple,buffer_profile,work_centre,capacity_per_day,updated_at\n"
        "CAP-OLV,,10,,,M21,SEW-1,40,2026-11-20 07:30:00\n"
    )
    FileDrop(hub.ports, "planning", tmp_path, settle_seconds=0).scan()
    hub.process()

    def record(kind: str, ref: str) -> MasterRecord:
        return hub.store.replay([master_id(kind, ref)])[master_id(kind, ref)]

    item = record("item", "CAP-OLV").fields
    assert (item["lead_time_days"], item["order_multiple"], item["minimum_order"]) == ("10", "50", "100")
    assert (item["buffer_profile"], item["work_centre"], item["capacity_per_day"]) == ("M21", "SEW-1", "40")
    supply = record("supply_order", "FA900001").fields
    assert (supply["sku"], supply["quantity"], supply["status"], supply["due_date"]) == (
        "CAP-OLV",
        "200.00",
        "released",
        "2026-11-28",
    )
    assert hub.dead_letters.list("open") == []
