"""SHA256SUMS is checked in bulk when it is intact (one pattern over the whole text, then a
set and a digest per path) and a line at a time otherwise: the two give the same issues for
any text, against a real package folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventledger.publish.verify import (
    _SAFE_SUMS,
    _SUM_LINE,
    SUMS,
    _check_sums,
    _Package,
    _sum_lines,
    safe_relative,
)
from releasekit import make_package

FILES = {
    "data/events.csv": b"a\n",
    "site/a/b/page.html": b"<p>",
    "site/index.html": b"<html>",
    "a:b/c.txt": b"colon below the top",
    "odd\\name.txt": b"a backslash in a file name",
}
DIGEST = {rel: hashlib.sha256(data).hexdigest() for rel, data in FILES.items()}
_PIECES = st.sampled_from(
    ["a", "b.txt", ".", "..", "", "/", "\\", ":", "c:", "\x00", "\r", "\x1f", "\x7f", "ü", " "]
)
_PATHS = st.sampled_from([*FILES, "missing.txt", SUMS]) | st.lists(_PIECES, max_size=6).map("".join)
_DIGESTS = st.sampled_from([*DIGEST.values(), "0" * 64, "A" * 64, "0" * 63, ""])
_LINES = (
    st.sampled_from([f"{DIGEST[rel]}  {rel}" for rel in FILES])  # the right ones
    | st.builds(lambda d, rel: f"{d}  {rel}", _DIGESTS, _PATHS)
    | st.builds(
        lambda d, sep, rel: f"{d}{sep}{rel}", _DIGESTS, st.sampled_from([" ", "\t", ""]), _PATHS
    )
    | st.text(max_size=8)
)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_package(tmp_path_factory.mktemp("sums") / "pkg", FILES)


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(_LINES, max_size=8).map("\n".join),
    st.sampled_from(["", "\n", "\n\n"]),
)
def test_the_bulk_check_and_the_line_by_line_one_agree(package: Path, body: str, end: str) -> None:
    text = body + end
    (package / SUMS).write_text(text, encoding="utf-8")
    with _Package(package) as bulk, _Package(package) as by_line:
        assert _check_sums(bulk) == _sum_lines(by_line, text)


@settings(max_examples=3000, deadline=None)
@given(st.lists(_LINES, min_size=1, max_size=4))
def test_the_pattern_passes_exactly_the_lines_each_check_passes(lines: list[str]) -> None:
    one_by_one = all(
        "\n" not in line
        and (m := _SUM_LINE.fullmatch(line)) is not None
        and safe_relative(m.group(2)) is not None
        for line in lines
    )
    assert (_SAFE_SUMS.fullmatch("\n".join(lines) + "\n") is not None) == one_by_one


def test_an_intact_sums_takes_the_bulk_path_and_names_unlisted_files(package: Path) -> None:
    listed = sorted(FILES)[1:]
    text = "".join(f"{DIGEST[rel]}  {rel}\n" for rel in listed)
    (package / SUMS).write_text(text, encoding="utf-8")
    assert _SAFE_SUMS.fullmatch(text) is None  # "odd\\name.txt" is not a safe path
    safe = [rel for rel in listed if safe_relative(rel) is not None]
    text = "".join(f"{DIGEST[rel]}  {rel}\n" for rel in safe)
    (package / SUMS).write_text(text, encoding="utf-8")
    assert _SAFE_SUMS.fullmatch(text) is not None
    with _Package(package) as seen:
        found = [(i.file, i.code, i.message) for i in _check_sums(seen)]
    assert found == [
        (rel, "checksum-mismatch", "file not listed in SHA256SUMS")
        for rel in sorted(set(FILES) - set(safe))
    ]


def test_the_pattern_holds_no_memory_per_line() -> None:
    """A forged package may bring a SHA256SUMS of 64 MB: the bulk pattern must not keep a
    restart point per line (a plain * held about 450 bytes a line, 340 MB for 64 MB)."""
    import tracemalloc

    text = "".join(f"{n:064x}  site/events/ev-{n:07d}.html\n" for n in range(100_000))
    tracemalloc.start()
    try:
        assert _SAFE_SUMS.fullmatch(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, f"{peak:,} bytes held while matching 100,000 lines"
