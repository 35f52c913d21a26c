"""The README's commands are the ones that work: CI runs its test command, every command
docs/CLI.md documents exists and every command the CLI has is documented there; the README
stays a short front page whose links all lead somewhere."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
CLI_DOC = (ROOT / "docs" / "CLI.md").read_text()
FENCED = re.findall(r"```bash\n(.*?)```", README, re.S)


def test_ci_runs_the_readme_test_command() -> None:
    test_command = next(block.strip() for block in FENCED if "pytest" in block)
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_the_readme_demo_command_runs_the_demo() -> None:
    demo_command = next(block.strip() for block in FENCED if block.strip().endswith("hub demo"))
    assert demo_command.startswith("python3 -m venv .venv && .venv/bin/pip install")


DOCUMENTED = sorted(set(re.findall(r"^\| `hub ([a-z]+(?: [a-z][a-z-]*)?)", CLI_DOC, re.M)))


@pytest.mark.parametrize("command", DOCUMENTED)
def test_every_documented_command_exists(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "entrypoints", *command.split(), "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_the_table_lists_the_whole_contract() -> None:
    """Every command the CLI has is documented, and nothing else."""
    import typer.main

    from entrypoints.cli import app

    commands = set()
    for name, command in typer.main.get_command(app).commands.items():  # type: ignore[attr-defined]
        if hasattr(command, "commands"):  # a group: its subcommands are the contract
            commands.update(f"{name} {sub}" for sub in command.commands)
        else:
            commands.add(name)
    assert set(DOCUMENTED) == commands


def test_the_readme_is_a_front_page_and_its_links_and_the_docs_links_lead_somewhere() -> None:
    assert len(README.splitlines()) <= 200
    for document in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", document.read_text()):
            path = (document.parent / target).resolve()
            if path.is_relative_to(ROOT.resolve()):  # the project's design notes live beside the checkout
                assert path.exists(), f"{document.name}: {target}"
