"""Exports with chain links, checked by the stand-alone verifier an auditor runs offline."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.audit.export import Selection, export
from hub.audit.offline import verify_export
from hub.audit.verify import checkpoint
from hub.bootstrap import Hub
from simulators.bulk import shop_messages
from tests.conftest import ROOT


@pytest.fixture
def recorded(make_hub: Callable[..., Hub]) -> Hub:
    hub = make_hub()
    hub.receive("shopify", list(shop_messages(80, seed=4)))
    hub.process()
    return hub


def _write(hub: Hub, path: Path, selection: Selection, fmt: str = "jsonl") -> int:
    with path.open("w", encoding="utf-8", newline="") as out:
        return export(hub.store, selection, fmt, out)


def test_a_complete_export_verifies_offline_against_a_checkpoint(recorded: Hub, tmp_path: Path) -> None:
    mark = checkpoint(recorded.store)
    (tmp_path / "checkpoint.json").write_text(json.dumps(mark.to_json()))
    path = tmp_path / "all.jsonl"
    assert _write(recorded, path, Selection()) == recorded.store.head()
    # The verifier is one stand-alone file: run it the way an auditor would, outside the hub.
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "hub" / "audit" / "offline.py"),
            str(path),
            "--checkpoint",
            str(tmp_path / "checkpoint.json"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passes through the checkpoint" in result.stdout


def test_altered_removed_or_foreign_rows_fail_offline(recorded: Hub, tmp_path: Path) -> None:
    path = tmp_path / "all.jsonl"
    _write(recorded, path, Selection())
    lines = path.read_text().splitlines()

    altered = json.loads(lines[10])
    altered["state_b64"] = base64.b64encode(b'{"forged": 1}').decode()
    (tmp_path / "altered.jsonl").write_text("\n".join([*lines[:10], json.dumps(altered), *lines[11:]]))
    ok, message = verify_export(tmp_path / "altered.jsonl")
    assert not ok and f"position {altered['position']}" in message and "altered" in message

    (tmp_path / "removed.jsonl").write_text("\n".join([*lines[:20], *lines[21:]]))
    ok, message = verify_export(tmp_path / "removed.jsonl")
    assert not ok and "broken" in message

    (tmp_path / "truncated.jsonl").write_text("\n".join(lines[:-1]))
    ok, message = verify_export(tmp_path / "truncated.jsonl")
    assert not ok and "truncated" in message

    mark = checkpoint(recorded.store).to_json()
    ok, message = verify_export(path, {**mark, "link": "00" * 32})
    assert not ok and "checkpoint" in message


def test_one_entity_or_a_time_range_exports_as_csv_and_verifies(recorded: Hub, tmp_path: Path) -> None:
    order = recorded.orders.list()[0]
    key = recorded.history.resolve(f"order:{order['order_ref']}")
    path = tmp_path / "order.csv"
    written = _write(recorded, path, Selection(aggregate_id=key), "csv")
    assert written == len(recorded.history.entries(key)) and written > 0
    assert verify_export(path)[0]
    future = datetime.now(UTC) + timedelta(days=1)
    out = io.StringIO()
    assert export(recorded.store, Selection(since=future), "jsonl", out) == 0
    assert json.loads(out.getvalue().splitlines()[0])["complete"] is False
