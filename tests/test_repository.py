"""The repository itself: its records pass every check and its sources are the seed texts, byte for byte."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from casekit import PROJECT
from eventledger.check.checker import load_dataset
from eventledger.read.repository import Repository
from eventledger.syntax.strict_yaml import load

# SHA-256 of the five seed articles as delivered (shared/seeds/), so that the stored texts
# are proven to be the originals even where shared/ is not checked out beside the clone.
SEEDS = {
    "1591592aa13ec6fdbf17d4161f33548853f23856d211a0023e2e5dde7a9265e4",
    "82164fb3ad0060bdbf48ea16b07d6a62d206cd6098f4ccc70be3586fdba2b402",
    "4da8756f4bfe87427691d50e58a1e2d8382dadf99fbaf3bc752450571648000e",
    "3f209ca5bae73e10a1fb25f9333975f98d7619c1356563372134f0f8524f3d38",
    "1c69e30560f2c358f80d5a833b171c3bf80617532398a8eb49af90dafa5d310d",
}


def test_repository_has_no_errors() -> None:
    """What `make validate` checks: a red record fails the suite, not only the release."""
    dataset = load_dataset(Repository(PROJECT))
    assert [f"{i.file}:{i.line}: {i.code} {i.message}" for i in dataset.issues.errors] == []


def test_sources_are_the_seed_texts_byte_for_byte() -> None:
    texts = sorted((PROJECT / "sources").glob("*/text.txt"))
    assert {hashlib.sha256(p.read_bytes()).hexdigest() for p in texts} == SEEDS
    seeds = PROJECT.parent / "shared" / "seeds"
    if seeds.is_dir():  # where shared/ is beside the clone (CI), compare with the files themselves
        assert sorted(p.read_bytes() for p in seeds.glob("*.txt")) == sorted(
            p.read_bytes() for p in texts
        )


def recorded_releases() -> list[str]:
    """The versions whose manifest git holds (staged or committed), not whatever a local
    build left in the work tree; every file of releases/ where the project is not a git
    checkout (an unpacked archive)."""
    done = subprocess.run(
        ["git", "-C", str(PROJECT), "ls-files", "-z", "--", "releases"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return [p.stem for p in (PROJECT / "releases").glob("*.json")]
    return [Path(p).stem for p in done.stdout.split("\0") if p.endswith(".json")]


def test_citation_names_the_latest_published_release() -> None:
    """CITATION.cff cites what a reader can download: the newest release git records."""
    doc, issues = load((PROJECT / "CITATION.cff").read_bytes(), "CITATION.cff")
    assert doc is not None, issues
    published = sorted((tuple(int(x) for x in v.split(".")), v) for v in recorded_releases())
    next_version = json.loads((PROJECT / "datapackage.json").read_text(encoding="utf-8"))["version"]
    assert doc.data["version"] == (published[-1][1] if published else next_version)


def test_every_record_file_has_the_schema_line_for_editors() -> None:
    for path in sorted((PROJECT / "events").rglob("*.yaml")):
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        assert first == "# yaml-language-server: $schema=../../schema/event.record.schema.json", (
            path
        )
    assert Path(PROJECT / "schema" / "event.record.schema.json").is_file()


def test_each_source_folder_holds_a_source_and_its_uncoded_set() -> None:
    """Two kinds share sources/<id>/: each file is a record of one of them, none is stray."""
    files, stray = Repository(PROJECT).discover()
    assert stray == []
    in_sources = sorted((f.kind, f.rel) for f in files if f.rel.startswith("sources/"))
    folders = sorted(p.name for p in (PROJECT / "sources").iterdir() if p.is_dir())
    assert in_sources == sorted(
        [("source", f"sources/{s}/source.yaml") for s in folders]
        + [("uncoded", f"sources/{s}/uncoded.yaml") for s in folders]
    )
    assert {f.expected_id for f in files if f.kind == "uncoded"} == set(folders)
