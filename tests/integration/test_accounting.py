"""Given messages stored, repeated, refused, applied, dead-lettered and parked, when the hub
accounts for them, then every message has exactly one place, and a message without one (or with
two) is named by position - on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hub.accounting import Accounting
from hub.bootstrap import Hub
from hub.dead_letters import Failure
from tests.shop_messages import envelope, order, paid


def account_of(hub: Hub, system: str = "shopify", **options) -> dict:
    report = Accounting(hub.store).report(**options)
    return next(s.as_dict() for s in report.systems if s.system == system)


def a_busy_day(hub: Hub) -> None:
    hub.receive("shopify", [order(1), order(2), order(1)])  # one repeat in the batch
    hub.receive("shopify", [order(2), paid(3)])  # a redelivery; a payment for an order not seen yet
    hub.receive("shopify", [envelope("products/update", {"id": 5})])  # no mapping: a dead letter
    hub.ports.refused("shopify", "bad_signature")
    hub.ports.refused("shopify", "bad_signature")
    hub.ports.refused("no-such-shop", "unknown_system")  # not a row of its own
    hub.ports.reject(
        [Failure("shopify", "unreadable:orders.jsonl:7:abc", "parse", "invalid JSON", {"raw": "{"})]
    )
    hub.process()


def test_every_message_received_has_one_place(hub: Hub) -> None:
    a_busy_day(hub)
    report = Accounting(hub.store).report()
    assert report.balanced, report.as_dict()
    shop = account_of(hub)
    assert shop == {
        "system": "shopify",
        "received": 6 + 2 + 1,
        "stored": 4,
        "duplicates": 2,
        "refused": 3,
        "refused_by_reason": {"bad_signature": 2, "dead letter (parse)": 1},
        "applied": 2,
        "applied_before_accounting": 0,
        "dead_lettered": 1,
        "waiting": 1,
        "parked": 1,
        "unprocessed": 0,
        "unaccounted": 0,
        "doubled": 0,
        "difference": 0,
    }
    assert account_of(hub, "(unknown)")["refused_by_reason"] == {"unknown_system": 1}


def test_messages_not_processed_yet_are_waiting(hub: Hub) -> None:
    hub.receive("shopify", [order(1), order(2)])
    shop = account_of(hub)
    assert (shop["stored"], shop["unprocessed"], shop["waiting"], shop["difference"]) == (2, 2, 2, 0)


def test_a_parked_message_released_by_its_order_and_a_replayed_letter_become_applied(hub: Hub) -> None:
    a_busy_day(hub)
    hub.receive("shopify", [order(3)])  # the order the payment waited for
    hub.process()
    shop = account_of(hub)
    assert (shop["applied"], shop["parked"], shop["dead_lettered"]) == (4, 0, 1)
    # The letter's cause fixed (here: its payload made a message a mapping knows), the replay
    # applies it, and it counts once, as applied.
    letter = next(d for d in hub.dead_letters.list() if d.inbox_position is not None)
    with hub.store.transaction() as cursor:
        hub.store.execute(
            cursor,
            "UPDATE hub_dead_letters SET envelope = ? WHERE id = ?",
            (json.dumps(order(9)), letter.id),
        )
    [outcome] = hub.replayer.replay([d for d in hub.dead_letters.list() if d.id == letter.id])
    assert outcome.resolved, outcome
    shop = account_of(hub)
    assert (shop["applied"], shop["dead_lettered"], shop["difference"]) == (5, 0, 0)


def test_a_message_passed_over_or_placed_twice_is_named_by_position(hub: Hub) -> None:
    a_busy_day(hub)
    applied = [
        row["position"] for row in hub.store.query("SELECT position FROM hub_applied ORDER BY position")
    ]
    letter = next(d for d in hub.dead_letters.list() if d.inbox_position is not None)
    with hub.store.transaction() as cursor:
        hub.store.execute(cursor, "DELETE FROM hub_applied WHERE position = ?", (applied[0],))
        hub.store.execute(cursor, "INSERT INTO hub_applied (position) VALUES (?)", (letter.inbox_position,))
    report = Accounting(hub.store).report()
    assert not report.balanced
    assert [(m["position"], m["message_id"]) for m in report.unaccounted] == [(applied[0], "orders/create:1")]
    assert report.doubled == [
        {
            "position": letter.inbox_position,
            "system": "shopify",
            "message_id": letter.message_id,
            "places": ["applied", "dead"],
        }
    ]
    shop = account_of(hub)
    assert (shop["unaccounted"], shop["doubled"], shop["difference"]) == (1, 1, 0)


def test_since_counts_only_what_was_received_from_then_on(hub: Hub) -> None:
    a_busy_day(hub)
    later = datetime.now(UTC) + timedelta(hours=2)
    assert Accounting(hub.store).report(later).systems == []
    earlier = datetime.now(UTC) - timedelta(hours=2)
    assert account_of(hub, since=earlier)["received"] == 9


def test_messages_processed_before_the_ledger_existed_are_applied_before_accounting(
    hub: Hub, make_hub
) -> None:
    hub.receive("shopify", [order(1), order(2)])
    hub.process()
    hub.receive("shopify", [order(4)])  # stored, not processed yet when the new version starts
    # A database from before the ledger: no outcomes and no start mark.
    with hub.store.transaction() as cursor:
        hub.store.execute(cursor, "DELETE FROM hub_applied")
        hub.store.execute(cursor, "DELETE FROM hub_accounting_start")
    reopened = make_hub()
    reopened.receive("shopify", [order(3)])
    reopened.process()
    shop = account_of(reopened)
    assert (shop["applied"], shop["applied_before_accounting"], shop["unaccounted"]) == (2, 2, 0)
    assert Accounting(reopened.store).report().balanced
