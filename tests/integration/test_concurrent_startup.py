"""Processes that start together against a new PostgreSQL database (a compose file, a rollout)
must not trip over each other creating the schema."""

from __future__ import annotations

import threading

import pytest

from hub.bootstrap import bootstrap
from tests.conftest import hub_settings

pytestmark = pytest.mark.postgres


def test_many_hubs_opening_a_new_database_at_once(postgres_url: str) -> None:
    settings = hub_settings(postgres_url)
    start = threading.Barrier(6)
    failures: list[BaseException] = []

    def open_one() -> None:
        start.wait()
        try:
            bootstrap(settings).close()
        except BaseException as error:  # reported below, with the others
            failures.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
