"""The strict loader never raises on bad data: random bytes and random YAML come back as issues."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventledger.issues.catalog import BY_CODE
from eventledger.issues.excerpt import FORBIDDEN, REFUSED_RAW
from eventledger.syntax.strict_yaml import MAX_DEPTH, double_quoted, load

YAML_ALPHABET = st.sampled_from(
    [*list("abc :-[]{}&*!|>'\"#,?%@`\n\t "), "\ufeff", "\r\n", "\x00", "ü", "NO", "yes", "~"]
)


def _assert_well_formed(raw: bytes) -> None:
    doc, issues = load(raw, "f.yaml")
    for issue in issues:
        assert issue.code in BY_CODE
        assert issue.file == "f.yaml"
        assert issue.line >= 1 and issue.column >= 1
        assert issue.message
    if doc is None:
        assert issues, "an unreadable file must say why"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(raw: bytes) -> None:
    _assert_well_formed(raw)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(YAML_ALPHABET, max_size=120).map("".join))
def test_random_yaml_never_raises(text: str) -> None:
    _assert_well_formed(text.encode("utf-8", "surrogatepass"))


# Printable text (YAML refuses control characters: that case is covered by the random tests above;
# spaces but U+0020 and invisible letters and marks are refused raw: see the tests below).
PRINTABLE = st.characters(categories=("L", "M", "N", "P", "S", "Zs")).filter(
    lambda c: REFUSED_RAW.match(c) is None
)


@given(
    st.recursive(
        st.text(PRINTABLE, max_size=5) | st.none(),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(st.text(PRINTABLE, min_size=1, max_size=5), c, max_size=3)
        ),
        max_leaves=20,
    )
)
@settings(max_examples=200, deadline=None)
def test_scalars_stay_strings(value: object) -> None:
    import json

    # JSON is YAML: whatever JSON writes, the loader reads back unchanged, every scalar a string.
    doc, issues = load(("v: " + json.dumps(value, ensure_ascii=False)).encode(), "f.yaml")
    assert doc is not None, issues
    assert doc.data == {"v": value}

    def walk(v: object) -> None:
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        else:
            assert v is None or isinstance(v, str)

    walk(doc.data)


def test_alias_bomb_is_refused_at_once() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 40)]
    doc, issues = load("\n".join(lines).encode(), "bomb.yaml")
    assert doc is None
    # Refused at the first alias, on line 2: nothing after it is read, so nothing is expanded
    # (9**39 strings would never finish). The anchor on line 1 is reported on its own.
    assert [(i.code, i.line) for i in issues if i.message.startswith("alias")] == [
        ("yaml-anchor", 2)
    ]
    assert max(i.line for i in issues) == 2


def test_deep_nesting_is_refused_without_recursion() -> None:
    raw = b"a: " + b"[" * 100_000 + b"]" * 100_000
    doc, issues = load(raw, "deep.yaml")
    assert doc is None
    assert [(i.code, i.line) for i in issues] == [("nesting-too-deep", 1)]
    assert f"{MAX_DEPTH}" in issues[0].message


def test_every_key_keeps_its_line() -> None:
    doc, issues = load(b"a: 1\nb:\n  - c: x\n    d: [1, 2]\n", "f.yaml")
    assert issues == [] and doc is not None
    assert doc.positions[("a",)] == (1, 1)
    assert doc.positions[("b", 0, "c")] == (3, 5)
    assert doc.positions[("b", 0, "d")] == (4, 5)
    assert doc.data == {"a": "1", "b": [{"c": "x", "d": ["1", "2"]}]}


def test_dates_and_norway_stay_strings() -> None:
    doc, issues = load(b'date_start: 2019-04-25\ncountry: "NO"\n', "f.yaml")
    assert issues == [] and doc is not None
    assert doc.data == {"date_start": "2019-04-25", "country": "NO"}


# The four places where what a reviewer sees in a diff and what YAML reads differed.
@pytest.mark.parametrize(
    ("text", "code", "column"),
    [
        ("a: b\xa0# c\n", "non-ascii-space", 5),  # a comment to the eye, text to YAML
        ("k:\n  a: x\n   b:\xa0y\n", "non-ascii-space", 6),  # a key to the eye, a value to YAML
        ("a: b\u3000c\n", "non-ascii-space", 5),
        ("a: b\u200bc\n", "invisible-character", 5),
        ("a: b\u2060c\n", "invisible-character", 5),
        ("a: b\xadc\n", "invisible-character", 5),
        ("a: b\u180ec\n", "invisible-character", 5),
        ("a: \u3164\n", "invisible-character", 4),
        ("a: b\ufe0f\n", "invisible-character", 5),
        (
            "# ok" + "".join(chr(0xE0000 + ord(c)) for c in "hidden") + "\na: b\n",
            "invisible-character",
            5,
        ),
        ("a: b\ufeff\n", "invisible-character", 5),
        ("a: b\u202e\n", "bidi-control", 5),  # bidi controls keep their own code
    ],
)
def test_raw_spaces_and_invisible_characters_are_refused_and_named(
    text: str, code: str, column: int
) -> None:
    doc, issues = load(text.encode("utf-8"), "f.yaml")
    assert doc is None
    assert [(i.code, i.column) for i in issues] == [(code, column)]
    assert issues[0].message.startswith("U+")
    assert code in BY_CODE


def test_a_byte_order_mark_at_the_start_keeps_its_own_code() -> None:
    doc, issues = load("\ufeffa: b\n".encode(), "f.yaml")
    assert doc is not None and doc.data == {"a": "b"}
    assert [i.code for i in issues] == ["byte-order-mark"]


def test_spaces_and_invisible_characters_may_be_written_as_escapes() -> None:
    doc, issues = load(b'a: "b\\u00a0c\\u200b\\ufe0f\\U000e0041"\n', "f.yaml")
    assert issues == [] and doc is not None
    assert doc.data == {"a": "b\xa0c\u200b\ufe0f\U000e0041"}


@pytest.mark.parametrize("key", ["on", "yes", "No", "y", "OFF", "true"])
def test_boolean_words_as_plain_keys_are_refused_like_values(key: str) -> None:
    doc, issues = load(f"k:\n  {key}: x\n".encode(), "f.yaml")
    assert [(i.code, i.line, i.column, i.path) for i in issues] == [
        ("implicit-boolean", 2, 3, ("k", key))
    ]
    doc, issues = load(f'"{key}": x\n'.encode(), "f.yaml")
    assert issues == [] and doc is not None and doc.data == {key: "x"}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",))))
def test_what_the_quoting_helper_writes_reads_back_and_shows_every_invisible(text: str) -> None:
    """Writers (new, locate --write) quote with double_quoted: the result must read back as
    text, and hold nothing raw that the reader refuses raw."""
    written = double_quoted(text)
    assert REFUSED_RAW.search(written) is None
    doc, issues = load(f"quote: {written}\n".encode(), "f.yaml")
    if FORBIDDEN.search(text) is None:
        assert issues == [] and doc is not None and doc.data == {"quote": text}
    else:  # a control character is refused even as an escape
        assert [i.code for i in issues] == ["control-character"]
