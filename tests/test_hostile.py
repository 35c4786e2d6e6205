"""A hostile contributor and an unlucky file system, through the real CLI.

The cases that git cannot carry (FIFOs, folders and files without read permission, links
to files outside the repository) are made here at run time; the ones it can carry are
case files under tests/cases/invalid/.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from casekit import CASES, make_repository
from eventledger.cli import main
from eventledger.publish.manifest import compare
from releasekit import damaged_zip, make_package

# Root reads every folder whatever its mode: as root, the CLI runs without the two
# capabilities that let it (setpriv, util-linux), so a mode of 0 means what it says.
AS_ROOT = os.geteuid() == 0
SETPRIV = shutil.which("setpriv")
_CAPS = "-dac_override,-dac_read_search"
WITHOUT_OVERRIDE = (
    [SETPRIV, "--bounding-set", _CAPS, "--inh-caps", _CAPS] if AS_ROOT and SETPRIV else []
)
needs_permissions = pytest.mark.skipif(
    AS_ROOT and not SETPRIV, reason="root without setpriv reads every file"
)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "repo"
    make_repository(root)
    (root / "events" / "2019").mkdir(parents=True)
    for case in (CASES / "valid").glob("*.yaml"):
        shutil.copyfile(case, root / "events" / "2019" / case.name)
    yield root
    for path in root.rglob("*"):  # so that pytest can remove what a test locked
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The installed CLI in a process of its own, unable to override file permissions."""
    return subprocess.run(
        [*WITHOUT_OVERRIDE, sys.executable, "-m", "eventledger", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@needs_permissions
def test_unreadable_folder_fails_the_check_instead_of_dropping_its_records(repo: Path) -> None:
    folder = repo / "events" / "2019"
    folder.chmod(0)
    done = cli("validate", "--root", str(repo))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "events/2019: error[folder-unreadable] the folder cannot be listed" in done.stdout
    assert "Traceback" not in done.stderr


@needs_permissions
def test_unreadable_record_is_its_own_issue(repo: Path) -> None:
    record = repo / "events" / "2019" / "2019-04-25-kim-putin-talks.yaml"
    record.chmod(0)
    done = cli("validate", "--root", str(repo))
    assert done.returncode == 1
    assert "2019-04-25-kim-putin-talks.yaml: error[file-unreadable] cannot read the file" in (
        done.stdout
    )


@needs_permissions
def test_verify_reports_a_package_folder_it_cannot_read(tmp_path: Path) -> None:
    package = make_package(tmp_path / "pkg", {"data/events.csv": b"a\n", "site/a.html": b"<p>"})
    (package / "site").chmod(0)
    try:
        done = cli("verify", str(package))
    finally:
        (package / "site").chmod(0o755)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "site: error[package-file-malformed] folder cannot be read: Permission denied" in (
        done.stdout
    )
    assert "SHA256SUMS:2:1: error[checksum-mismatch] site/a.html is listed but missing" in (
        done.stdout
    )
    assert "Traceback" not in done.stderr


@needs_permissions
def test_verify_reports_each_entry_of_a_folder_it_may_list_but_not_enter(
    tmp_path: Path,
) -> None:
    """r-- without x: the names can be listed, nothing in it reached. With a folder inside,
    this was a traceback (PermissionError) instead of the issues."""
    package = make_package(tmp_path / "pkg", {"data/events.csv": b"a\n", "site/a.html": b"<p>"})
    (package / "site" / "pages").mkdir()
    (package / "site").chmod(0o444)
    try:
        done = cli("verify", str(package))
    finally:
        (package / "site").chmod(0o755)
    assert done.returncode == 1, done.stdout + done.stderr
    for rel in ("site/a.html", "site/pages"):
        assert f"{rel}: error[package-file-malformed] cannot be read: Permission denied" in (
            done.stdout
        )
    assert "Traceback" not in done.stderr


def test_fifo_named_like_a_record_is_reported_and_never_opened(repo: Path) -> None:
    os.mkfifo(repo / "events" / "2019" / "2019-04-25-fifo.yaml")
    os.mkfifo(repo / "sources" / "example-2019-04-25-summit" / "notes.txt")
    done = cli("validate", "--root", str(repo), timeout=60)  # it used to hang for ever
    assert done.returncode == 1
    assert "events/2019/2019-04-25-fifo.yaml: error[special-file]" in done.stdout
    assert "sources/example-2019-04-25-summit/notes.txt: error[special-file]" in done.stdout


def test_fifo_as_source_text_is_not_opened(repo: Path) -> None:
    text = repo / "sources" / "example-2019-04-25-summit" / "text.txt"
    text.unlink()
    os.mkfifo(text)
    done = cli("validate", "--root", str(repo), timeout=60)
    assert done.returncode == 1
    assert "text.txt: error[special-file]" in done.stdout
    code, out = invoke("locate", "--root", str(repo), "example-2019-04-25-summit", "Putin")
    assert code == 2 and "no readable text" in out


def test_link_to_a_private_file_is_refused_and_its_content_never_printed(
    repo: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:secret-marker:/root:/bin/bash\n" * 50)
    (repo / "events" / "2019" / "2019-04-26-passwd.yaml").symlink_to(secret)
    (repo / "actors" / "secret.yaml").symlink_to(secret)
    code, out = invoke("validate", "--root", str(repo))
    assert code == 1
    assert "events/2019/2019-04-26-passwd.yaml: error[symlink-not-allowed]" in out
    assert "actors/secret.yaml: error[symlink-not-allowed]" in out
    assert "secret-marker" not in out


def test_linked_source_text_is_an_issue_not_a_traceback(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "text.txt"
    text = repo / "sources" / "example-2019-04-25-summit" / "text.txt"
    shutil.copyfile(text, outside)
    text.unlink()
    text.symlink_to(outside)
    code, out = invoke("validate", "--root", str(repo))
    assert code == 1
    assert "sources/example-2019-04-25-summit/text.txt: error[symlink-not-allowed]" in out
    assert "error[source-text-missing]" in out
    code, out = invoke("locate", "--root", str(repo), "example-2019-04-25-summit", "Putin")
    assert code == 2 and "no readable text" in out


def test_values_cannot_drive_the_terminal_or_forge_lines(repo: Path) -> None:
    record = repo / "events" / "2019" / "2019-04-25-kim-putin-talks.yaml"
    text = record.read_text(encoding="utf-8")
    forged = "kim\\u001b]0;owned\\u0007\\nsrc/x.py:1:1: error[forged] y"
    record.write_text(
        text.replace("- actor_id: kim-jong-un", f'- actor_id: "{forged}"', 1), encoding="utf-8"
    )
    for fmt in ("text", "github"):
        code, out = invoke("validate", "--root", str(repo), "--format", fmt)
        assert code == 1
        assert "\x1b" not in out and "\x07" not in out
        assert not any(
            line.startswith(("src/x.py", "::error file=src/x.py")) for line in out.splitlines()
        )
        assert "\\u001b" in out


def test_diff_of_forged_manifests_neither_fails_nor_drives_the_terminal(tmp_path: Path) -> None:
    """A manifest's ids, fields and versions are any JSON text: a lone surrogate (which no
    UTF-8 output holds), a terminal's escape, a line break forging a line of the diff."""
    lone, escape, forged = "lone-\udc00", "esc-\x1b]0;owned\x07", "x\n- added: `forged`"
    head = {"name": "n", "created": "c", "schema": {}, "vocabularies": {}}
    old = head | {"version": "0.1.0", "records": {"events": {}}}
    for rid in (lone, escape, forged):
        old["records"]["events"][rid] = {"hash": "1", "fields": {"title": "1", "f\udc01": "1"}}
    new = json.loads(json.dumps(old)) | {"version": f"0.2.0{escape}"}
    for rid in (lone, escape, forged):
        new["records"]["events"][rid] = {"hash": "2", "fields": {"title": "2", "f\udc01": "2"}}
    new["records"]["events"][f"new-{lone}"] = new["records"]["events"][lone]
    for name, data in (("old", old), ("new", new)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text(json.dumps(data), encoding="ascii")
    done = cli("diff", "--format", "json", str(tmp_path / "old"), str(tmp_path / "new"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == compare(old, new).to_dict()  # every character as it is
    done = cli("diff", str(tmp_path / "old"), str(tmp_path / "new"))
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "- added: `forged`" not in done.stdout.splitlines()
    for shown in ("lone-\\udc00", "esc-\\u001b]0;owned\\u0007", "x\\n- added: `forged`"):
        assert f"- changed: `{shown}` (f\\udc01, title)" in done.stdout
    assert "- added: `new-lone-\\udc00`" in done.stdout


def test_a_huge_value_is_printed_as_a_short_excerpt(repo: Path) -> None:
    record = repo / "events" / "2019" / "2019-04-25-kim-putin-talks.yaml"
    text = record.read_text(encoding="utf-8")
    title = "A" * 900_000
    record.write_text(text.replace("title: Kim", f"title: {title} Kim", 1), encoding="utf-8")
    code, out = invoke("validate", "--root", str(repo))
    assert code == 1
    assert "error[bad-length]" in out or "error[file-too-large]" in out
    assert len(out) < 5_000


def test_validate_refuses_paths_outside_the_repository_or_not_records(repo: Path) -> None:
    (repo / "README.md").write_text("# notes\n")
    for args in (
        ("validate", "--root", str(repo), "/etc/passwd"),
        ("validate", "--root", str(repo), str(repo / "README.md")),
        ("validate", "--root", str(repo), str(repo / "schema")),
    ):
        code, out = invoke(*args)
        assert code == 2, out
        assert "Traceback" not in out
    code, out = invoke("validate", "--root", str(repo), "/etc/passwd")
    assert "/etc/passwd is not in the repository" in out
    code, out = invoke("validate", "--root", str(repo), str(repo / "README.md"))
    assert "README.md is not a record" in out


@pytest.mark.parametrize(
    "source_id", ["../../etc", "../sources/example-2019-04-25-summit", "/etc", "..", "a\\b"]
)
def test_locate_refuses_a_source_id_that_is_a_path(repo: Path, source_id: str) -> None:
    code, out = invoke("locate", "--root", str(repo), source_id, "root")
    assert code == 2
    assert "is a path, not an id" in out


def test_locate_write_refuses_a_record_outside_the_repository(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "2019-04-25-kim-putin-talks.yaml"
    shutil.copyfile(repo / "events" / "2019" / outside.name, outside)
    before = outside.read_bytes()
    code, out = invoke("locate", "--root", str(repo), "--write", str(outside))
    assert code == 2
    assert "is not in the repository" in out
    assert outside.read_bytes() == before


def test_locate_write_refuses_a_span_whose_source_id_is_a_path(repo: Path) -> None:
    record = repo / "events" / "2019" / "2019-04-25-kim-putin-talks.yaml"
    text = record.read_text(encoding="utf-8")
    record.write_text(
        text.replace("source_id: example-2019-04-25-summit", "source_id: ../../../etc", 1),
        encoding="utf-8",
    )
    before = record.read_bytes()
    code, out = invoke("locate", "--root", str(repo), "--write", str(record))
    assert code == 1
    assert "source_id '../../../etc' is a path" in out
    assert record.read_bytes() == before


def test_verify_of_something_that_is_not_a_package_is_a_usage_error(repo: Path) -> None:
    for target in (repo / "events", repo / "datapackage.json"):
        code, out = invoke("verify", str(target))
        assert code == 2, out
        assert "Traceback" not in out
    code, out = invoke("verify", str(repo / "events"))
    assert "is not a built package" in out


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_LZMA])
def test_a_zip_whose_member_is_damaged_is_reported_not_a_traceback(
    tmp_path: Path, method: int
) -> None:
    """zlib's decoder and LZMA's raise errors of their own, beside zipfile's."""
    noise = b"".join(hashlib.sha256(bytes([n])).digest() for n in range(99))  # no compression
    files = {"SHA256SUMS": b"", "manifest.json": noise}
    members = {f"ledger-0.1.0/{rel}": data for rel, data in files.items()}
    archive = tmp_path / "damaged.zip"
    damaged_zip(archive, members, "ledger-0.1.0/manifest.json", method)
    for args, status in ((["verify", str(archive)], 1), (["diff", str(archive), str(archive)], 2)):
        done = cli(*args)
        assert done.returncode == status, done.stderr
        assert "Traceback" not in done.stderr
        assert "damaged.zip" in done.stdout + done.stderr


def test_a_huge_record_file_is_refused_by_its_size_without_being_read(repo: Path) -> None:
    import resource

    with (repo / "events" / "2019" / "2019-04-27-huge.yaml").open("wb") as handle:
        handle.truncate(400 * 1024**2)  # sparse: 400 MB that nothing may load
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code, out = invoke("validate", "--root", str(repo))
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert code == 1
    assert "2019-04-27-huge.yaml:1:1: error[file-too-large] file is 419,430,400 bytes" in out
    assert grown_kb < 100 * 1024


def test_the_refused_characters_are_exactly_the_documented_ones() -> None:
    """Over every code point: what the reader refuses is C0 but LF and tab, DEL, C1, LS, PS,
    surrogates and noncharacters (plus the bidi controls where they are refused); raw, in
    a file, also every space but U+0020, every format character and every default-ignorable
    code point (which a double-quoted string may hold as escapes)."""
    import unicodedata

    from eventledger.issues.excerpt import (
        BIDI_CONTROLS,
        FORBIDDEN,
        FORBIDDEN_OR_BIDI,
        REFUSED_RAW,
    )

    def documented(char: str) -> bool:
        code = ord(char)
        return (
            (code < 0x20 and char not in "\n\t")
            or 0x7F <= code <= 0x9F
            or char in "\u2028\u2029"
            or 0xD800 <= code <= 0xDFFF
            or 0xFDD0 <= code <= 0xFDEF
            or code & 0xFFFE == 0xFFFE
        )

    # Default_Ignorable_Code_Point (Unicode 14.0, DerivedCoreProperties.txt): shown as
    # nothing when a font has no glyph for it.
    ignorable = [
        (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
        (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
        (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
        (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
        (0xE0000, 0xE0FFF),
    ]  # fmt: skip
    ignorable_codes = {code for low, high in ignorable for code in range(low, high + 1)}

    def invisible(char: str) -> bool:
        """Refused raw only: spaces but U+0020, format characters, default-ignorables."""
        category = unicodedata.category(char)
        return (
            (category == "Zs" and char != " ") or category == "Cf" or ord(char) in ignorable_codes
        )

    wrong = [
        hex(code)
        for code in range(0x110000)
        if bool(FORBIDDEN.match(chr(code))) != documented(chr(code))
        or bool(FORBIDDEN_OR_BIDI.match(chr(code)))
        != (documented(chr(code)) or chr(code) in BIDI_CONTROLS)
        or bool(REFUSED_RAW.match(chr(code)))
        != (documented(chr(code)) or chr(code) in BIDI_CONTROLS or invisible(chr(code)))
    ]
    assert wrong == []
