"""The settings of a hub process: the core's, with the tables of the adapters it ships.

The core cannot name an adapter's settings (the layers point inwards), and an adapter cannot
widen the core's models behind its back; here, where the adapters are wired, the two are put
together once. Everything that reads a ``hub.toml`` - the CLI, the benchmarks, the tests -
goes through ``load_settings`` or builds ``Settings``.
"""

from __future__ import annotations

from pathlib import Path

from adapters.soap.settings import SoapTables
from hub import settings as core

__all__ = ["Settings", "load_settings"]

Settings = core.HubSettings.with_system_tables(SoapTables)


def load_settings(config_path: Path | None = None) -> core.HubSettings:
    """Read the config file (if any) and the environment, adapters' tables included."""
    return core.load_settings(config_path, Settings)
