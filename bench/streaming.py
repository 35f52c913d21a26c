"""Benchmark: the distributed path, Kafka → faust workers → PostgreSQL → projection runner, with
1 and 2 workers, against the raw limits of the same broker and database measured in the same run.

    python bench/streaming.py [--messages 40000] [--runs 3] [--partitions 4]

Per run, with a Tansu broker (memory storage) started for the run and a fresh database per
measurement:
  * raw consume: aiokafka reading the published records (first to last record), records/s;
  * raw append: COPY of equivalent rows into PostgreSQL (as bench/ingest.py), rows/s;
  * hub with 1 and with 2 workers (`hub worker` processes) and one `hub project order_tracking`
    runner: from the first processed message until every offset is tracked and the projection
    is at the head of the log, messages/s (consumer-group joining is not counted);
  * the scaling ratio (2 workers ÷ 1) and the ratio of 1 worker to the slower raw limit.
Medians over the runs are printed last. PostgreSQL: HUB_BENCH_DATABASE_URL or HUB_TEST_DATABASE_URL
(an admin URL), else a private pgserver.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaConsumer  # noqa: E402

from bench.ingest import postgres_database, postgres_server, raw_rate, settings  # noqa: E402
from hub.bootstrap import bootstrap  # noqa: E402
from hub.catalog import MappingCatalog  # noqa: E402
from hub.metrics import HubMetrics  # noqa: E402
from hub.settings import HubSettings, StreamingSettings  # noqa: E402
from hub.streaming.codec import processed_records  # noqa: E402
from hub.streaming.publisher import RawPublisher  # noqa: E402
from hub.streaming.topics import create_topics  # noqa: E402
from simulators.bulk import shop_messages  # noqa: E402
from tests.streaming_support import HubProcess, TansuBroker  # noqa: E402


def write_config(folder: Path, url: str, streaming: StreamingSettings, app_id: str) -> Path:
    values = {**streaming.model_dump(), "app_id": app_id, "metrics_port": 0}
    lines = [
        f'database_url = "{url}"',
        'transport = "kafka"',
        f'mappings_dir = "{ROOT / "mappings"}"',
        "[streaming]",
        *(f"{k} = {json.dumps(v)}" for k, v in values.items()),
        "[systems.shopify]",
        'adapter = "shopify"',
    ]
    path = folder / f"{app_id}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def publish(hub_settings: HubSettings, messages: list[dict]) -> float:
    await create_topics(hub_settings, ["shopify"])
    publisher = RawPublisher(hub_settings, MappingCatalog(hub_settings), HubMetrics())
    await publisher.start()
    started = time.perf_counter()
    try:
        for start in range(0, len(messages), 1000):
            await publisher.publish("shopify", messages[start : start + 1000])
    finally:
        await publisher.stop()
    return len(messages) / (time.perf_counter() - started)


async def raw_consume(brokers: str, topic: str, expected: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=brokers,
        group_id=f"raw-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        max_partition_fetch_bytes=8 << 20,
    )
    await consumer.start()
    seen = 0
    first = None
    try:
        while seen < expected:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batches.values():
                if records and first is None:
                    first = time.perf_counter()
                seen += len(records)
        return seen / (time.perf_counter() - (first or time.perf_counter()))
    finally:
        await consumer.stop()


def hub_rate(config: Path, url: str, topic: str, workers: int, expected: int, logs: Path) -> float:
    hub = bootstrap(settings(url))
    processes = [
        HubProcess(config, ["worker", "--name", f"w{index}"], logs / f"{config.stem}-w{index}.log", port=0)
        for index in range(workers)
    ]
    processes.append(HubProcess(config, ["project", "order_tracking"], logs / f"{config.stem}-projector.log"))
    try:
        first = None
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            done = processed_records(hub.store, topic)
            if done and first is None:
                first = time.perf_counter()
            if done >= expected and hub.store.position("projection:order_tracking") == hub.store.head():
                return expected / (time.perf_counter() - first)
            time.sleep(0.05)
        raise RuntimeError(f"{config.stem}: not finished; see {logs}")
    finally:
        for process in processes:
            process.stop()
        hub.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    messages = list(shop_messages(args.messages, seed=11))
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder, postgres_server() as admin:
        logs = Path(folder)
        broker = TansuBroker(logs / "tansu.log").start()
        try:
            for run in range(1, args.runs + 1):
                prefix = f"bench{uuid.uuid4().hex[:8]}"
                streaming = StreamingSettings(
                    brokers=broker.address,
                    topic_prefix=prefix,
                    partitions=args.partitions,
                    session_timeout_seconds=6,
                    batch_size=1000,
                )
                figures: dict[str, float] = {}
                with postgres_database(admin) as url:
                    hub_settings = settings(url).model_copy(
                        update={"transport": "kafka", "streaming": streaming}
                    )
                    figures["publish"] = asyncio.run(publish(hub_settings, messages))
                    figures["raw_consume"] = asyncio.run(
                        raw_consume(broker.address, streaming.raw_topic("shopify"), len(messages))
                    )
                    hub = bootstrap(settings(url))
                    figures["raw_append"] = raw_rate(hub, 100_000)
                    hub.close()
                for workers in (1, 2):
                    with postgres_database(admin) as url:
                        config = write_config(logs, url, streaming, f"{prefix}w{workers}")
                        figures[f"workers_{workers}"] = hub_rate(
                            config, url, streaming.raw_topic("shopify"), workers, len(messages), logs
                        )
                figures["scaling"] = figures["workers_2"] / figures["workers_1"]
                figures["ratio"] = figures["workers_1"] / min(figures["raw_consume"], figures["raw_append"])
                for name, value in figures.items():
                    results.setdefault(name, []).append(value)
                print(
                    f"run {run}: 1 worker {figures['workers_1']:,.0f} msg/s, 2 workers "
                    f"{figures['workers_2']:,.0f} msg/s, scaling {figures['scaling']:.2f}, raw consume "
                    f"{figures['raw_consume']:,.0f}/s, raw append {figures['raw_append']:,.0f}/s, ratio "
                    f"{figures['ratio']:.3f}, publish {figures['publish']:,.0f}/s",
                    flush=True,
                )
        finally:
            broker.stop()
    medians = {name: statistics.median(values) for name, values in results.items()}
    print(
        f"median of {args.runs}: 1 worker {medians['workers_1']:,.0f} msg/s, 2 workers "
        f"{medians['workers_2']:,.0f} msg/s, scaling {medians['scaling']:.2f} (target >= 1.7), "
        f"raw consume {medians['raw_consume']:,.0f}/s, raw append {medians['raw_append']:,.0f}/s, "
        f"ratio to the slower raw limit {medians['ratio']:.3f}; target >= 5,000 msg/s per worker"
    )


if __name__ == "__main__":
    main()
