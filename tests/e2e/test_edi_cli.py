"""EDI files through ``hub ingest`` as an operator drops them: a partner's purchase order becomes an
order, its ship notice moves it on, and a damaged interchange is refused whole, with its reason."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import FIXTURES
from tests.e2e.test_cli import hub

EDI = FIXTURES / "edi"


def ship_notice_for_the_850() -> str:
    """An 856 from the same partner for two of the 850's lines (the real 856 concerns other orders)."""
    segments = [
        "ISA*00*          *00*          *ZZ*ABCDEFGHIJKLMNO*ZZ*123456789012345*101201*0900*U*00401"
        "*000000777*0*P*>",  # the fixed-width ISA (106 characters with its terminator)
        "GS*SH*ABCDEFGHIJKLMNO*123456789012345*20101201*0900*77*X*004010",
        "ST*856*0001",
        "BSN*00*ASN-4711*20101201*0900*0001",
        "HL*1**S",
        "TD5**2*UPSN**UPS",
        "REF*CN*1Z999AA10123456784",
        "HL*2*1*O",
        "PRF*08292233294",
        "HL*3*2*I",
        "LIN**VN*AB3542",
        "SN1**120*EA",
        "HL*4*2*I",
        "LIN**VN*RD5322",
        "SN1**100*EA",
        "CTT*4",
        "SE*15*0001",
        "GE*1*77",
        "IEA*1*000000777",
    ]
    return "\n".join(segments) + "\n"


def test_edi_purchase_order_ship_notice_and_a_damaged_interchange(tmp_path: Path) -> None:
    notice = tmp_path / "asn-4711.edi"
    notice.write_text(ship_notice_for_the_850())
    result = hub(
        tmp_path,
        "ingest",
        "--system",
        "edi",
        str(EDI / "x12-850.OK.edi"),
        str(notice),
        str(EDI / "edifact-ORDERS-D01B-EAN010.edi"),
        str(EDI / "x12-940.OK.edi"),
    )
    assert "unreadable 1" in result.stdout  # the damaged interchange, refused whole

    order = json.loads(hub(tmp_path, "orders", "show", "08292233294", "--json").stdout)
    assert (order["channel"], order["total_amount"], order["currency"]) == ("edi", "13045.94", "USD")
    assert order["stage"] == "partially_shipped"
    [shipment] = order["shipments"]
    assert (shipment["shipment_id"], shipment["carrier"], shipment["tracking_number"]) == (
        "ASN-4711",
        "UPS",
        "1Z999AA10123456784",
    )
    assert shipment["lines"] == [{"sku": "AB3542", "quantity": "120"}, {"sku": "RD5322", "quantity": "100"}]

    letters = {x["stage"]: x for x in json.loads(hub(tmp_path, "deadletters", "list", "--json").stdout)}
    assert "segment 7 (NAD), byte 197: character set fault" in letters["parse"]["reason"]
    assert "no mapping in" in letters["mapping"]["reason"] and "940" in json.dumps(
        json.loads(hub(tmp_path, "deadletters", "show", str(letters["mapping"]["id"]), "--json").stdout)
    )


def test_hub_files_watch_takes_a_drop_folder_once(tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "stock.csv").write_text(
        "record_type,sku,location,on_hand,allocated,counted_at\n"
        "STOCK,TEE-BLK-M,WH1,240,12,2026-11-20 06:00:00\n"
        "STOCK,CAP-OLV,WH1\n"
    )
    (drop / "orders.edi").write_bytes((EDI / "x12-850.OK.edi").read_bytes())
    (drop / "late.csv.part").write_text("record_type,sku\n")
    out = hub(tmp_path, "files", "watch", "wms", "--folder", str(drop), "--once", "--settle", "0", "--json")
    result = json.loads(out.stdout)
    taken = {r["file"]: r for r in result["taken"]}
    assert taken["stock.csv"]["outcome"] == "processed" and taken["stock.csv"]["messages"] == 1
    assert "stock.csv:3: row does not have the header's 6 fields" in taken["stock.csv"]["refused"][0]
    assert taken["orders.edi"]["messages"] == 1
    assert result["waiting"] == [] and (drop / "late.csv.part").exists()
    assert sorted(p.name.split("-", 1)[1] for p in (drop / "processed").iterdir()) == [
        "orders.edi",
        "stock.csv",
        "stock.csv.report.txt",
    ]
    missing = hub(tmp_path, "files", "watch", "wms", "--once", check=False)
    assert missing.returncode == 2 and "systems.wms.drop_folder" in missing.stderr
