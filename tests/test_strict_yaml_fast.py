"""The composed fast path of the strict loader never differs from the event loop.

parse() first lets libyaml compose a clean file in C and walks the nodes once; it falls
back to the event loop, which checks and reports every rule, whenever the file could break
one. A file the fast path accepts must come back exactly as the event loop reads it: the
same data, the same positions in the same order, no issue. Checked on every YAML file of
the project (corpus, templates, schema, every test case) and on random YAML.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventledger.syntax.strict_yaml import (
    _NOT_PLAIN_TEXT,
    Document,
    _canonical,
    _compose,
    _strict,
    decode,
    load,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from scale import EVENT  # the synthetic record the benchmark reads 100k of

PROJECT = Path(__file__).resolve().parents[1]


def _same(text: str, fast: Callable[[str, bool], Document | None] | None = None) -> bool:
    """Whether a fast path (both when none is named) took text; asserts it read it as the
    event loop does."""
    taken = False
    for read in [fast] if fast is not None else [_canonical, _compose]:
        for positions in (False, True):
            doc = read(text, positions)
            ref, issues = _strict(text, "f.yaml", positions)
            if doc is None:
                continue
            taken = True
            assert issues == []
            assert ref is not None
            assert doc.data == ref.data
            assert json.dumps(doc.data) == json.dumps(ref.data)  # key order and types too
            assert list(doc.positions.items()) == list(ref.positions.items())
    return taken


def _project_files() -> list[Path]:
    skip = {".venv", ".git", "node_modules", "build", ".eventledger-cache"}
    found = []
    for path in sorted(PROJECT.rglob("*")):
        parts = set(path.relative_to(PROJECT).parts)
        if parts & skip or path.is_symlink() or not path.is_file():
            continue
        if path.suffix in {".yaml", ".yml"} or "cases" in parts:
            found.append(path)
    return found


@pytest.mark.parametrize("fast", [_canonical, _compose])
def test_every_project_file_reads_the_same(fast: Callable[[str, bool], Document | None]) -> None:
    taken = 0
    for path in _project_files():
        text, _ = decode(path.read_bytes(), "f.yaml")
        if text is not None:
            taken += _same(text, fast)
    # A fast path is worth having only if clean records take it.
    assert taken > 60


def test_clean_records_take_the_fast_path() -> None:
    corpus = sorted((PROJECT / "events").rglob("*.yaml"))
    assert corpus
    for path in corpus:
        text, issues = decode(path.read_bytes(), "f.yaml")
        assert text is not None and not issues
        assert _compose(text, False) is not None, path
        _same(text)
    synthetic = EVENT.format(
        eid="1990-01-01-event-0000001", i=1, day="1990-01-01", etype="AGREE",
        a="actor-001", b="actor-002", c="actor-003", d="actor-004", source="s",
    )  # fmt: skip
    assert _same(synthetic, _canonical) and _same(synthetic, _compose)


YAML_PIECES = st.sampled_from(
    [
        *list("abc :-[]{}&*!|>'\"#,?%@`\n "),
        "\n  ",
        "\n- ",
        "a: ",
        "- b",
        '"\\u202e"',
        '"\\x85"',
        '"\\t"',
        "~",
        "null",
        "yes",
        "NO",
        "2019-04-25",
        "---\n",
        "...\n",
    ]
)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(YAML_PIECES, max_size=80).map("".join))
def test_random_yaml_reads_the_same(text: str) -> None:
    _same(text)


KEYS = st.sampled_from(["a", "b", "quote", "yes", "~", "", "a b", "null", "\u202e", "x:y"])
SCALARS = st.sampled_from(["x", "", "~", "null", "Null", "yes", "On", "1", "2019-04-25", "\u202e"])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    st.recursive(
        SCALARS | st.none(),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(KEYS, c, max_size=3),
        max_leaves=25,
    ),
    st.sampled_from([None, "", "'", '"']),
    st.booleans(),
)
def test_dumped_yaml_reads_the_same(value: object, style: str | None, flow: bool) -> None:
    # Every shape of block and flow YAML, with plain, quoted and escaped scalars.
    text = yaml.safe_dump(
        {"v": value}, default_style=style, default_flow_style=flow, allow_unicode=False
    )
    _same(text)


def test_decode_refuses_every_character_the_line_reader_scans_for() -> None:
    # load() tells the line reader its text came from decode(), and the reader then skips
    # its own scan for characters libyaml does not print (CR, tab, controls, surrogates,
    # noncharacters, the byte-order mark). That is safe only while decode() lets none of
    # them through, anywhere in a file: checked here for each such code point.
    scanned = [chr(c) for c in range(0x110000) if _NOT_PLAIN_TEXT.match(chr(c))]
    assert "\t" in scanned and "\r" in scanned and "\ufeff" in scanned  # the scan still looks
    for char in scanned:
        for text in (f"a: x{char}y\n", f"# {char}\na: x\n", f"a: x\n{char}", f"{char}a: x\n"):
            raw = text.encode("utf-8", "surrogatepass")
            decoded, issues = decode(raw, "f.yaml")
            assert decoded is None or char not in decoded, hex(ord(char))
            if decoded is not None:  # then a CR LF became LF, or a leading BOM was cut
                assert issues, hex(ord(char))
    # And a file read through load() with such a character is never taken as clean.
    doc, issues = load("a: x\u0085b: y\n".encode(), "f.yaml")
    assert doc is None and [i.code for i in issues] == ["hidden-line-break"]


def test_nesting_deeper_than_the_composer_can_recurse_is_never_composed() -> None:
    # libyaml's compiled composer recurses in C: 100,000 levels crash the process. The
    # count of indicators keeps such a file away from it.
    raw = b"a:\n" + b"  - " * 1 + b"[" * 100_000 + b"]" * 100_000
    doc, issues = load(raw, "deep.yaml")
    assert doc is None
    assert [i.code for i in issues] == ["nesting-too-deep"]
    text = "\n".join(f"k{i}: v" for i in range(2000))
    doc, issues = load(text.encode(), "wide.yaml")
    assert issues == [] and doc is not None and len(doc.data) == 2000


# Lines of the canonical form and its near misses, at every indentation: what the line
# reader must read exactly as libyaml does, or leave to it.
CANONICAL_LINES = st.builds(
    "{}{}{}".format,
    st.sampled_from(["", " ", "  ", "   ", "    ", "      "]),
    st.sampled_from(["", "", "- ", "-", "-  "]),
    st.sampled_from(
        [
            "a: x",
            "b: x y",
            "a:",
            "b:",
            "c: ",
            'quote: "it\'s"',
            "a: 'it''s'",
            "b: 'a' b",
            'c: "a\\tb"',
            "a: [x, y-1, 2.5]",
            "b: []",
            "c: [null, x]",
            "a: [yes]",
            "b: {x: y}",
            "c: null",
            "a: ~",
            "b: yes",
            "c: On",
            "null: x",
            "yes: x",
            "a: x # note",
            "b: C#",
            "c: a:b",
            "a: a: b",
            "b: x:",
            "c: -x",
            "a: |",
            "b: >",
            "c: 'x",
            "x",
            "x y",
            '"x"',
            "[x]",
            "# a comment",
            "",
            "---",
            "...",
            "a:x",
            "k" * 1024 + ": x",
            "k" * 1025 + ": x",
            "k" * 1025 + ":",
        ]
    ),
)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(CANONICAL_LINES, min_size=1, max_size=12).map("\n".join))
def test_canonical_lines_read_the_same(text: str) -> None:
    _same(text, _canonical)


VALUES = st.sampled_from(
    ["x", "x y", "'it''s'", '"q"', '""', "''", "[a, b-1]", "[]", "null", "~", "yes", "C#",
     "a:b", "x #y", "-x", "x:", "2019-04-25", "\"a\\u00e9\"", "Kim: yes", "ü", "'a'b"]
)  # fmt: skip
# A key libyaml still takes (1024 characters) and one it refuses (1025).
NAMES = st.sampled_from(["a", "b", "event_id", "quote", "y", "null", "k" * 1024, "k" * 1025])


@st.composite
def canonical_documents(draw: st.DrawFn) -> str:
    """A nested record written in the canonical form (lists at their key's indent or
    deeper), then perhaps one line moved, dropped or replaced."""
    lines: list[str] = []

    def mapping(indent: int, first: str, depth: int) -> None:
        for i, name in enumerate(draw(st.lists(NAMES, min_size=1, max_size=4))):
            head = (first if i == 0 else " " * indent) + name + ":"
            kind = draw(st.sampled_from(["value", "value", "map", "list", "empty"]))
            if depth > 3 or kind == "value":
                lines.append(f"{head} {draw(VALUES)}")
            elif kind == "empty":
                lines.append(head)
            elif kind == "map":
                lines.append(head)
                inner = indent + draw(st.sampled_from([1, 2, 4]))
                mapping(inner, " " * inner, depth + 1)
            else:
                lines.append(head)
                at = indent + draw(st.sampled_from([0, 2, 3]))
                for _ in range(draw(st.integers(1, 3))):
                    if draw(st.booleans()):
                        lines.append(" " * at + "- " + draw(VALUES))
                    else:
                        mapping(at + 2, " " * at + "- ", depth + 1)

    mapping(0, "", 0)
    change = draw(st.sampled_from(["none", "none", "indent", "drop", "insert"]))
    at = draw(st.integers(0, len(lines) - 1))
    if change == "indent":
        lines[at] = " " * draw(st.integers(0, 3)) + lines[at].lstrip(" ")
    elif change == "drop":
        del lines[at]
    elif change == "insert":
        lines.insert(at, draw(st.sampled_from(["# c", "  # c", "", "---", "  x", "- x"])))
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(canonical_documents())
def test_canonical_documents_read_the_same(text: str) -> None:
    _same(text)


# Found in review: inputs a fast path took that the event loop reads otherwise or refuses.
# Each is loaded through load(), as a record file is, and must come back as the event loop
# reads it (issues included).
def _as_strict(text: str) -> None:
    for positions in (False, True):
        doc, issues = load(text.encode(), "f.yaml", positions=positions)
        ref, ref_issues = _strict(text, "f.yaml", positions)
        assert issues == ref_issues
        assert (doc is None) == (ref is None)
        if doc is not None and ref is not None:
            assert json.dumps(doc.data) == json.dumps(ref.data)
            assert list(doc.positions.items()) == list(ref.positions.items())
    _same(text)


@pytest.mark.parametrize(
    "text",
    [
        "a" * 1024 + ": b\n",
        "a" * 1025 + ": b\n",
        "k:\n- " + "a" * 1025 + ": b\n",
        "k:\n  " + "a" * 5000 + ":\n  b: c\n",
    ],
)
def test_keys_longer_than_libyaml_allows_are_refused(text: str) -> None:
    """libyaml refuses an implicit key over 1024 characters; the line reader took it."""
    _as_strict(text)
    if len(text) > 1100:
        assert load(text.encode(), "f.yaml")[0] is None


# Any text in every place a canonical value stands, quoted, flow-listed or plain: the
# characters an attacker would reach for (NBSP, wide spaces, BOM, noncharacters, astral
# code points, indicators, quotes) next to the ones a line reader must not misread.
VALUE_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"])
    | st.sampled_from(list(" #:-'\"[],{}\\\xa0\u3000\ufeff\u2028\x85\r\t")),
    min_size=1,
    max_size=10,
)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    VALUE_TEXT,
    st.sampled_from(["", "'", '"', "x", "x ", "[a, "]),
    st.sampled_from(["", "'", '"', "]", " x", " # c"]),
    st.sampled_from(["a: {}\n", "a:\n- {}\n", "a:\n  - b: {}\n    c: d\n", "k:\n  b: {}"]),
)
def test_canonical_values_of_any_text_read_the_same(
    text: str, before: str, after: str, template: str
) -> None:
    decoded, _ = decode(template.format(before + text + after).encode(), "f.yaml")
    if decoded is not None:
        _same(decoded)
