"""A marketplace's nightly exports through `hub ingest`, one file per message kind, last step first.

The exports have the columns of the public Olist e-commerce dataset (orders with their items,
payment rows with instalments and vouchers, carrier hand-overs, deliveries, reviews) in the
marketplace's local time. Reviews arrive before deliveries, deliveries before hand-overs, and
the orders last: every fact waits for its order or is placed where it belongs in time, and the
views equal those of the same exports ingested in time order.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from tests.e2e.test_cli import hub

CONFIG = '[systems.marketplace]\ntimezone = "America/Sao_Paulo"\n'

ORDERS = [  # id, purchase time, items (product, price, freight)
    (
        "e481f51cbdc54678b7cc49136f2d6af7",
        "2017-10-02 10:56:33",
        [("87285b34884572647811a353", "29.99", "8.72")],
    ),
    (
        "53cdb2fc8bc7dce0b6741e2150273451",
        "2018-07-24 20:41:37",
        [("595fac2a385ac33a80bd5114", "118.70", "22.76")],
    ),
    ("a2e4c44360b4a57bdff22f3a4630c173", "2016-10-05 22:44:13", []),  # "unavailable": no items
    (
        "47770eb9100c2d0c44946d9cf07ec65d",
        "2018-08-08 08:38:49",
        [("aa4383b373c6aca5d8797843", "90.00", "10.00")],
    ),
    (
        "949d5b44dbf5de918fe9c16f97b45f8a",
        "2017-11-18 19:28:06",
        [("d0b61bfb1de832b15ba9d266", "45.00", "27.20")],
    ),
    (
        "ad21c59c0840e6cb83a9ceb5573f8159",
        "2018-02-13 21:18:39",
        [("65266b2da20d04dbe00c5c2d", "19.90", "8.72")],
    ),
]
PAYMENTS = [  # order, sequence, type, instalments, value, approved at
    ("e481f51cbdc54678b7cc49136f2d6af7", "1", "credit_card", "1", "18.12", "2017-10-02 11:07:15"),
    ("e481f51cbdc54678b7cc49136f2d6af7", "3", "voucher", "1", "2.00", "2017-10-02 11:07:15"),
    ("e481f51cbdc54678b7cc49136f2d6af7", "2", "voucher", "1", "18.59", "2017-10-02 11:07:15"),
    ("53cdb2fc8bc7dce0b6741e2150273451", "1", "boleto", "1", "141.46", "2018-07-26 03:24:27"),
    ("a2e4c44360b4a57bdff22f3a4630c173", "1", "credit_card", "2", "39.99", "2016-10-06 15:51:38"),
    # Ten instalments, each rounded: 3 centavos short of 100.00, within the tolerance of 0.05.
    ("47770eb9100c2d0c44946d9cf07ec65d", "1", "credit_card", "10", "99.97", "2018-08-08 08:55:23"),
    ("949d5b44dbf5de918fe9c16f97b45f8a", "1", "credit_card", "3", "72.20", "2017-11-18 19:45:59"),
    ("ad21c59c0840e6cb83a9ceb5573f8159", "1", "pix", "0", "28.62", "2018-02-13 22:20:29"),  # unknown type
]
CARRIER = [
    ("e481f51cbdc54678b7cc49136f2d6af7", "2017-10-04 19:55:00"),
    ("53cdb2fc8bc7dce0b6741e2150273451", "2018-07-26 14:31:00"),
    ("47770eb9100c2d0c44946d9cf07ec65d", "2018-08-08 13:50:00"),
    ("949d5b44dbf5de918fe9c16f97b45f8a", "2017-11-22 13:39:59"),
]
DELIVERIES = [
    ("e481f51cbdc54678b7cc49136f2d6af7", "2017-10-10 21:25:13"),
    ("53cdb2fc8bc7dce0b6741e2150273451", "2018-08-07 15:27:45"),
    ("47770eb9100c2d0c44946d9cf07ec65d", "2018-08-17 18:06:29"),
]
REVIEWS = [  # review, order, score, created (a review may come before the delivery)
    ("a54f0611adc9ed256b57ede6b6eb5114", "e481f51cbdc54678b7cc49136f2d6af7", "4", "2017-10-11 00:00:00"),
    ("8d5266042046a06655c8db133d120ba5", "53cdb2fc8bc7dce0b6741e2150273451", "4", "2018-08-01 00:00:00"),
    ("e73b67b67587f7644d5bd1a52deb1b01", "ad21c59c0840e6cb83a9ceb5573f8159", "5", "2018-02-16 00:00:00"),
]


def _csv(path: Path, header: list[str], rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def exports(folder: Path) -> dict[str, Path]:
    """The marketplace's five exports, one per message kind."""
    folder.mkdir()
    orders = folder / "orders.jsonl"
    orders.write_text(
        "".join(
            json.dumps(
                {
                    "order_id": order_id,
                    "customer_id": f"c-{order_id[:8]}",
                    "order_purchase_timestamp": placed,
                    "items": [
                        {"order_item_id": str(n), "product_id": p, "price": price, "freight_value": freight}
                        for n, (p, price, freight) in enumerate(items, start=1)
                    ],
                }
            )
            + "\n"
            for order_id, placed, items in ORDERS
        )
    )
    return {
        "orders": orders,
        "payments": _csv(
            folder / "payments.csv",
            [
                "order_id",
                "payment_sequential",
                "payment_type",
                "payment_installments",
                "payment_value",
                "order_approved_at",
            ],
            PAYMENTS,
        ),
        "carrier": _csv(folder / "carrier.csv", ["order_id", "order_delivered_carrier_date"], CARRIER),
        "deliveries": _csv(
            folder / "deliveries.csv", ["order_id", "order_delivered_customer_date"], DELIVERIES
        ),
        "reviews": _csv(
            folder / "reviews.csv", ["review_id", "order_id", "review_score", "review_creation_date"], REVIEWS
        ),
    }


def ingest(folder: Path, files: list[Path]) -> tuple[str, dict[str, dict[str, Any]]]:
    folder.mkdir()
    (folder / "hub.toml").write_text(CONFIG)
    result = hub(folder, "ingest", "--system", "marketplace", *map(str, files))
    views = json.loads(hub(folder, "orders", "list", "--json").stdout)
    for view in views:  # which messages changed it, and when recorded: arrival, by nature
        del view["sources"], view["updated_at"]
    return result.stdout, {view["order_ref"]: view for view in views}


def test_nightly_exports_last_step_first_give_the_views_of_time_order(tmp_path: Path) -> None:
    files = exports(tmp_path / "exports")
    backwards = [files[k] for k in ("reviews", "deliveries", "carrier", "payments", "orders")]
    report, views = ingest(tmp_path / "backwards", backwards)
    assert "received 24, duplicates 0, stored 24, unreadable 0, processed 24, dead-lettered 0" in report
    _, in_order = ingest(tmp_path / "in-order", backwards[::-1])
    assert views == in_order

    stages = {ref[:8]: (view["stage"], [a["code"] for a in view["anomalies"]]) for ref, view in views.items()}
    assert stages == {
        "e481f51c": ("confirmed", []),  # three payment rows (two vouchers) cover 38.71
        "53cdb2fc": ("confirmed", []),  # reviewed before the delivery: confirmed once delivered
        "a2e4c443": ("paid", ["no_lines", "paid_not_shipped"]),
        "47770eb9": ("delivered", ["delivered_unconfirmed"]),  # 99.97 of 100.00 in ten instalments
        "949d5b44": ("shipped", []),
        "ad21c59c": ("paid", ["confirmed_before_delivery", "paid_not_shipped"]),
    }
    first = views["e481f51cbdc54678b7cc49136f2d6af7"]
    assert (first["placed_at"], first["paid_at"], first["shipped_at"], first["delivered_at"]) == (
        "2017-10-02T13:56:33+00:00",
        "2017-10-02T14:07:15+00:00",
        "2017-10-04T22:55:00+00:00",
        "2017-10-11T00:25:13+00:00",
    )
    assert {p["method"] for p in first["payments"]} == {"card", "voucher"}
    short = views["47770eb9100c2d0c44946d9cf07ec65d"]
    assert (short["paid_amount"], short["payments"][0]["instalments"]) == ("99.97", 10)


def test_an_unreadable_optional_field_keeps_the_payment_and_is_noted(tmp_path: Path) -> None:
    files = exports(tmp_path / "exports")
    folder = tmp_path / "hub"
    ingest(folder, [files["orders"], files["payments"]])
    assert json.loads(hub(folder, "deadletters", "list", "--json").stdout) == []
    history = json.loads(hub(folder, "audit", "history", "ad21c59c0840e6cb83a9ceb5573f8159", "--json").stdout)
    (payment,) = [entry for entry in history if entry["event"] == "Order.PaymentRecorded"]
    notes = {note["field"]: note for note in payment["notes"]}
    assert notes["method"]["value"] == '"pix"' and "not in lookup table" in notes["method"]["reason"]
    assert notes["instalments"]["value"] == '"0"'
    metrics = hub(folder, "orders", "show", "ad21c59c0840e6cb83a9ceb5573f8159", "--json").stdout
    assert json.loads(metrics)["payments"][0]["method"] is None
