"""The inbox's group commit on its own: callers queued while a commit runs share the next one,
each learns its own outcome, a failed commit fails every caller in it, and closing commits what
is queued."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from hub.group_commit import GroupCommit
from hub.inbox import RawMessage, RecordOutcome


def message(n: int) -> RawMessage:
    return RawMessage("shop", f"m{n}", {"body": {"n": n}}, datetime(2026, 1, 1, tzinfo=UTC))


def test_callers_queued_during_a_commit_share_the_next_one_and_get_their_own_outcomes() -> None:
    first_commit_running, release = threading.Event(), threading.Event()
    commits: list[list[int]] = []

    def record_groups(groups):
        commits.append([len(g) for g in groups])
        if len(commits) == 1:
            first_commit_running.set()
            release.wait(10)
        return [RecordOutcome(len(g), 0) for g in groups]

    group = GroupCommit(record_groups)
    first = group.submit([message(0)])
    assert first_commit_running.wait(10)
    later = [group.submit([message(i), message(i + 100)]) for i in range(1, 6)]
    release.set()
    assert first.result(10) == RecordOutcome(1, 0)
    assert [f.result(10) for f in later] == [RecordOutcome(2, 0)] * 5
    assert commits == [[1], [2, 2, 2, 2, 2]]  # the five waited together for one commit
    group.close()


def test_a_failed_commit_fails_each_of_its_callers_and_the_writer_goes_on() -> None:
    calls = []

    def record_groups(groups):
        calls.append(len(groups))
        if len(calls) == 1:
            raise OSError("disk full")
        return [RecordOutcome(len(g), 0) for g in groups]

    group = GroupCommit(record_groups)
    with pytest.raises(OSError, match="disk full"):
        group.submit([message(1)]).result(10)
    assert group.submit([message(2)]).result(10) == RecordOutcome(1, 0)
    group.close()
    with pytest.raises(RuntimeError, match="closed"):
        group.submit([message(3)])
