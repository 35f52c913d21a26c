"""The warehouse's files for the demo: a stock count per item and the goods that came in since."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from simulators.traffic import CATALOGUE

__all__ = ["drop_file", "drop_warehouse_files"]

_HEADERS = {
    "stock": "record_type,sku,location,on_hand,allocated,counted_at",
    "receipts": "record_type,receipt_id,sku,location,quantity,received_at,purchase_order",
}


def drop_warehouse_files(folder: Path, rng: random.Random, counted: datetime) -> list[Path]:
    """Writes ``stock-*.csv`` and ``receipts-*.csv`` the way a WMS does: as .part, then renamed."""
    stamp = counted.strftime("%Y%m%d-%H%M")
    at = counted.strftime("%Y-%m-%d %H:%M:%S")
    stock = [f"STOCK,{sku},WH1,{rng.randint(20, 400)},{rng.randint(0, 25)},{at}" for sku, _, _ in CATALOGUE]
    stock.append(f"STOCK,{CATALOGUE[0][0]},WH2,many,0,{at}")  # a typo in the WMS export
    arrived = (counted + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M:%S")
    receipts = [
        f"RECEIPT,GR-{4711 + i},{sku},WH1,{rng.choice([50, 100, 200])},{arrived},PO-{8800 + i}"
        for i, (sku, _, _) in enumerate(CATALOGUE[:3])
    ]
    return [
        drop_file(folder, f"{kind}-{stamp}.csv", _HEADERS[kind], rows)
        for kind, rows in (("stock", stock), ("receipts", receipts))
    ]


def drop_file(folder: Path, name: str, header: str | None, rows: list[str]) -> Path:
    """Write as a sender does: to ``.part``, renamed when complete (the drop ignores ``.part``)."""
    final = folder / name
    part = final.with_name(final.name + ".part")
    part.write_text("\n".join([header, *rows] if header else rows) + "\n", encoding="utf-8")
    part.rename(final)
    return final
