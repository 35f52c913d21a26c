"""Drop folders: files a warehouse system (or an EDI gateway) writes into a folder, read once each.

Only complete files are taken. A writer that follows the convention writes ``NAME.part`` (or
``.tmp``, or a dot-file) and renames it when done; for one that writes in place, a file is taken
once its size and modification time have not changed for ``settle_seconds``. A taken file is
streamed into the inbox in chunks — unreadable rows become dead letters naming the row, the good
rows go on — and then moved to ``processed/`` (with a ``.report.txt`` when rows were refused) or,
when nothing in it could be read, to ``failed/`` with a ``.reason.txt``. A crash before the move
reads the file again on restart; the inbox already holds its messages, so nothing is doubled.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from adapters.files import SUPPORTED, FileError, take_file
from hub.periodic import Periodic
from hub.ports import AdapterPorts, Receive

__all__ = ["DropReport", "FileDrop", "drop_watchers"]

_UNFINISHED = (".part", ".tmp", ".partial", ".crdownload")


@dataclass
class DropReport:
    file: str
    outcome: str = "processed"  # processed | failed
    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: list[str] = field(default_factory=list)
    moved_to: str = ""


class FileDrop:
    def __init__(
        self,
        ports: AdapterPorts,
        system: str,
        folder: Path,
        receive: Receive | None = None,
        settle_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ports, self.system, self.folder = ports, system, folder
        self.receive = receive or ports.receive
        self.settle_seconds, self.clock = settle_seconds, clock
        self._seen: dict[Path, tuple[int, int, float]] = {}  # size, mtime, since when unchanged
        for sub in ("processed", "failed"):
            (folder / sub).mkdir(parents=True, exist_ok=True)

    def waiting(self) -> list[Path]:
        """Files in the folder that look like input (complete or not yet)."""
        return sorted(
            p
            for p in self.folder.iterdir()
            if p.is_file()
            and not p.name.startswith(".")
            and not p.name.endswith(_UNFINISHED)
            and p.suffix.lower() in SUPPORTED
        )

    def ready(self, path: Path) -> bool:
        """Complete: unchanged in size and time for ``settle_seconds`` (0: at once)."""
        stat = path.stat()
        now = self.clock()
        seen = self._seen.get(path)
        if seen is None or seen[:2] != (stat.st_size, stat.st_mtime_ns):
            self._seen[path] = (stat.st_size, stat.st_mtime_ns, now)
            return self.settle_seconds <= 0
        return now - seen[2] >= self.settle_seconds

    def scan(self, on_progress: Callable[[Path, int, int], None] | None = None) -> list[DropReport]:
        """Take every complete file now; ``on_progress(file, bytes read, size)`` while reading."""
        reports = []
        for path in self.waiting():
            if self.ready(path):
                reports.append(self.take(path, on_progress))
                self._seen.pop(path, None)
        return reports

    def take(self, path: Path, on_progress: Callable[[Path, int, int], None] | None = None) -> DropReport:
        report = DropReport(path.name)
        size = path.stat().st_size

        def progress(done: int, _messages: int) -> None:
            if on_progress is not None:
                on_progress(path, done, size)

        try:
            taken = take_file(self.ports, self.receive, self.system, path, progress)
            report.messages, report.stored, report.duplicates = taken.messages, taken.stored, taken.duplicates
            report.refused = taken.refused
        except (FileError, UnicodeDecodeError, OSError) as error:
            report.refused.append(f"{path.name}: {error}")
            report.messages = 0
        report.outcome = "processed" if report.messages else "failed"
        self._move(path, report)
        return report

    def _move(self, path: Path, report: DropReport) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.folder / report.outcome / f"{stamp}-{path.name}"
        os.replace(path, target)  # atomic within the folder's file system
        report.moved_to = str(target)
        if report.refused:
            suffix = ".reason.txt" if report.outcome == "failed" else ".report.txt"
            lines = [f"{report.outcome}: {report.messages} messages read, {len(report.refused)} refused"]
            target.with_name(target.name + suffix).write_text(
                "\n".join([*lines, *report.refused]) + "\n", encoding="utf-8"
            )


def drop_watchers(
    ports: AdapterPorts, receive: Receive | None = None, on_stored: Callable[[], None] | None = None
) -> list[Periodic]:
    """A watcher for every system with a ``drop_folder``, scanning once a second (``hub run``)."""
    watchers = []
    for name, config in sorted(ports.settings.systems.items()):
        if config.drop_folder is None:
            continue
        drop = FileDrop(ports, name, config.drop_folder, receive, config.settle_seconds)

        def scan(drop: FileDrop = drop) -> None:
            if any(r.stored for r in drop.scan()) and on_stored is not None:
                on_stored()

        watchers.append(Periodic(f"drop-{name}", 1.0, scan))
    return watchers
