"""The worker's faust agent in faust's test context: same processing, no broker needed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from entrypoints.worker import create_worker_app
from hub.bootstrap import bootstrap
from hub.inbox import RawMessage
from hub.settings import SystemConfig
from hub.streaming.codec import encode_raw
from tests.conftest import hub_settings
from tests.shop_messages import envelope, order, paid


def test_the_agent_processes_batches_and_dead_letters_what_it_cannot_read(tmp_path: Path) -> None:
    settings = hub_settings(
        f"sqlite:///{tmp_path / 'hub.db'}",
        transport="kafka",
        systems={"shopify": SystemConfig(adapter="shopify")},
    )
    hub = bootstrap(settings)
    app = create_worker_app(hub, web_port=0)
    handler = app.hub_handler
    dead = app.channel()  # faust's in-memory channel stands in for the dead-letter topic
    handler.dead_letter_topic = dead
    (agent,) = app.agents.values()
    now = datetime.now(UTC)

    def record(body: dict) -> bytes:
        return encode_raw(RawMessage("shopify", f"id-{len(sent)}", body, now))

    async def drive() -> None:
        async with agent.test_context() as context:
            for value in sent:
                await context.put(value=value, key=b"k", wait=False)
            for _ in range(200):
                if handler.totals.messages == len(sent):
                    break
                await asyncio.sleep(0.05)

    sent: list[bytes] = []
    sent.append(record(order(501)))
    sent.append(record(paid(501)))
    sent.append(b"{broken")
    sent.append(record(envelope("orders/unknown", {"id": 1})))
    try:
        asyncio.run(drive())
        assert handler.totals.messages == 4
        assert handler.totals.processed == 2 and handler.totals.dead_lettered == 2
        assert {letter.stage for letter in hub.dead_letters.list()} == {"parse", "mapping"}
        assert hub.store.query("SELECT COUNT(*) AS n FROM hub_inbox")[0]["n"] == 3
        # Each partition's next offset is tracked with the events: a redelivery is a no-op.
        assert handler.offsets and hub.store.head() > 0
        head = hub.store.head()
        asyncio.run(drive())
        assert hub.store.head() == head and hub.dead_letters.count() == 2
    finally:
        hub.close()
