"""The distributed path against a real broker (Tansu) and PostgreSQL: ``hub worker`` processes,
the relay publishes, and crashes, rebalances and poison messages change nothing they must not."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from aggregates import CustomerLink, MatchingModel
from aggregates.identity import order_id
from entrypoints.settings import load_settings
from hub.accounting import Accounting
from hub.bootstrap import Hub, bootstrap
from hub.catalog import MappingCatalog
from hub.metrics import HubMetrics
from hub.settings import HubSettings
from hub.store import Store
from hub.streaming.codec import processed_records
from hub.streaming.publisher import RawPublisher
from hub.streaming.relay import EventRelay
from hub.streaming.topics import create_topics
from tests.conftest import ROOT, hub_settings
from tests.shop_messages import envelope
from tests.streaming_support import HubProcess, S3Server, TansuBroker

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PARTITIONS = 4


def write_config(path: Path, database_url: str, broker: str, **streaming: Any) -> Path:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    values = {
        "brokers": broker,
        "app_id": prefix,
        "topic_prefix": prefix,
        "partitions": PARTITIONS,
        "session_timeout_seconds": 6,
        "stall_after_seconds": 30,
        **streaming,
    }
    lines = [
        f'database_url = "{database_url}"',
        'transport = "kafka"',
        f'mappings_dir = "{ROOT / "mappings"}"',
        "[streaming]",
        *(f"{k} = {json.dumps(v)}" for k, v in values.items()),
        "[systems.shopify]",
        'adapter = "shopify"',
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def publish(settings: HubSettings, envelopes: list[dict[str, Any]]) -> None:
    async def send() -> None:
        await create_topics(settings, ["shopify"])
        publisher = RawPublisher(settings, MappingCatalog(settings), HubMetrics())
        await publisher.start()
        try:
            for start in range(0, len(envelopes), 500):
                await publisher.publish("shopify", envelopes[start : start + 500])
        finally:
            await publisher.stop()

    asyncio.run(send())


@pytest.fixture
def workers() -> Iterator[Callable[..., HubProcess]]:
    started: list[HubProcess] = []

    def start(config: Path, name: str, log: Path) -> HubProcess:
        worker = HubProcess(config, ["worker", "--name", name], log)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_until(condition: Callable[[], bool], timeout: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    tails = "\n".join(f"--- {log}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


Sequences = dict[Any, list[tuple[str, str | None]]]
_BOOKKEEPING = ("_id", "_version", "_created_on", "_modified_on", "_pending_events")


def event_sequences(store: Store) -> Sequences:
    """Every aggregate's events in version order, as (event type, source message id)."""
    sequences: Sequences = {}
    position = 0
    while notifications := store.notifications(position, 5000):
        for notification in notifications:
            event = store.decode(notification)
            provenance = getattr(event, "provenance", None) or {}
            sequences.setdefault(event.originator_id, []).append(
                (type(event).__qualname__, provenance.get("message_id"))
            )
        position = notifications[-1].id
    return sequences


def final_states(store: Store, ids: Iterable[Any]) -> dict[Any, dict[str, Any]]:
    """Each aggregate's state after all its events (without versions and timestamps)."""
    states = {}
    for aggregate_id, events in store.events_of(ids).items():
        aggregate = None
        for event in events:
            aggregate = event.mutate(aggregate)
        states[aggregate_id] = {k: v for k, v in vars(aggregate).items() if k not in _BOOKKEEPING}
    return states


def reference_run(envelopes: list[dict[str, Any]], tmp_path: Path) -> tuple[Sequences, dict[Any, Any]]:
    """The same messages through the embedded path, uninterrupted, in one process."""
    hub = bootstrap(hub_settings(f"sqlite:///{tmp_path / 'reference.db'}"))
    try:
        hub.receive("shopify", envelopes)
        hub.process()
        # Identity decisions (and the matcher's model, trained by the identity resolver) are made
        # by the customers runner, which the distributed runs compared with this one do not
        # start: the workers' part is everything else.
        identity = (CustomerLink.__name__, MatchingModel.__name__)
        sequences = {
            key: events
            for key, events in event_sequences(hub.store).items()
            if not events[0][0].startswith(identity)
        }
        return sequences, final_states(hub.store, sequences)
    finally:
        hub.close()


@pytest.mark.parametrize("fault", ["sigkill", "paused_past_its_session"])
def test_two_workers_survive_a_sigkill_or_a_zombie_with_the_same_result_as_an_uninterrupted_run(
    postgres_url: str, kafka_broker: str, workers: Callable[..., HubProcess], tmp_path: Path, fault: str
) -> None:
    """SIGKILL: the worker is gone. Paused (SIGSTOP) past its session timeout: the group gives
    its partitions to the other worker, and then it wakes up (SIGCONT) in the middle of a batch it
    believes it still owns - a zombie, whose late commit must change nothing."""
    from simulators.bulk import shop_messages

    envelopes = list(shop_messages(6000, seed=7))
    config = write_config(tmp_path / "hub.toml", postgres_url, kafka_broker, batch_size=200)
    settings = load_settings(config)
    hub = bootstrap(settings)
    try:
        publish(settings, envelopes)
        logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
        first = workers(config, "w1", logs[0])
        second = workers(config, "w2", logs[1])
        # Both workers share the four partitions before the first one dies mid-stream.
        wait_until(
            lambda: all((h := w.health()) and h["partitions"] for w in (first, second)),
            90,
            "both workers to own partitions",
            logs,
        )
        wait_until(
            lambda: processed_records(hub.store, settings.streaming.raw_topic("shopify")) >= 600,
            90,
            "processing to start",
            logs,
        )
        if fault == "sigkill":
            first.kill()
        else:
            first.process.send_signal(signal.SIGSTOP)
        assert processed_records(hub.store, settings.streaming.raw_topic("shopify")) < len(envelopes), (
            "the fault came too late to prove anything"
        )
        # The survivor takes over the dead worker's partitions once its session times out; the
        # dead one may have finished its own partitions first, so wait for the rebalance itself.
        wait_until(
            lambda: (h := second.health()) is not None and len(h["partitions"]) == PARTITIONS,
            90,
            "the survivor to own every partition",
            logs,
        )
        if fault != "sigkill":
            first.process.send_signal(signal.SIGCONT)  # the zombie wakes up mid-batch
        wait_until(
            lambda: processed_records(hub.store, settings.streaming.raw_topic("shopify")) == len(envelopes),
            180,
            "the survivor to finish",
            logs,
        )
        if fault != "sigkill":
            # Whatever the zombie still had in hand is written or refused by now.
            wait_until(lambda: first.health() is not None, 90, "the zombie to answer again", logs)
            time.sleep(3)

        distributed = event_sequences(hub.store)
        states = final_states(hub.store, distributed)
        inbox = hub.store.query("SELECT COUNT(*) AS n FROM hub_inbox")[0]["n"]
        dead = hub.dead_letters.count()
        accounts = Accounting(hub.store).report(streaming=True)
    finally:
        hub.close()

    reference, reference_states = reference_run(envelopes, tmp_path)
    assert inbox == len(envelopes) and dead == 0
    # Every record stored and applied once, whatever the broker delivered again after the kill.
    assert accounts.balanced, accounts.as_dict()
    assert [(a.stored, a.applied) for a in accounts.systems] == [(len(envelopes), len(envelopes))]
    # The same final state, aggregate by aggregate, as the uninterrupted run.
    assert states == reference_states
    # No loss, no duplicate: each order has exactly the events of the uninterrupted run. (A
    # customer embedded in orders of several partitions may see its snapshots in another order;
    # the newest snapshot wins either way, which the equal final states above prove.)
    orders = {k for k, seq in reference.items() if seq[0][0] == "Order.Placed"}
    assert len(orders) > 1000
    assert {k: distributed[k] for k in orders} == {k: reference[k] for k in orders}
    # Per-entity order kept: each order's messages were applied in the order they were sent.
    sent_at = {env_id: i for i, env_id in enumerate(_message_ids(settings, envelopes))}
    for sequence in distributed.values():
        positions = [sent_at[m] for _, m in sequence if m is not None]
        assert positions == sorted(positions)


def test_two_workers_sharing_customers_across_partitions_agree_with_an_uninterrupted_run(
    postgres_url: str, kafka_broker: str, workers: Callable[..., HubProcess], tmp_path: Path
) -> None:
    """40 customers behind 3,000 orders in four partitions: both workers touch the same
    customers all the time, and neither may lose, repeat or block on the other's changes."""
    from simulators.bulk import shop_messages

    envelopes = list(shop_messages(6000, seed=9, customers=40))
    config = write_config(tmp_path / "hub.toml", postgres_url, kafka_broker, batch_size=500)
    settings = load_settings(config)
    topic = settings.streaming.raw_topic("shopify")
    hub = bootstrap(settings)
    try:
        publish(settings, envelopes)
        logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
        started = [workers(config, f"w{index}", log) for index, log in enumerate(logs)]
        wait_until(lambda: processed_records(hub.store, topic) == len(envelopes), 180, "both workers", logs)
        # Locked before read: no batch had to be redone because the other worker got there first.
        for worker in started:
            metrics = httpx.get(f"http://127.0.0.1:{worker.port}/metrics").text
            assert "hub_batch_retries_total 0.0" in metrics
        distributed = event_sequences(hub.store)
        states = final_states(hub.store, distributed)
        dead = hub.dead_letters.count()
        parked = hub.parked.count()
    finally:
        hub.close()
    _, reference_states = reference_run(envelopes, tmp_path)
    assert dead == 0 and parked == 0
    assert states == reference_states


def test_a_broker_killed_and_restarted_mid_stream_loses_nothing_and_doubles_nothing(
    postgres_url: str, workers: Callable[..., HubProcess], tmp_path: Path
) -> None:
    """The broker SIGKILLed while a worker is mid-stream and started again on its storage (S3 on
    loopback) a few seconds later: the worker reconnects, the rest is published after the
    restart, and every message is applied once, in order, as in an uninterrupted run."""
    from simulators.bulk import shop_messages

    storage = S3Server(tmp_path / "s3.log").start()
    broker = TansuBroker(tmp_path / "tansu.log", storage=storage).start()
    try:
        envelopes = list(shop_messages(3000, seed=3))
        before, after = envelopes[:2000], envelopes[2000:]
        config = write_config(tmp_path / "hub.toml", postgres_url, broker.address, batch_size=100)
        settings = load_settings(config)
        topic = settings.streaming.raw_topic("shopify")
        hub = bootstrap(settings)
        try:
            publish(settings, before)
            logs = [tmp_path / "w1.log", tmp_path / "tansu.log"]
            workers(config, "w1", logs[0])
            wait_until(lambda: processed_records(hub.store, topic) >= 300, 90, "processing to start", logs)
            broker.kill()
            assert processed_records(hub.store, topic) < len(before), "the fault came too late"
            time.sleep(3)
            broker.start()
            publish(settings, after)
            wait_until(
                lambda: processed_records(hub.store, topic) == len(envelopes),
                240,
                "every message after the restart",
                logs,
            )
            distributed = event_sequences(hub.store)
            inbox = hub.store.query("SELECT COUNT(*) AS n FROM hub_inbox")[0]["n"]
            dead = hub.dead_letters.count()
            accounts = Accounting(hub.store).report(streaming=True)
        finally:
            hub.close()
    finally:
        broker.stop()
        storage.stop()
    # The outage is in the worker's log, a line of each kind, not the client's ten a second.
    unreachable = logs[0].read_text().count("Unable connect to node")
    assert 1 <= unreachable <= 3, unreachable
    reference, _ = reference_run(envelopes, tmp_path)
    assert inbox == len(envelopes) and dead == 0
    assert accounts.balanced, accounts.as_dict()
    assert [(a.stored, a.applied) for a in accounts.systems] == [(len(envelopes), len(envelopes))]
    orders = {k for k, seq in reference.items() if seq[0][0] == "Order.Placed"}
    assert len(orders) > 500
    assert {k: distributed[k] for k in orders} == {k: reference[k] for k in orders}


def _message_ids(settings: HubSettings, envelopes: list[dict[str, Any]]) -> list[str]:
    mappings = MappingCatalog(settings).mappings("shopify")
    return [mappings.message_id(e) for e in envelopes]


async def _consume_all(broker: str, topic: str, expected: int, timeout: float = 60) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker,
        group_id=f"check-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for batch in batches.values():
                records.extend(batch)
        # Anything beyond what was expected would be a duplicate: give it a moment to show.
        for batch in (await consumer.getmany(timeout_ms=1000)).values():
            records.extend(batch)
    finally:
        await consumer.stop()
    return records


def test_a_poison_message_goes_to_the_dead_letter_topic_and_list_while_the_partition_moves_on(
    postgres_url: str, kafka_broker: str, workers: Callable[..., HubProcess], tmp_path: Path
) -> None:
    from tests.shop_messages import order

    config = write_config(tmp_path / "hub.toml", postgres_url, kafka_broker, partitions=1)
    settings = load_settings(config)
    hub = bootstrap(settings)
    try:
        before = [order(1001), envelope("orders/unknown-topic", {"id": 1002})]
        after = [order(1003), order(1004)]
        publish(settings, before)

        async def send_garbage() -> None:
            producer = AIOKafkaProducer(bootstrap_servers=kafka_broker, acks="all")
            await producer.start()
            try:
                await producer.send_and_wait(settings.streaming.raw_topic("shopify"), b"\x00not json{")
            finally:
                await producer.stop()

        asyncio.run(send_garbage())
        publish(settings, after)
        log = tmp_path / "w.log"
        workers(config, "w", log)
        wait_until(
            lambda: processed_records(hub.store, settings.streaming.raw_topic("shopify")) == 5,
            90,
            "all five records",
            [log],
        )

        letters = {letter.stage: letter for letter in hub.dead_letters.list()}
        assert set(letters) == {"mapping", "parse"}
        assert "orders/unknown-topic" in letters["mapping"].reason
        # The unreadable record is named by topic, partition and offset.
        assert letters["parse"].reason.startswith(f"{settings.streaming.raw_topic('shopify')}[0]@2: ")
        # The messages behind the poison were processed.
        placed = hub.store.events_of([order_id("shopify", ref) for ref in ("1001", "1003", "1004")])
        assert len(placed) == 3
        assert hub.store.query("SELECT COUNT(*) AS n FROM hub_inbox")[0]["n"] == 4
        published = asyncio.run(_consume_all(kafka_broker, settings.streaming.dead_letter_topic, 2))
        stages = sorted(json.loads(record.value)["stage"] for record in published)
        assert stages == ["mapping", "parse"]
        accounts = Accounting(hub.store).report(streaming=True)
        assert accounts.balanced, accounts.as_dict()
        [shop] = accounts.systems
        assert (shop.stored, shop.applied, shop.dead_lettered, shop.refused) == (
            4,
            3,
            1,
            {"dead letter (parse)": 1},
        )
    finally:
        hub.close()


def test_the_relay_publishes_every_event_once_in_aggregate_order_across_a_restart(
    postgres_url: str, kafka_broker: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simulators.bulk import shop_messages

    config = write_config(tmp_path / "hub.toml", postgres_url, kafka_broker, relay_batch_size=300)
    settings = load_settings(config).model_copy(update={"transport": "inbox"})
    hub: Hub = bootstrap(settings)
    try:
        hub.receive("shopify", list(shop_messages(1500, seed=3)))
        hub.process()
        head = hub.store.head()
        stored = event_sequences(hub.store)

        async def relay_in_two_lives() -> None:
            await create_topics(settings, [])
            first = EventRelay(hub.store, settings.streaming, hub.metrics)
            await first.start()
            assert await first.relay_batch() == 300
            # The second batch reaches the broker but the process dies before recording it.
            record = first._record
            monkeypatch.setattr(first, "_record", lambda position: (_ for _ in ()).throw(SystemExit(9)))
            with pytest.raises(SystemExit):
                await first.relay_batch()
            monkeypatch.setattr(first, "_record", record)
            await first.stop()
            second = EventRelay(hub.store, settings.streaming, hub.metrics)
            await second.start()
            while await second.relay_batch():
                pass
            await second.stop()

        asyncio.run(relay_in_two_lives())
        assert hub.store.position(f"relay:{settings.streaming.events_topic}") == head
        records = asyncio.run(_consume_all(kafka_broker, settings.streaming.events_topic, head + 300))
    finally:
        hub.close()

    documents = [json.loads(record.value) for record in records]
    ids = [d["event_id"] for d in documents]
    # Nothing skipped; the one batch in flight at the crash is repeated with the same event ids.
    assert len(set(ids)) == head == sum(map(len, stored.values()))
    assert len(ids) == head + 300
    # Per aggregate, the topic holds the events in version order (repeats aside).
    per_aggregate: dict[str, list[int]] = {}
    for record, document in zip(records, documents, strict=True):
        assert record.key.decode() == document["aggregate_id"]
        versions = per_aggregate.setdefault(document["aggregate_id"], [])
        if document["aggregate_version"] not in versions:
            versions.append(document["aggregate_version"])
    assert all(versions == sorted(versions) for versions in per_aggregate.values())
    assert {str(k): len(v) for k, v in stored.items()} == {k: len(v) for k, v in per_aggregate.items()}
