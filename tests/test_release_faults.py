"""An unlucky maintainer: faults during `eventledger build` and `release`, through the real CLI
in a process of its own. Each fault gets a clear error (exit 1) naming the file, leaves the
repository and earlier builds as they were and nothing half-written in build/, and a rerun
once the fault is gone builds the same bytes as a build that never met it."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from prockit import child_of, still_running
from releasekit import git, make_release_repository

VERSION = "0.1.0"
NAME = "eventledger-kim-putin"
AS_ROOT = os.geteuid() == 0
SETPRIV = shutil.which("setpriv")
_CAPS = "-dac_override,-dac_read_search"
# Root writes into read-only folders: as root, the CLI runs without that capability.
WITHOUT_OVERRIDE = (
    [SETPRIV, "--bounding-set", _CAPS, "--inh-caps", _CAPS] if AS_ROOT and SETPRIV else []
)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_release_repository(tmp_path_factory.mktemp("faults") / "repo")


@pytest.fixture(scope="module")
def reference(pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The digests of a build that met no fault."""
    root = tmp_path_factory.mktemp("reference") / "repo"
    shutil.copytree(pristine, root, symlinks=True)
    done = cli(root, "build")
    assert done.returncode == 0, done.stderr
    return digests(root / "build")


@pytest.fixture
def repo(pristine: Path, tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(pristine, root, symlinks=True)
    return root


def cli(
    root: Path,
    *args: str,
    prefix: list[str] | None = None,
    preexec: Callable[[], None] | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "eventledger", *args, "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        preexec_fn=preexec,  # sets a resource limit in the child only
        env={**os.environ, **(env or {})},
    )


def digests(folder: Path) -> dict[str, str]:
    """Every file under folder but hidden ones (a lock another test holds on purpose)."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def tracked_state(root: Path) -> str:
    """Every file git sees, ignored ones included, but build/ (the builds and the read
    cache, which any check may fill)."""
    return git(root, "status", "--porcelain", "--ignored", "--", ".", ":!build")


def assert_clean_failure(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in done.stderr, done.stderr


def nothing_half_written(root: Path) -> None:
    build = root / "build"
    if build.is_dir():
        leftovers = [p.name for p in build.iterdir()]
        assert leftovers == [], leftovers


def test_build_that_is_a_file(repo: Path, reference: dict[str, str]) -> None:
    (repo / "build").write_text("not a folder\n")
    done = cli(repo, "build")
    assert_clean_failure(done, "cannot create the folder build: File exists", "remove or rename")
    assert (repo / "build").read_text() == "not a folder\n"
    (repo / "build").unlink()
    assert cli(repo, "build").returncode == 0
    assert digests(repo / "build") == reference


@pytest.mark.skipif(AS_ROOT and not SETPRIV, reason="root without setpriv writes anywhere")
def test_read_only_build_folder(repo: Path, reference: dict[str, str]) -> None:
    (repo / "build").mkdir()
    (repo / "build").chmod(0o555)
    before = tracked_state(repo)
    done = cli(repo, "build", prefix=WITHOUT_OVERRIDE)
    (repo / "build").chmod(0o755)
    assert_clean_failure(done, "Permission denied", "make it writable", "build")
    assert tracked_state(repo) == before
    nothing_half_written(repo)
    assert cli(repo, "build").returncode == 0
    assert digests(repo / "build") == reference


@pytest.mark.skipif(AS_ROOT and not SETPRIV, reason="root without setpriv writes anywhere")
def test_read_only_releases_folder(repo: Path, reference: dict[str, str]) -> None:
    (repo / "releases").mkdir()
    (repo / "releases").chmod(0o555)
    done = cli(repo, "release", prefix=WITHOUT_OVERRIDE)
    (repo / "releases").chmod(0o755)
    assert_clean_failure(done, f"releases/{VERSION}.json cannot be written", "Permission denied")
    assert list((repo / "releases").iterdir()) == []
    again = cli(repo, "release")
    assert again.returncode == 0, again.stderr
    assert (repo / "releases" / f"{VERSION}.json").is_file()
    assert digests(repo / "build") == reference


def _limit_file_size() -> None:
    limit = 4096  # smaller than the Parquet files, the xlsx and the zip
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_file_size_limit(repo: Path, reference: dict[str, str]) -> None:
    before = tracked_state(repo)
    done = cli(repo, "build", preexec=_limit_file_size)
    # Which file meets the limit first depends on sizes (SQLite says only "disk I/O error"):
    # the message names the cause and the fix either way.
    assert_clean_failure(done, "ulimit -f", "run the release again")
    assert tracked_state(repo) == before
    nothing_half_written(repo)
    assert cli(repo, "build").returncode == 0
    assert digests(repo / "build") == reference


def _can_mount() -> bool:
    if not AS_ROOT or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=16k tmpfs /mnt"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount(), reason="needs root and unshare to mount a small tmpfs")
def test_full_disk(repo: Path, reference: dict[str, str]) -> None:
    """A real ENOSPC: build/ is a 96 KiB tmpfs, mounted in a mount namespace of the child."""
    (repo / "build").mkdir()
    before = tracked_state(repo)
    script = (
        f"mount -t tmpfs -o size=96k tmpfs {repo / 'build'} && "
        f'exec "{sys.executable}" -m eventledger build --root "{repo}"'
    )
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert_clean_failure(done, "No space left on device", "free disk space")
    assert tracked_state(repo) == before
    nothing_half_written(repo)
    assert cli(repo, "build").returncode == 0
    assert digests(repo / "build") == reference


def test_two_builds_of_one_version_at_once(repo: Path) -> None:
    (repo / "build").mkdir()
    with open(repo / "build" / f".{VERSION}.lock", "w") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("process 4242 on ci-runner, since 2026-01-02T03:04:05Z")
        held.flush()
        done = cli(repo, "build")
    assert_clean_failure(
        done, "another build of this version is running (process 4242 on ci-runner"
    )
    assert not (repo / "build" / VERSION).exists()
    assert cli(repo, "build").returncode == 0  # the lock went with its holder


def test_stale_temporary_folders_are_cleaned(repo: Path, reference: dict[str, str]) -> None:
    """What a build killed during the frictionless step leaves aside."""
    stale = repo / "build" / f".{VERSION}-k1ll3d"
    (stale / "data").mkdir(parents=True)
    (stale / "data" / "events.csv").write_text("half")
    (repo / "build" / f".{VERSION}-k1ll3d.zip").write_bytes(b"PK half")
    (repo / "build" / f".{VERSION}-k1ll3d.zip.part").write_bytes(b"PK half")  # the zip child's
    (repo / "build" / f".{NAME}-{VERSION}.zip.abc.tmp").write_bytes(b"PK half")
    done = cli(repo, "build")
    assert done.returncode == 0, done.stderr
    assert f"removed .{VERSION}-k1ll3d, left in build/ by an interrupted build" in done.stderr
    assert digests(repo / "build") == reference
    assert sorted(p.name for p in (repo / "build").iterdir()) == [VERSION, f"{NAME}-{VERSION}.zip"]


def test_a_zip_that_does_not_hold_the_folder_is_written_afresh(
    repo: Path, reference: dict[str, str]
) -> None:
    """A build killed after renaming its folder into place and before replacing the zip
    leaves the new folder beside an earlier build's zip: the next build finds the folder
    unchanged and must not keep that zip, nor one cut short."""
    archive = repo / "build" / f"{NAME}-{VERSION}.zip"
    event = repo / "events" / "2019" / "2019-04-26-kim-cold-departure.yaml"
    event.write_text(event.read_text().replace("as Kim leaves", "as Kim departs"))
    assert cli(repo, "build").returncode == 0
    earlier = archive.read_bytes()  # an earlier build's, from other records
    git(repo, "checkout", "-q", "--", event.relative_to(repo).as_posix())
    assert cli(repo, "build").returncode == 0
    assert digests(repo / "build") == reference
    fresh = (
        f"wrote build/{NAME}-{VERSION}.zip afresh: it did not hold the files of build/{VERSION}/"
    )

    archive.write_bytes(earlier)
    done = cli(repo, "build")
    assert done.returncode == 0, done.stderr
    assert fresh in done.stderr and "nothing changed" in done.stdout + done.stderr
    assert digests(repo / "build") == reference

    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])  # cut short
    done = cli(repo, "build")
    assert done.returncode == 0, done.stderr
    assert fresh in done.stderr
    assert digests(repo / "build") == reference

    kept = archive.stat()
    done = cli(repo, "build")  # a zip that holds the folder is left as it is
    assert done.returncode == 0 and fresh not in done.stderr, done.stderr
    assert (archive.stat().st_ino, archive.stat().st_mtime_ns) == (kept.st_ino, kept.st_mtime_ns)
    assert sorted(p.name for p in (repo / "build").iterdir()) == [VERSION, f"{NAME}-{VERSION}.zip"]


def test_a_folder_in_the_zips_place_is_named(repo: Path) -> None:
    archive = repo / "build" / f"{NAME}-{VERSION}.zip"
    assert cli(repo, "build").returncode == 0
    archive.unlink()
    archive.mkdir()
    done = cli(repo, "build")
    assert_clean_failure(
        done, f"build/{NAME}-{VERSION}.zip is a folder, where the zip of build/{VERSION}/ belongs"
    )
    assert archive.is_dir()


def test_name_that_leaves_build_writes_nothing(repo: Path) -> None:
    package = json.loads((repo / "datapackage.json").read_text())
    package["name"] = "../../../x"
    (repo / "datapackage.json").write_text(json.dumps(package))
    outside = sorted(p.name for p in repo.parent.iterdir())
    done = cli(repo, "build")
    assert_clean_failure(done, "'name' is not a Data Package name")
    assert sorted(p.name for p in repo.parent.iterdir()) == outside
    assert not (repo / "build").exists()


@pytest.mark.parametrize(
    ("epoch", "reason"),
    [
        ("yesterday", "is not a whole number of seconds"),
        ("-5", "is not a whole number of seconds"),
        ("1e9", "is not a whole number of seconds"),
        ("100", "outside what a zip can record"),
        ("4354819200", "outside what a zip can record"),  # 2108
    ],
)
def test_bad_source_date_epoch_is_refused_with_its_reason(
    tmp_path: Path, epoch: str, reason: str
) -> None:
    root = make_release_repository(tmp_path / "plain", commit=False)
    env = {"SOURCE_DATE_EPOCH": epoch, "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    done = cli(root, "build", env=env)
    assert_clean_failure(done, f"SOURCE_DATE_EPOCH={epoch}", reason)
    nothing_half_written(root)


def test_summary_names_source_date_epoch_when_it_was_used(tmp_path: Path) -> None:
    root = make_release_repository(tmp_path / "plain", commit=False)
    env = {"SOURCE_DATE_EPOCH": "1767319445", "GIT_CEILING_DIRECTORIES": str(tmp_path)}
    done = cli(root, "build", env=env)
    assert done.returncode == 0, done.stderr
    assert "(SOURCE_DATE_EPOCH)" in done.stdout
    assert "commit time of HEAD" not in done.stdout


def test_records_lost_from_the_disk_are_not_withdrawn(repo: Path) -> None:
    assert cli(repo, "release").returncode == 0  # records, commits and tags 0.1.0
    package = json.loads((repo / "datapackage.json").read_text())
    package["version"] = "1.0.0"
    (repo / "datapackage.json").write_text(json.dumps(package, indent=2) + "\n")
    # Lost, not withdrawn: the file is gone from the disk but git still tracks it.
    (repo / "events" / "2019" / "2019-04-26-kim-cold-departure.yaml").unlink()
    done = cli(repo, "build")  # release itself would first refuse the uncommitted change
    assert_clean_failure(done, "although git still tracks their files", "kim-cold-departure")
    assert not (repo / "build" / "1.0.0").exists()
    assert not (repo / "releases" / "1.0.0.json").exists()


# Every kind of character the reader accepts in a text field: emoji (astral, a ZWJ family,
# a flag, a skin tone), combining marks, Arabic and Hebrew letters without bidi controls,
# CJK, a tab escape, private use and U+FFFD, and written as escapes (refused raw) a
# zero-width space, a no-break space, an ideographic space, a soft hyphen, a word joiner, a
# BOM, a Hangul filler, a variation selector and tag characters (the flag of England).
# Whatever validate accepts, every writer of a build must carry unchanged.
EXOTIC_TITLE = (
    "Kim 😀 👨\\u200d👩\\u200d👧 🇰🇵 👍🏽 q\\u0307 ñ كيم קים 金正恩 a\\u200bb 10\\u00a0Uhr \\t \\ue000 \\ufffd"
    " \\u3000 ab\\u00adc a\\u2060b \\ufeff \\u3164 \\u2764\\ufe0f"
    " 🏴\\U000e0067\\U000e0062\\U000e0065\\U000e006e\\U000e0067\\U000e007f"
)


def test_everything_validate_accepts_every_writer_carries(repo: Path) -> None:
    import openpyxl
    import pyarrow.parquet as pq

    event = repo / "events" / "2019" / "2019-04-26-kim-cold-departure.yaml"
    text = event.read_text(encoding="utf-8")
    event.write_text(
        text.replace("title: -30 degrees as Kim leaves", f'title: "{EXOTIC_TITLE}"', 1),
        encoding="utf-8",
    )
    git(repo, "commit", "-q", "-am", "exotic title")
    assert cli(repo, "validate").returncode == 0
    done = cli(repo, "build")
    assert done.returncode == 0, done.stderr
    # The same escapes, decoded by another YAML reader (JSON has no \U escapes).
    expected = yaml.safe_load(f'"{EXOTIC_TITLE}"')
    assert "\U000e007f" in expected and "\\" not in expected
    folder = repo / "build" / VERSION
    assert expected in (folder / "data" / "events.csv").read_text(encoding="utf-8")
    titles = pq.read_table(folder / "parquet" / "events.parquet").column("title").to_pylist()
    assert expected in titles
    sheet = openpyxl.load_workbook(folder / f"{NAME}-{VERSION}.xlsx", read_only=True)
    cells = {c for ws in sheet.worksheets for row in ws.iter_rows(values_only=True) for c in row}
    assert expected in cells


# A compact manifest (what git keeps) cut short: it lists one id of the two it counts.
TRUNCATED_COMPACT = json.dumps(
    {
        "format": "compact/1",
        "name": NAME,
        "version": "0.0.9",
        "created": "2026-01-01T00:00:00Z",
        "schema": {},
        "vocabularies": {},
        "records": {"events": {"count": 2, "digest": "0" * 64, "ids": ["0 2019-a " + "0" * 16]}},
    }
).encode()


@pytest.mark.parametrize(
    "content",
    [
        b"\xff\xfe not utf-8",
        b"[" * 100_000,
        b"[1, 2]",
        b'{"version": "0.0.9"}',
        TRUNCATED_COMPACT,
    ],
    ids=["not-utf8", "nested-too-deep", "a-list", "no-records", "truncated-compact"],
)
def test_a_forged_release_manifest_is_refused_not_a_traceback(repo: Path, content: bytes) -> None:
    (repo / "releases").mkdir(exist_ok=True)
    (repo / "releases" / "0.0.9.json").write_bytes(content)
    done = cli(repo, "build")
    assert_clean_failure(done, "releases/0.0.9.json", "release manifest")
    nothing_half_written(repo)


def test_a_deeply_nested_datapackage_json_is_an_issue(repo: Path) -> None:
    (repo / "datapackage.json").write_bytes(b"[" * 100_000)
    done = cli(repo, "validate")
    assert done.returncode == 1
    assert (
        "datapackage.json: error[package-metadata-invalid] not valid JSON: nested too deeply"
        in (done.stdout)
    )


def _build_until_frictionless(repo: Path) -> subprocess.Popen[str]:
    """A real build of repo, handed back once it says frictionless validates: its tables
    are written and its processes all started."""
    build = subprocess.Popen(
        [sys.executable, "-m", "eventledger", "build", "--root", str(repo)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert build.stderr is not None
    for line in build.stderr:
        if "validating with frictionless" in line:
            return build
    build.wait()
    raise AssertionError(f"the build ended before frictionless (exit {build.returncode})")


def test_a_build_killed_during_the_frictionless_step(repo: Path, reference: dict[str, str]) -> None:
    """SIGKILL while frictionless validates the package aside: the build's own processes
    die with it, and the next build cleans up."""
    import signal

    child = _build_until_frictionless(repo)
    # The zip writer and the tables check live to the build's end; the workbook's process
    # may have ended already.
    helpers = [
        child_of(child.pid, module)
        for module in ("eventledger.publish.zip_stream", "eventledger.publish.tables_check")
    ]
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=120)
    assert child.returncode == -signal.SIGKILL
    assert still_running(helpers) == []  # none left working on for a build that is gone
    left = sorted(p.name for p in (repo / "build").iterdir())
    assert not (repo / "build" / VERSION).exists()
    assert any(name.startswith(f".{VERSION}-") for name in left), left
    done = cli(repo, "build")
    assert done.returncode == 0, done.stderr
    assert "left in build/ by an interrupted build" in done.stderr
    assert digests(repo / "build") == reference
    assert sorted(p.name for p in (repo / "build").iterdir()) == [VERSION, f"{NAME}-{VERSION}.zip"]


@pytest.mark.parametrize(
    ("sig", "said"),
    [
        ("SIGKILL", r"was killed by SIGKILL; if not by you, the system may have run out of memory"),
        ("SIGSTOP", r"was stopped \(SIGSTOP\) for 3 s; it was ended, and the build with it"),
    ],
    ids=["killed", "stopped"],
)
def test_a_build_whose_zip_child_is_killed_or_stopped_stops_and_leaves_nothing(
    repo: Path, reference: dict[str, str], sig: str, said: str
) -> None:
    """The real zip child of a real build, signalled once the tables are written: it lives
    until the build has written every file, so the signal always finds it at work. Stopped,
    it would have been waited for for ever; the build ends it and stops instead."""
    import re
    import signal

    build = _build_until_frictionless(repo)
    assert build.stderr is not None
    child = child_of(build.pid, "eventledger.publish.zip_stream")
    os.kill(child, getattr(signal, sig))
    rest = build.stderr.read()
    assert build.wait(timeout=120) == 1, rest
    assert re.search(rf"error: the zip writer \(process {child}\) {said}", rest), rest
    assert "run the release again" in rest
    assert not Path(f"/proc/{child}").exists()  # ended and collected, not left stopped
    assert sorted(p.name for p in (repo / "build").iterdir()) == []  # nothing half-written
    done = cli(repo, "build")
    assert done.returncode == 0, done.stderr
    assert "interrupted build" not in done.stderr
    assert digests(repo / "build") == reference


def test_diff_of_a_forged_build_is_a_usage_error(repo: Path, tmp_path: Path) -> None:
    assert cli(repo, "build").returncode == 0
    forged = tmp_path / "forged"
    shutil.copytree(repo / "build" / VERSION, forged)
    manifest = json.loads((forged / "manifest.json").read_text())
    manifest["records"]["events"] = ["not", "a", "mapping"]
    (forged / "manifest.json").write_text(json.dumps(manifest))
    done = subprocess.run(
        [sys.executable, "-m", "eventledger", "diff", str(repo / "build" / VERSION), str(forged)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "not the manifest of a built release" in done.stderr
    assert "Traceback" not in done.stderr
