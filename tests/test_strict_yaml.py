"""The strict loader never raises on bad data: random bytes and random YAML come back as issues."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventledger.issues.catalog import BY_CODE
from eventledger.syntax.strict_yaml import MAX_DEPTH, load

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


# Printable text (YAML refuses control characters: that case is covered by the random tests above).
PRINTABLE = st.characters(categories=("L", "M", "N", "P", "S", "Zs"))


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
