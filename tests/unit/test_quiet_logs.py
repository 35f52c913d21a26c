"""Repeated log lines of a client library are shown once per window, with how many were left out."""

from __future__ import annotations

import logging

import pytest

from entrypoints.quiet_logs import RepeatedMessages, quiet_client_libraries


def test_a_line_repeated_within_the_window_is_counted_and_named_on_the_next_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    log = logging.getLogger("aiokafka.test_quiet_logs")
    log.addFilter(RepeatedMessages(window_seconds=10, clock=lambda: now[0]))
    with caplog.at_level(logging.ERROR):
        for attempt in range(50):
            log.error("Unable connect to node with id %s: %s", 111, f"attempt {attempt}")
        log.error("Unable to update metadata from [%s]", 111)  # another kind: shown at once
        now[0] = 11.0
        log.error("Unable connect to node with id %s: %s", 111, "attempt 50")
    shown = [r.getMessage() for r in caplog.records]
    assert shown == [
        "Unable connect to node with id 111: attempt 0",
        "Unable to update metadata from [111]",
        "Unable connect to node with id 111: attempt 50 [49 more like this in the 10 s before]",
    ]


def test_every_kafka_client_logger_gets_the_filter_children_included() -> None:
    child = logging.getLogger("aiokafka.consumer.fetcher")
    repeated = quiet_client_libraries()
    try:
        assert repeated in child.filters and repeated in logging.getLogger("aiokafka").filters
        assert repeated not in logging.getLogger("hub").filters
    finally:
        for name in list(logging.root.manager.loggerDict):
            logger = logging.getLogger(name)
            if repeated in logger.filters:
                logger.removeFilter(repeated)
