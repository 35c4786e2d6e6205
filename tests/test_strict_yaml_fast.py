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
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventledger.syntax.strict_yaml import _compose, _strict, decode, load

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from scale import EVENT  # the synthetic record the benchmark reads 100k of

PROJECT = Path(__file__).resolve().parents[1]


def _same(text: str) -> bool:
    """Whether the fast path took text; asserts it read it as the event loop does."""
    taken = False
    for positions in (False, True):
        doc = _compose(text, positions)
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


def test_every_project_file_reads_the_same() -> None:
    taken = 0
    for path in _project_files():
        text, _ = decode(path.read_bytes(), "f.yaml")
        if text is not None:
            taken += _same(text)
    # The fast path is worth having only if clean records take it.
    assert taken > 100


def test_clean_records_take_the_fast_path() -> None:
    corpus = sorted((PROJECT / "events").rglob("*.yaml"))
    assert corpus
    for path in corpus:
        text, issues = decode(path.read_bytes(), "f.yaml")
        assert text is not None and not issues
        assert _compose(text, False) is not None, path
    synthetic = EVENT.format(
        eid="1990-01-01-event-0000001", i=1, day="1990-01-01", etype="AGREE",
        a="actor-001", b="actor-002", c="actor-003", d="actor-004", source="s",
    )  # fmt: skip
    assert _same(synthetic)


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
