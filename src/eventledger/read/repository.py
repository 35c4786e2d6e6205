"""Where records live: the fixed layout of an eventledger repository."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from eventledger.model.kinds import LAYOUTS, Layout

MARKERS = ("datapackage.json", "schema")


class RepositoryNotFound(Exception):
    """No eventledger repository at or above the given directory (a usage error)."""


@dataclass(frozen=True)
class RecordFile:
    kind: str  # a Layout's kind ("event", "actor", "source"), or "unexpected"
    path: Path  # absolute
    rel: str  # repo-relative, POSIX
    id_folder: bool = False  # the record's id is its folder's name, not its file's stem

    @property
    def expected_id(self) -> str:
        if self.id_folder:
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

    def layout_of(self, path: Path) -> Layout | None:
        """The layout of the kind whose record the file at path is, if it is one."""
        try:
            parts = path.resolve().relative_to(self.root).parts
        except ValueError:
            return None
        return next((x for x in LAYOUTS if parts[:1] == (x.folder,) and _fits(x, parts[1:])), None)

    def discover(self) -> tuple[list[RecordFile], list[RecordFile]]:
        """Every record file, and every file that does not belong where it is (kind 'unexpected').

        Each folder is walked once, and each file in it is matched against every layout of
        that folder: two kinds can share one (sources/<id>/ holds a source and its uncoded
        set), and a file that is a record or companion of one is no stray of the other."""
        found: list[RecordFile] = []
        stray: list[RecordFile] = []
        folders: dict[str, list[Layout]] = {}
        for layout in LAYOUTS:
            folders.setdefault(layout.folder, []).append(layout)
        for folder, layouts in folders.items():
            base = self.root / folder
            if not base.is_dir():
                continue
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                # Relative paths once per folder, not per file: a million files pass here.
                here = Path(dirpath)
                inner = here.relative_to(base).parts
                prefix = here.relative_to(self.root).as_posix() + "/"
                for name in sorted(filenames):
                    if name.startswith(".") or name in ("README.md",):
                        continue
                    path = here / name
                    parts = (*inner, name)
                    rel = prefix + name
                    fits = [layout for layout in layouts if _fits(layout, parts)]
                    if fits:
                        # A file two layouts claim is read as the one listed first.
                        layout = fits[0]
                        found.append(RecordFile(layout.kind, path, rel, layout.id_folder))
                    elif not any(_companion(layout, parts) for layout in layouts):
                        stray.append(RecordFile("unexpected", path, rel))
        return found, stray


def _fits(layout: Layout, parts: tuple[str, ...]) -> bool:
    """Whether a path under the kind's folder is one of its records. A file directly in a
    year-foldered kind's folder fits too: its folder is then reported as wrong."""
    if layout.id_folder:
        return len(parts) == 2 and parts[1] == layout.file
    depth = (1, 2) if layout.year_from is not None else (1,)
    return len(parts) in depth and parts[-1].endswith(".yaml")


def _companion(layout: Layout, parts: tuple[str, ...]) -> bool:
    return layout.id_folder and len(parts) == 2 and parts[1] in layout.companions
