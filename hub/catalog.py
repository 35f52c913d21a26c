"""Which mappings and source context apply to a system: loaded once, shared by every path."""

from __future__ import annotations

from pathlib import Path

from hub.mapping import MappingSet, SourceContext
from hub.settings import HubSettings

__all__ = ["MappingCatalog"]


class MappingCatalog:
    """Mapping sets per system, from the settings or from folders given on the command line."""

    def __init__(self, settings: HubSettings, folders: dict[str, Path] | None = None) -> None:
        self.settings = settings
        self.folders = dict(folders or {})
        self._sets: dict[str, MappingSet] = {}
        self._plausibility = settings.limits.plausibility()
        self._contexts: dict[str, SourceContext] = {}

    def folder(self, system: str) -> Path:
        return self.folders.get(system) or self.settings.mapping_folder(system)

    def mappings(self, system: str) -> MappingSet:
        if system not in self._sets:
            self._sets[system] = MappingSet.load(system, self.folder(system))
        return self._sets[system]

    def context(self, system: str) -> SourceContext:
        """Built once per system: every message of the system asks for it."""
        if system not in self._contexts:
            config = self.settings.system(system)
            self._contexts[system] = SourceContext(
                timezone=config.timezone, phone_region=config.phone_region, plausibility=self._plausibility
            )
        return self._contexts[system]

    def reload(self) -> None:
        """Forget loaded mappings, so a fixed mapping file is read again (used by replay)."""
        self._sets.clear()
