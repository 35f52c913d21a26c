"""A production install leaves out the simulated systems (the ``demo`` extra): every command
still works, and ``hub demo`` says what to install instead of failing with a traceback."""

from __future__ import annotations

import sys

from typer.testing import CliRunner

from entrypoints.cli import app


def test_hub_demo_without_the_demo_extra_names_what_to_install(monkeypatch, tmp_path) -> None:
    for name in [
        m
        for m in sys.modules
        if m == "spyne" or m.startswith(("spyne.", "simulators", "entrypoints.cli.demo_run"))
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "spyne", None)  # as if not installed
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 2, result.output
    assert "pip install -e '.[demo]'" in result.output and "spyne" in result.output
    assert "Traceback" not in result.output
    assert CliRunner().invoke(app, ["orders", "--help"]).exit_code == 0  # the rest of the CLI stands
