"""Given a hub holding personal data, when its key-encryption key (KEK) is lost, replaced or
unreadable, then the hub refuses to start and says which key and why - it never makes a new KEK
that would leave every personal field unreadable, and it recovers as soon as the key is back."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.bootstrap import bootstrap
from hub.privacy.keys import KeyStoreError
from tests.conftest import ROOT, hub_settings
from tests.shop_messages import order

VARIABLE = "HUB_KEY_ENCRYPTION_KEY"


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A SQLite hub on the embedded default (its KEK in ``hub.keys.kek``), holding one customer."""
    monkeypatch.delenv(VARIABLE, raising=False)
    hub = bootstrap(hub_settings(f"sqlite:///{tmp_path / 'hub.db'}"))
    hub.receive("shopify", [order()])
    hub.process()
    hub.close()
    yield tmp_path


def customer_name(folder: Path) -> str:
    hub = bootstrap(hub_settings(f"sqlite:///{folder / 'hub.db'}"))
    try:
        [found] = hub.customers.search("Bob Norman")
        return found["name"]
    finally:
        hub.close()


def test_the_first_start_makes_the_key_file_and_later_starts_use_it(embedded: Path) -> None:
    key_file = embedded / "hub.keys.kek"
    assert len(base64.b64decode(key_file.read_text())) == 32
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert customer_name(embedded) == "Bob Norman"


def test_a_lost_key_file_stops_the_hub_and_no_new_key_is_made(embedded: Path) -> None:
    key_file = embedded / "hub.keys.kek"
    kept = key_file.read_bytes()
    key_file.unlink()
    with pytest.raises(KeyStoreError, match=r"key file hub\.keys\.kek is missing; restore it"):
        bootstrap(hub_settings(f"sqlite:///{embedded / 'hub.db'}"))
    assert not key_file.exists()  # a new key would have orphaned every personal field
    key_file.write_bytes(kept)
    assert customer_name(embedded) == "Bob Norman"


def test_another_key_is_refused_at_start_naming_where_it_came_from(
    embedded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, base64.b64encode(b"k" * 32).decode())
    with pytest.raises(KeyStoreError, match=f"environment variable {VARIABLE}.*does not open the keys"):
        bootstrap(hub_settings(f"sqlite:///{embedded / 'hub.db'}"))
    monkeypatch.delenv(VARIABLE)
    (embedded / "hub.keys.kek").write_text(base64.b64encode(b"k" * 32).decode())
    with pytest.raises(KeyStoreError, match=r"key file hub\.keys\.kek\).*not the key they were made with"):
        bootstrap(hub_settings(f"sqlite:///{embedded / 'hub.db'}"))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: f.write_bytes(b"\xff\xfe not text"), "cannot be read: not text"),
        (lambda f: f.write_text("not base64 !"), "is not base64"),
        (lambda f: f.write_text(base64.b64encode(b"short").decode()), "holds 5 bytes; it must hold 32"),
        (lambda f: (f.unlink(), f.mkdir()), "cannot be read: Is a directory"),
    ],
    ids=["binary", "not-base64", "short", "directory"],
)
def test_an_unreadable_key_file_is_named_with_the_reason(embedded: Path, damage, message: str) -> None:
    damage(embedded / "hub.keys.kek")
    with pytest.raises(KeyStoreError, match=message) as raised:
        bootstrap(hub_settings(f"sqlite:///{embedded / 'hub.db'}"))
    assert "hub.keys.kek" in str(raised.value) and str(embedded) not in str(raised.value)


def test_the_command_line_says_what_is_wrong_without_a_traceback(embedded: Path) -> None:
    (embedded / "hub.keys.kek").unlink()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_DATABASE_URL"] = f"sqlite:///{embedded / 'hub.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "entrypoints", "orders", "list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "personal-data keys: the key file hub.keys.kek is missing" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def _new_kek() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_the_kek_is_rotated_while_both_are_known_then_the_old_one_can_go(
    embedded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new KEK becomes current and the old one previous: the hub reads keys wrapped by
    either (no downtime), rotate-kek re-wraps them, and then the old KEK is no longer needed -
    nor accepted."""
    old = (embedded / "hub.keys.kek").read_text().strip()
    new = _new_kek()
    monkeypatch.setenv(VARIABLE, new)
    monkeypatch.setenv("OLD_KEK", old)
    monkeypatch.setenv("HUB_PRIVACY__PREVIOUS_KEK_ENV", "OLD_KEK")
    with pytest.raises(KeyStoreError, match="does not open the keys"):  # the new one alone: not yet
        bootstrap(hub_settings(f"sqlite:///{embedded / 'hub.db'}"))
    both = hub_settings(f"sqlite:///{embedded / 'hub.db'}", privacy={"previous_kek_env": "OLD_KEK"})
    hub = bootstrap(both)
    try:
        [found] = hub.customers.search("Bob Norman")  # read during the rotation
        assert found["name"] == "Bob Norman"
        assert hub.store.keys.rewrap() == (1, 1)
        assert hub.store.keys.rewrap() == (0, 1)  # run again: nothing left to move
    finally:
        hub.close()
    assert customer_name(embedded) == "Bob Norman"  # the new KEK alone now
    monkeypatch.setenv(VARIABLE, old)
    with pytest.raises(KeyStoreError, match="does not open the keys"):
        bootstrap(hub_settings(f"sqlite:///{embedded / 'hub.db'}"))


def test_the_kek_comes_from_a_mounted_file_or_a_command(
    embedded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kek = (embedded / "hub.keys.kek").read_text().strip()
    (embedded / "hub.keys.kek").rename(embedded / "mounted.kek")
    monkeypatch.setenv(VARIABLE, _new_kek())  # a file or a command comes before the variable
    url = f"sqlite:///{embedded / 'hub.db'}"
    from_file = bootstrap(hub_settings(url, privacy={"kek_file": embedded / "mounted.kek"}))
    from_file.close()
    command = f"{sys.executable} -c \"print('{kek}')\""
    from_command = bootstrap(hub_settings(url, privacy={"kek_command": command}))
    from_command.close()
    with pytest.raises(KeyStoreError, match=r"exited 3 without a key-encryption key$"):
        bootstrap(
            hub_settings(url, privacy={"kek_command": f'{sys.executable} -c "import sys; sys.exit(3)"'})
        )
    with pytest.raises(KeyStoreError, match=r"the key file absent\.kek is missing; mount the secret there"):
        bootstrap(hub_settings(url, privacy={"kek_file": embedded / "absent.kek"}))


def test_rotate_kek_from_the_command_line(embedded: Path) -> None:
    old = (embedded / "hub.keys.kek").read_text().strip()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    environment.update(
        {
            "HUB_DATABASE_URL": f"sqlite:///{embedded / 'hub.db'}",
            VARIABLE: _new_kek(),
            "OLD_KEK": old,
            "HUB_PRIVACY__PREVIOUS_KEK_ENV": "OLD_KEK",
        }
    )
    run = [sys.executable, "-m", "entrypoints", "privacy", "rotate-kek", "--json"]
    done = subprocess.run(run, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"rewrapped": 1' in done.stdout and '"keys": 1' in done.stdout
    del environment["HUB_PRIVACY__PREVIOUS_KEK_ENV"]
    refused = subprocess.run(run, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "no previous key-encryption key" in refused.stderr
