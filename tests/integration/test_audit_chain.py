"""Tamper evidence: plain SQL that changes, deletes, inserts or reorders events is caught by
``verify`` at the right position; rewriting the links too is caught by a checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from hub.audit.chain import GENESIS, link
from hub.audit.verify import checkpoint, verify
from hub.bootstrap import Hub
from simulators.bulk import shop_messages


@pytest.fixture
def recorded(make_hub: Callable[..., Hub]) -> Hub:
    hub = make_hub()
    hub.receive("shopify", list(shop_messages(60, seed=2)))
    hub.process()
    assert hub.store.head() > 40
    return hub


def _column(hub: Hub) -> str:
    return "rowid" if hub.store.dialect == "sqlite" else "notification_id"


def _as_owner(hub: Hub, *statements: tuple[str, tuple[Any, ...]]) -> None:
    """What someone with the database owner's rights could do: lift the guard, change rows."""
    table = hub.store.recorder.events_table_name
    with hub.store.transaction() as cursor:
        if hub.store.dialect == "sqlite":
            for operation in ("update", "delete"):
                cursor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")
                cursor.execute(f"DROP TRIGGER IF EXISTS hub_chain_no_{operation}")
        else:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            cursor.execute("ALTER TABLE hub_chain DISABLE TRIGGER USER")
        for statement, params in statements:
            hub.store.execute(cursor, statement, params)


def test_an_untouched_log_verifies(recorded: Hub) -> None:
    report = verify(recorded.store)
    assert report.ok and report.checked == recorded.store.head() and report.head == recorded.store.head()


def test_events_inserted_through_eventsourcing_itself_are_chained(recorded: Hub) -> None:
    """The chain is part of the recorder eventsourcing is configured with, not of the hub's own
    write path: its public ``insert_events`` links the events too."""
    head = recorded.store.head()
    stored = [
        StoredEvent(originator_id=uuid4(), originator_version=1, topic="test:Inserted", state=b"{}")
        for _ in range(3)
    ]
    ids = recorded.store.recorder.insert_events(stored)
    assert list(ids) == [head + 1, head + 2, head + 3]
    report = verify(recorded.store)
    assert report.ok and report.checked == head + 3


def test_the_hub_itself_cannot_update_or_delete_events(recorded: Hub) -> None:
    table = recorded.store.recorder.events_table_name
    for statement in (f"UPDATE {table} SET topic = topic", f"DELETE FROM {table}", "DELETE FROM hub_chain"):
        with pytest.raises(Exception, match="append-only"), recorded.store.transaction() as cursor:
            cursor.execute(statement)
    assert verify(recorded.store).ok


def test_a_changed_event_is_named(recorded: Hub) -> None:
    table, column = recorded.store.recorder.events_table_name, _column(recorded)
    _as_owner(recorded, (f"UPDATE {table} SET state = ? WHERE {column} = ?", (b'{"forged":true}', 17)))
    report = verify(recorded.store)
    assert not report.ok and report.position == 17 and "changed" in (report.problem or "")


def test_a_deleted_event_is_named(recorded: Hub) -> None:
    table, column = recorded.store.recorder.events_table_name, _column(recorded)
    _as_owner(recorded, (f"DELETE FROM {table} WHERE {column} = ?", (9,)))
    report = verify(recorded.store)
    assert not report.ok and report.position == 9 and "deleted" in (report.problem or "")


def test_an_inserted_event_is_named(recorded: Hub) -> None:
    table = recorded.store.recorder.events_table_name
    head = recorded.store.head()
    with recorded.store.reading() as cursor:
        cursor.execute(
            recorded.store.sql(
                f"SELECT originator_id, topic, state FROM {table} WHERE {_column(recorded)} = ?"
            ),
            (3,),
        )
        row = cursor.fetchone()
    _as_owner(
        recorded,
        (
            f"INSERT INTO {table} (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
            (row["originator_id"], 999, row["topic"], row["state"]),
        ),
    )
    report = verify(recorded.store)
    assert not report.ok and report.position == head + 1 and "inserted" in (report.problem or "")


def test_reordered_events_are_named(recorded: Hub) -> None:
    table, column = recorded.store.recorder.events_table_name, _column(recorded)
    _as_owner(
        recorded,
        (f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (-1, 20)),
        (f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (20, 21)),
        (f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (21, -1)),
    )
    report = verify(recorded.store)
    assert not report.ok and report.position == 20


def test_rewritten_links_pass_alone_but_not_against_a_checkpoint(recorded: Hub) -> None:
    mark = checkpoint(recorded.store)
    store = recorded.store
    table, column = store.recorder.events_table_name, _column(recorded)
    # The forger changes an event and recomputes every link after it.
    _as_owner(recorded, (f"UPDATE {table} SET state = ? WHERE {column} = ?", (b'{"forged":true}', 5)))
    rows = store.query(
        f"SELECT {column} AS position, originator_id, originator_version, topic, state FROM {table} "
        f"ORDER BY {column}"
    )
    from uuid import UUID

    previous, statements = GENESIS, []
    for row in rows:
        originator = row["originator_id"]
        originator = originator if isinstance(originator, UUID) else UUID(originator)
        previous = link(
            previous,
            row["position"],
            originator,
            row["originator_version"],
            row["topic"],
            bytes(row["state"]),
        )
        statements.append(("UPDATE hub_chain SET link = ? WHERE position = ?", (previous, row["position"])))
    _as_owner(recorded, *statements)
    assert verify(store).ok  # a consistent forgery …
    report = verify(store, against=mark)  # … but not the history the auditor holds
    assert not report.ok and report.position == mark.position and "checkpoint" in (report.problem or "")


def test_a_log_that_grew_after_the_checkpoint_still_extends_it(recorded: Hub) -> None:
    mark = checkpoint(recorded.store)
    recorded.receive("shopify", list(shop_messages(30, seed=99)))
    recorded.process()
    report = verify(recorded.store, against=mark)
    assert report.ok and report.head > mark.position


@pytest.mark.parametrize(
    ("statement", "where"),
    [
        ("UPDATE {table} SET state = CAST(state AS TEXT) WHERE rowid = 12", 12),  # bytes rewritten as text
        ("UPDATE {table} SET originator_id = 'not-an-id' WHERE rowid = 13", 13),
        ("UPDATE {table} SET originator_version = 'seven' WHERE rowid = 14", 14),
        ("UPDATE hub_chain SET link = hex(link) WHERE position = 15", 15),
    ],
)
def test_a_value_rewritten_with_another_type_is_named_not_a_crash(
    sqlite_url: str, statement: str, where: int
) -> None:
    """SQLite keeps any type in any column: someone with write access to the file can store an
    event's bytes as text. Verify names the position (what a flipped byte gets), never a
    TypeError. (PostgreSQL's typed columns refuse such a value.)"""
    from hub.bootstrap import bootstrap
    from tests.conftest import hub_settings

    hub = bootstrap(hub_settings(sqlite_url))
    try:
        hub.receive("shopify", list(shop_messages(30, seed=3)))
        hub.process()
        _as_owner(hub, (statement.format(table=hub.store.recorder.events_table_name), ()))
        report = verify(hub.store)
        assert not report.ok and report.position == where, report
        assert f"position {where}" in (report.problem or "")
    finally:
        hub.close()
