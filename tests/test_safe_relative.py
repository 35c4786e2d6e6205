"""safe_relative, the one test of every path a package names or a build writes, against the
plain reading of its rule (the form it had before it was made fast)."""

from __future__ import annotations

from pathlib import PurePosixPath

from hypothesis import given, settings
from hypothesis import strategies as st

from eventledger.publish.verify import safe_relative


def _by_the_rule(rel: str) -> str | None:
    if (
        not rel
        or rel.startswith("/")
        or "\\" in rel
        or any(ord(c) < 32 or c == "\x7f" for c in rel)
    ):
        return None
    parts = PurePosixPath(rel).parts
    if any(p in ("", ".", "..") for p in rel.split("/")) or ":" in parts[0]:
        return None
    return rel


_PIECES = st.sampled_from(
    ["a", "b.txt", ".", "..", "", "/", "\\", ":", "c:", "\x00", "\n", "\x1f", "\x7f", "ü", " "]
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(_PIECES, max_size=8).map("".join) | st.text(max_size=20))
def test_safe_relative_follows_its_rule(rel: str) -> None:
    assert safe_relative(rel) == _by_the_rule(rel)


def test_safe_relative_refuses_what_leaves_the_package_and_keeps_plain_paths() -> None:
    for bad in (
        "",
        "/etc/passwd",
        "a/../b",
        "./a",
        "a//b",
        "a/",
        "c:/x",
        "a\\b",
        "a\nb",
        "..",
        "a/\x7f",
    ):
        assert safe_relative(bad) is None, bad
    for good in ("a", "site/events/2019/x.html", "data/events.csv", "a/b:c", "ü/…"):
        assert safe_relative(good) == good
