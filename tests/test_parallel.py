"""`validate` in worker processes and from the cache says exactly what one process says with
no cache, on the project's own records and on a badly broken repository; a damaged cache
entry changes nothing."""

from __future__ import annotations

import io
import multiprocessing
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from casekit import CASES, PROJECT, copy_corpus, make_repository
from eventledger.check.checker import load_dataset
from eventledger.read.cache import FOLDER, Cache
from eventledger.read.repository import Repository
from releasekit import make_release_repository

EXE = PROJECT / ".venv" / "bin" / "eventledger"


def validate(root: Path, *args: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [str(EXE), "validate", "--root", str(root), *args], capture_output=True, text=True
    )
    return done.returncode, done.stdout, done.stderr


def broken(tmp_path: Path) -> Path:
    """Every invalid case at once, plus a stray file: many errors of every layer."""
    root = tmp_path / "broken"
    make_repository(root)
    cases = [p for p in sorted((CASES / "invalid").rglob("*.yaml")) if not p.is_symlink()]
    for i, case in enumerate(c for c in cases if c.is_file()):
        target = root / "events" / "2019" / f"2019-04-25-case-{i:03d}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(case, target)
    (root / "events" / "notes.txt").write_text("not a record\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("make", [copy_corpus, broken])
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_workers_and_cache_change_nothing_in_the_output(
    tmp_path: Path, make: Callable[[Path], Path], fmt: str
) -> None:
    root = make(tmp_path)
    serial = validate(root, "--jobs", "1", "--no-cache", "--format", fmt)
    assert serial[0] == (0 if make is copy_corpus else 1), serial[2]
    assert not (root / FOLDER).exists()  # --no-cache leaves nothing behind
    assert validate(root, "--jobs", "2", "--format", fmt) == serial  # cold: fills the cache
    assert (root / FOLDER).is_dir()
    assert validate(root, "--jobs", "2", "--format", fmt) == serial  # warm: from the cache
    assert validate(root, "--jobs", "1", "--format", fmt) == serial


def test_a_corrupted_cache_entry_is_ignored(tmp_path: Path) -> None:
    root = broken(tmp_path)
    expected = validate(root, "--jobs", "2")
    cache = Cache.open(root, root / "schema", "")
    assert cache is not None and cache.index
    for name, offset, length in cache.index.values():
        path = root / FOLDER / "packs" / name
        blob = bytearray(path.read_bytes())
        blob[offset + length - 3] ^= 0x55
        path.write_bytes(bytes(blob))
    for run in (root / FOLDER / "entries").rglob("*"):  # the stored outcomes of whole runs
        if run.is_file():
            run.write_bytes(run.read_bytes()[:-7])
    assert validate(root, "--jobs", "2") == expected
    assert validate(root, "--jobs", "1") == expected


def test_an_edit_is_seen_on_the_next_run(tmp_path: Path) -> None:
    root = copy_corpus(tmp_path)
    assert validate(root)[0] == 0
    event = sorted((root / "events").rglob("*.yaml"))[0]
    text = event.read_text(encoding="utf-8")
    event.write_text(text.replace("review_status:", "review_status: nonsense\nx:", 1), "utf-8")
    code, out, _ = validate(root)
    assert code == 1 and event.name in out
    event.write_text(text, encoding="utf-8")
    assert validate(root)[0] == 0


def test_a_build_from_workers_and_the_cache_has_the_same_bytes(tmp_path: Path) -> None:
    root = make_release_repository(tmp_path / "repo")

    def build(*args: str) -> dict[str, bytes]:
        done = subprocess.run(
            [str(EXE), "build", "--quiet", "--root", str(root), *args],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        folder = root / "build"
        files = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*")
            if p.is_file() and not p.is_relative_to(root / FOLDER)
        }
        for path in list(folder.iterdir()):  # the builds go; the cache beside them stays
            if path != root / FOLDER:
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        return files

    serial = build("--jobs", "1", "--no-cache")
    assert not (root / FOLDER).exists()
    assert build("--jobs", "2") == serial  # no cache yet: build only reads one
    assert validate(root, "--jobs", "2")[0] == 0  # fills it
    assert build("--jobs", "2") == serial  # records from the cache, the same bytes
    # Nothing a build publishes holds the cache: the files of the version and its zip.
    assert not any("cache" in name.split("/")[:2] for name in serial)
    archive = next(name for name in serial if name.endswith(".zip"))
    with zipfile.ZipFile(io.BytesIO(serial[archive])) as zipped:
        assert not any(n.split("/")[1] == "cache" for n in zipped.namelist())


def test_rows_proved_where_they_were_read_or_from_the_cache_tell_what_pandera_tells(
    tmp_path: Path,
) -> None:
    """Each task proves the rows it read (check/table_proof.values_clean) and the parent what
    the cache gave it, then what compares rows: a record copied under another name breaks
    only a unique column, which Pandera must then tell, cold and from the cache alike."""
    root = copy_corpus(tmp_path)
    first = sorted((root / "events").rglob("*.yaml"))[0]
    shutil.copyfile(first, first.with_name(f"{first.stem}-twin.yaml"))
    serial = validate(root, "--jobs", "1", "--no-cache")
    assert serial[0] == 1 and "duplicate-id" in serial[1], serial
    assert validate(root, "--jobs", "2") == serial  # cold: every record read and proved
    # A changed source text checks everything again, its records' rows from the cache.
    text = next((root / "sources").rglob("text.txt"))
    text.write_text(text.read_text(encoding="utf-8") + "\nOne more sentence.\n", "utf-8")
    serial = validate(root, "--jobs", "1", "--no-cache")
    assert "duplicate-id" in serial[1]
    assert validate(root, "--jobs", "2") == serial


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_callers_own_work_is_done_once_while_the_workers_read(
    tmp_path: Path, jobs: int
) -> None:
    """A build has pyarrow import pandas (parquet.get_ready) while the workers read, so
    that it does not come later with the second core idle: meanwhile is called once, with
    every worker started and holding its tasks; without workers, before the reading."""
    root = copy_corpus(tmp_path)
    seen: list[int] = []

    def meanwhile() -> None:
        seen.append(len(multiprocessing.active_children()))

    alone = load_dataset(Repository(root), jobs=1)
    dataset = load_dataset(Repository(root), jobs=jobs, meanwhile=meanwhile)
    assert seen == [jobs if jobs > 1 else 0]
    assert [r.where for r in dataset.records] == [r.where for r in alone.records]
    assert dataset.issues == alone.issues
