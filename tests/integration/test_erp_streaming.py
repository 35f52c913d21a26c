"""Distributed mode: a polled ERP page goes to Kafka (acks=all) before its cursor moves."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from adapters.soap import soap_pollers
from adapters.soap.state import AdapterState
from hub.bootstrap import bootstrap
from hub.intake import receiving
from hub.settings import StreamingSettings
from hub.streaming.codec import decode_delivery
from hub.streaming.topics import create_topics
from simulators.erp import ErpSimulator
from tests.conftest import TEST_SYSTEMS, hub_settings
from tests.integration.test_erp_adapter import debtors, erp_config
from tests.integration.test_streaming import _consume_all

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_polled_pages_are_published_to_the_raw_topic_in_kafka_mode(
    postgres_url: str, kafka_broker: str
) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    with ErpSimulator() as erp:
        refs = debtors(erp.book, 23)
        settings = hub_settings(
            postgres_url,
            transport="kafka",
            streaming=StreamingSettings(
                brokers=kafka_broker, topic_prefix=prefix, app_id=prefix, partitions=2
            ),
            systems={**TEST_SYSTEMS, "erp": erp_config(erp)},
        )
        asyncio.run(create_topics(settings, ["erp"]))
        hub = bootstrap(settings)
        try:
            with receiving(hub) as receive:
                report = soap_pollers(hub.ports, receive)["erp"].poll(["customers"])[0]
            cursor = AdapterState(hub.store).load("erp", "customers").cursor
            assert hub.inbox.head() == 0  # nothing in the local inbox: the workers' job
        finally:
            hub.close()

    assert report.error is None and report.records >= len(refs)
    records = asyncio.run(_consume_all(kafka_broker, settings.streaming.raw_topic("erp"), report.records))
    bodies = {}
    for record in records:
        delivery = decode_delivery(record.value, record.topic, record.partition, record.offset, "erp")
        bodies[delivery.message.envelope["body"]["Number"]] = delivery.message.message_id
    assert sorted(bodies) == sorted(refs)
    assert cursor["since"] == erp.book.debtors.records[refs[-1]]["ChangedAt"]
