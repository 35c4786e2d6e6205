"""Where records live: the fixed layout of an eventledger repository."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MARKERS = ("datapackage.json", "schema")


class RepositoryNotFound(Exception):
    """No eventledger repository at or above the given directory (a usage error)."""


@dataclass(frozen=True)
class RecordFile:
    kind: str  # "event", "actor" or "source"
    path: Path  # absolute
    rel: str  # repo-relative, POSIX

    @property
    def expected_id(self) -> str:
        if self.kind == "source":
            return self.path.parent.name
        return self.path.stem


@dataclass(frozen=True)
class Repository:
    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> Repository:
        here = (start or Path.cwd()).resolve()
        for candidate in (here, *here.parents):
            if all((candidate / m).exists() for m in MARKERS):
                return cls(candidate)
        raise RepositoryNotFound(
            f"no eventledger repository (a folder with {' and '.join(MARKERS)}) at or above {here}"
        )

    @property
    def schema_dir(self) -> Path:
        return self.root / "schema"

    def rel(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()

    def source_text(self, source_id: str) -> Path:
        return self.root / "sources" / source_id / "text.txt"

    def discover(self) -> tuple[list[RecordFile], list[RecordFile]]:
        """Every record file, and every file that does not belong where it is (kind 'unexpected')."""
        found: list[RecordFile] = []
        stray: list[RecordFile] = []
        for kind, folder in (("event", "events"), ("actor", "actors"), ("source", "sources")):
            base = self.root / folder
            if not base.is_dir():
                continue
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith(".") or name in ("README.md",):
                        continue
                    path = Path(dirpath) / name
                    parts = path.relative_to(base).parts
                    record = RecordFile(kind, path, path.relative_to(self.root).as_posix())
                    if _fits(kind, parts):
                        found.append(record)
                    elif not (kind == "source" and len(parts) == 2 and parts[1] == "text.txt"):
                        stray.append(RecordFile("unexpected", path, record.rel))
        return found, stray


def _fits(kind: str, parts: tuple[str, ...]) -> bool:
    if kind == "event":
        return len(parts) in (1, 2) and parts[-1].endswith(".yaml")
    if kind == "actor":
        return len(parts) == 1 and parts[0].endswith(".yaml")
    return len(parts) == 2 and parts[1] == "source.yaml"
