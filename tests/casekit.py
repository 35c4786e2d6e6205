"""Fixtures are files: how a case under tests/cases/ becomes a repository and an expectation.

A file case is one YAML record. It is placed into a copy of tests/cases/_base/ at
events/<yyyy>/<event_id>.yaml, or where a '# at: PATH' line says.
Its expected issues are '# expect: CODE LINE' lines anywhere in the file; the issues
reported for that file must be exactly those. '# max-bytes: N' lowers the size cap.

A directory case is a tree laid over the base, with an 'expect.txt' of 'FILE CODE LINE'
lines; the issues reported for every file it names or contains must be exactly those.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
CASES = PROJECT / "tests" / "cases"
BASE = CASES / "_base"

_EXPECT = re.compile(rb"#\s*expect:\s*([a-z0-9-]+)\s+([0-9]+)")
_AT = re.compile(rb"#\s*at:\s*(\S+)")
_ID = re.compile(rb"^(?:\xef\xbb\xbf)?event_id:\s*([0-9a-z-]+)\s*$", re.MULTILINE)
_MAX = re.compile(rb"#\s*max-bytes:\s*([0-9]+)")

Expectation = set[tuple[str, str, int]]


@dataclass(frozen=True)
class Case:
    path: Path
    code: str | None  # the directory name for invalid cases

    @property
    def id(self) -> str:
        return self.path.relative_to(CASES).as_posix()

    def raw(self) -> bytes:
        return self.path.read_bytes()

    def max_bytes(self) -> int | None:
        if self.path.is_dir():
            return None
        m = _MAX.search(self.raw())
        return int(m.group(1)) if m else None

    def target(self) -> str:
        m = _AT.search(self.raw())
        if m:
            return m.group(1).decode()
        m = _ID.search(self.raw())
        stem = m.group(1).decode() if m else self.path.stem
        return f"events/{stem[:4]}/{stem}.yaml"

    def build(self, root: Path) -> Expectation:
        """Lay the case out as a repository in root; return the expected (file, code, line) set."""
        make_repository(root)
        if self.path.is_dir():
            expected: Expectation = set()
            for src in sorted(self.path.rglob("*")):
                rel = src.relative_to(self.path).as_posix()
                dest = root / rel
                if src.is_symlink():  # a case about links keeps them links (git stores them)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    if dest.is_dir() and not dest.is_symlink():
                        shutil.rmtree(dest)
                    dest.unlink(missing_ok=True)
                    dest.symlink_to(os.readlink(src))
                elif src.is_file() and rel != "expect.txt":
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, dest)
            for line in (self.path / "expect.txt").read_text().splitlines():
                if line.strip() and not line.startswith("#"):
                    file, code, number = line.split()
                    expected.add((file, code, int(number)))
            for removed in (self.path / "expect.txt").read_text().splitlines():
                if removed.startswith("# delete: "):
                    target = root / removed.removeprefix("# delete: ").strip()
                    target.unlink()
            return expected
        target = root / self.target()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.raw())
        return {
            (self.target(), m.group(1).decode(), int(m.group(2)))
            for m in _EXPECT.finditer(self.raw())
        }

    def files(self, expected: Expectation) -> set[str]:
        """The files whose issues the case speaks for."""
        if self.path.is_dir():
            own = {
                p.relative_to(self.path).as_posix()
                for p in self.path.rglob("*")
                if p.is_file() or p.is_symlink()
            }
            own.discard("expect.txt")
            return own | {f for f, _, _ in expected}
        return {self.target()}


def copy_corpus(tmp_path: Path) -> Path:
    """A copy of the project's records, so that whatever a run writes stays beside the copy."""
    root = tmp_path / "corpus"
    root.mkdir()
    for name in ("events", "actors", "sources", "schema"):
        shutil.copytree(PROJECT / name, root / name)
    shutil.copyfile(PROJECT / "datapackage.json", root / "datapackage.json")
    return root


def make_repository(root: Path) -> None:
    shutil.copytree(BASE, root, dirs_exist_ok=True)
    shutil.copytree(PROJECT / "schema", root / "schema", dirs_exist_ok=True)
    # Fixtures are releases of their own: version 0.1.0, whatever the project's next version is.
    package = json.loads((PROJECT / "datapackage.json").read_text(encoding="utf-8"))
    package["version"] = "0.1.0"
    (root / "datapackage.json").write_text(json.dumps(package, indent=2) + "\n", encoding="utf-8")


def place_valid_cases(root: Path) -> None:
    """Every valid case at its place in the repository at root (an event under events/, an
    uncoded set over the base source's)."""
    for case in valid_cases():
        target = root / case.target()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(case.raw())


def valid_cases() -> list[Case]:
    return [
        Case(p, None) for p in sorted((CASES / "valid").iterdir()) if not p.name.startswith(".")
    ]


def invalid_cases() -> list[Case]:
    out = []
    for folder in sorted((CASES / "invalid").iterdir()):
        for p in sorted(folder.iterdir()):
            if not p.name.startswith("."):
                out.append(Case(p, folder.name))
    return out
