"""A full manifest read as a stream (publish/manifest_stream.py) against the same bytes read
whole (jsonfile.loads and is_manifest, as diff read them before): the same head, hashes and
fields for any JSON text of a manifest, in any layout and cut into chunks anywhere; the same
kinds of errors, with the same line and column, for anything else; and compare's results the
same, byte for byte."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventledger.jsonfile import JsonFileError, loads, read_json
from eventledger.publish.diff import DiffError, diff
from eventledger.publish.manifest import (
    COMPACT,
    FIELDS_AT_ONCE,
    FieldsOf,
    ManifestError,
    changes_markdown,
    compact_bytes,
    compare,
    expand,
    is_manifest,
    manifest_bytes,
)
from eventledger.publish.manifest_stream import (
    CHUNK,
    MAX_TABLES,
    ManifestStream,
    NotAManifest,
    Source,
    file_source,
    read_manifest,
    zip_member_source,
)

PROJECT = Path(__file__).resolve().parents[1]
CHUNKS = (1, 2, 3, 7, 64, 4096, CHUNK)
_ID = re.compile(r"\S+")  # what a compact manifest's id may be


def seeded(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 -- a layout's whitespace, not a secret


def source(data: bytes, log: list[int] | None = None) -> Source:
    """data as a manifest's bytes; log, when given, gets how many bytes each pass read."""

    @contextlib.contextmanager
    def opened() -> Iterator[IO[bytes]]:
        handle = io.BytesIO(data)
        try:
            yield handle
        finally:
            if log is not None:
                log.append(handle.tell())

    return opened


def whole(data: bytes) -> dict[str, Any]:
    """data read whole, as diff read a manifest before the stream: a manifest or an error."""
    value = loads(data)
    if not is_manifest(value):
        raise NotAManifest("not a manifest")
    out: dict[str, Any] = value
    return out


def verdict(read: Any) -> tuple[Any, ...]:
    """What reading gave: the error's kind, reason, line and column, or "ok"."""
    try:
        read()
    except JsonFileError as err:
        return ("json", err.reason, err.line, err.column)
    except NotAManifest:
        return ("shape",)
    return ("ok",)


def assert_same(data: bytes, chunk: int = CHUNK) -> ManifestStream | None:
    """The stream reads data as the whole read does: the same data or the same error."""
    expected = verdict(lambda: whole(data))
    got = verdict(lambda: read_manifest(source(data), chunk=chunk))
    if expected[:2] in (("json", "not valid JSON: nested too deeply"), ("json", LONG_NUMBER)):
        # Read whole, json cannot say where; the stream says where the value starts.
        assert got[:2] == expected[:2]
    else:
        assert got == expected
    if expected != ("ok",):
        return None
    loaded = whole(data)
    read = read_manifest(source(data), chunk=chunk)
    assert read.head == {k: v for k, v in loaded.items() if k != "records"}
    records = loaded["records"]
    assert read.records == {t: {i: e["hash"] for i, e in r.items()} for t, r in records.items()}
    # In json.loads' order too (a key given twice stays in its first place).
    assert list(read.head) == [k for k in loaded if k != "records"]
    assert [(t, list(r)) for t, r in read.records.items()] == [
        (t, list(r)) for t, r in records.items()
    ]
    wanted = {t: list(r)[::2] for t, r in records.items()}
    fields = {t: {i: records[t][i]["fields"] for i in ids} for t, ids in wanted.items()}
    assert read.fields(wanted) == fields
    return read


LONG_NUMBER = (
    f"a number of more than {sys.get_int_max_str_digits():,} digits, more than Python reads"
)


# -- manifests in any layout -------------------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8) | st.sampled_from(
    ["é", "😀", 'a"b', "back\\slash", "\u2028", "tab\tid", "\x00\x1f", "ü" * 20]
)
_HASH = st.from_regex(r"[0-9a-f]{16}", fullmatch=True)
_LEAF = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT
_JSON = st.recursive(
    _LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=10,
)
_ENTRY = st.fixed_dictionaries(
    {"hash": _HASH, "fields": st.dictionaries(_TEXT, _HASH | _JSON, max_size=5)},
    optional={"note": _JSON},  # is_manifest lets an entry hold more
)
_MANIFEST = st.fixed_dictionaries(
    {
        "name": _TEXT,
        "version": _TEXT,
        "created": _TEXT,
        "schema": st.dictionaries(_TEXT, st.dictionaries(_TEXT, _TEXT, max_size=3), max_size=3),
        "vocabularies": st.dictionaries(_TEXT, st.lists(_TEXT, max_size=3), max_size=3),
        "records": st.dictionaries(_TEXT, st.dictionaries(_TEXT, _ENTRY, max_size=6), max_size=3),
    },
    optional={
        "withheld": st.dictionaries(_TEXT, st.lists(_TEXT, max_size=3), max_size=2),
        "format": _JSON,
        "extra": _JSON,
    },
)


def _spaced(value: Any, rng: random.Random) -> str:
    """value as JSON with random whitespace between every two tokens, keys in random order."""

    def ws() -> str:
        return "".join(rng.choice(" \t\n\r") for _ in range(rng.choice((0, 0, 1, 3))))

    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        members = [
            f"{ws()}{json.dumps(k)}{ws()}:{ws()}{_spaced(value[k], rng)}{ws()}" for k in keys
        ]
        return "{" + ",".join(members) + ws() + "}"
    if isinstance(value, list):
        return "[" + ",".join(ws() + _spaced(v, rng) + ws() for v in value) + ws() + "]"
    return json.dumps(value, ensure_ascii=rng.random() < 0.5)


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: _shuffled(value[k], rng) for k in keys}
    return value


LAYOUTS = ("ours", "compact", "indent4", "ascii", "unsorted", "spaced")


def layout(data: dict[str, Any], how: str, rng: random.Random) -> bytes:
    if how == "ours":
        return manifest_bytes(data)
    if how == "compact":
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    if how == "indent4":
        return json.dumps(data, ensure_ascii=False, indent=4, sort_keys=True).encode()
    if how == "ascii":  # \u00e9, and \ud83d\ude00 for what is beyond the BMP
        return json.dumps(data, indent=1).encode()
    if how == "unsorted":
        return json.dumps(_shuffled(data, rng), ensure_ascii=False, indent=2).encode()
    return ("\r\n " + _spaced(data, rng) + " \n\t").encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_MANIFEST, st.sampled_from(LAYOUTS), st.sampled_from(CHUNKS), st.randoms())
def test_any_layout_in_any_chunks_reads_as_read_whole(
    data: dict[str, Any], how: str, chunk: int, rng: random.Random
) -> None:
    text = layout(data, how, rng)
    assert assert_same(text, chunk) is not None


def test_escapes_in_ids_are_read_as_json_reads_them() -> None:
    data = json.loads((PROJECT / "releases" / "0.1.0.json").read_text(encoding="utf-8"))
    events = data["records"]["events"]
    entry = next(iter(events.values()))
    for rid in ("caf\u00e9", "smile-\U0001f600", 'q"uote', "back\\slash", "lone-\udc00"):
        events[rid] = entry
    text = json.dumps(data, indent=1).encode()  # ascii: \u00e9, \ud83d\ude00, \udc00
    assert b"\\ud83d\\ude00" in text and b"\\u00e9" in text
    for chunk in CHUNKS:
        read = assert_same(text, chunk)
        assert read is not None and "smile-\U0001f600" in read.records["events"]


def test_a_record_across_the_chunk_boundary() -> None:
    """Each record's entry read whole, at every place the default chunk can cut it."""
    data = json.loads((PROJECT / "releases" / "0.1.0.json").read_text(encoding="utf-8"))
    text = manifest_bytes(data)
    at = text.index(b'"1945-soviet-union-installs-kim-il-sung"')
    for shift in range(0, 1200, 37):
        # The head padded so that the chunk's end falls shift bytes into that record.
        padding = CHUNK - at + shift - len(b'"aaa": "",')
        padded = data | {"aaa": "x" * padding}
        body = manifest_bytes(padded)
        assert len(body) > CHUNK
        assert assert_same(body) is not None


# -- a key given twice: the last counts, as json.loads keeps it ---------------------------

HEAD = '"name": "n", "version": "0.1.0", "created": "c", "schema": {}, "vocabularies": {}'
GOOD = '{"hash": "h1", "fields": {"x": "1"}}'
GOOD2 = '{"hash": "h2", "fields": {"x": "2"}}'
BAD = '{"hash": 1, "fields": {}}'


@pytest.mark.parametrize(
    ("records", "ok"),
    [
        (f'{{"t": {{"a": {BAD}, "a": {GOOD}}}}}', True),
        (f'{{"t": {{"a": {GOOD}, "a": {BAD}}}}}', False),
        (f'{{"t": {{"a": {GOOD}, "b": {BAD}, "a": {GOOD2}}}}}', False),
        (f'{{"t": {{"a": {GOOD}, "a": {GOOD2}}}}}', True),
        (f'{{"t": {{"a": {BAD}}}, "t": {{"b": {GOOD}}}}}', True),
        (f'{{"t": {{"a": {GOOD}}}, "t": {{"b": {BAD}}}}}', False),
        (f'{{"t": [], "t": {{"a": {GOOD}}}}}', True),
        (f'{{"t": {{"a": {GOOD}}}, "t": []}}', False),
        (f'{{"t": {{"a": {GOOD}}}, "u": {{}}, "t": {{"a": {GOOD2}}}}}', True),
        (f'{{"t": {{"a": {GOOD}, "b": {GOOD}, "a": {BAD}, "a": {GOOD2}}}}}', True),
        (f'{{"t": {{"a": {BAD}, "b": {GOOD}, "a": {GOOD2}}}}}', True),
        (f'{{"t": {{}}, "u": {{"a": {GOOD}}}, "t": [], "t": {{"b": {GOOD}}}}}', True),
    ],
)
def test_a_key_given_twice_holds_its_last_value(records: str, ok: bool) -> None:
    text = f'{{{HEAD}, "records": {records}}}'.encode()
    for chunk in CHUNKS:
        read = assert_same(text, chunk)
        assert (read is not None) is ok
    if ok:  # the fields of the last entry of each id
        table = whole(text)["records"]["t"]
        fields = read_manifest(source(text)).fields({"t": list(table)})
        assert fields == {"t": {rid: entry["fields"] for rid, entry in table.items()}}


@pytest.mark.parametrize(
    "text",
    [
        f'{{{HEAD}, "records": [], "records": {{"t": {{"a": {GOOD}}}}}}}',
        f'{{{HEAD}, "records": {{"t": {{"a": {BAD}}}}}, "records": {{}}}}',
        f'{{"records": {{"t": {{"a": {GOOD}}}}}, {HEAD}, "records": {{"u": {{}}}}}}',
        f'{{{HEAD}, "records": {{"t": {{"a": {GOOD}}}}}, "records": 5}}',
        f'{{"version": 1, {HEAD}, "records": {{}}}}',
        f'{{{HEAD}, "version": 1, "records": {{}}}}',
        f'{{{HEAD}, "withheld": 1, "withheld": {{}}, "records": {{}}}}',
    ],
)
def test_the_records_and_the_head_given_twice(text: str) -> None:
    for chunk in CHUNKS:
        assert_same(text.encode(), chunk)


# -- what is not a manifest ---------------------------------------------------------------


def _small() -> dict[str, Any]:
    return {
        "name": "n",
        "version": "0.1.0",
        "created": "2026-01-01T00:00:00Z",
        "schema": {"events": {"title": "string"}},
        "vocabularies": {"kind": ["a", "b"]},
        "records": {
            "events": {
                "caf\u00e9-\U0001f600": {"hash": "0123456789abcdef", "fields": {"title": "0"}},
                "second": {"hash": "fedcba9876543210", "fields": {"title": "1", "n": 1.5}},
            },
            "actors": {},
        },
        "withheld": {"events": ["draft"]},
    }


@pytest.mark.parametrize("how", ["ours", "compact", "ascii", "spaced"])
def test_a_manifest_cut_anywhere_is_refused_as_json_refuses_it(how: str) -> None:
    """Every prefix of a manifest, in small chunks and large: the same error as the whole
    read (json's message, line and column), never a hang or another exception."""
    text = layout(_small(), how, seeded(1))
    for cut in range(len(text)):
        for chunk in (1, 7, 4096):
            assert_same(text[:cut], chunk)


@pytest.mark.parametrize(
    "broken",
    [
        lambda t: t[:40] + t[-5000:],  # a part left out
        lambda t: t.replace(b'"version":', b'"version"', 1),  # no colon
        lambda t: t + b" {}",  # extra data
        lambda t: b"\xef\xbb\xbf" + t,  # a BOM
        lambda t: t.replace(b'"second"', b'"second" 1', 1),  # in a record
        lambda t: t.replace(b'"title": "1"', b'"title": ' + b"[" * 100_000, 1),  # too deep
        lambda t: t.replace(b'"title": "1"', b'"title": ' + b"1" * 5000, 1),  # a long number
    ],
    ids=["gap", "colon", "extra", "bom", "record", "deep", "number"],
)
def test_a_byte_not_utf8_after_broken_json_is_named_as_read_whole(broken: Any) -> None:
    """The whole read decodes every byte before it parses: a byte that is not UTF-8 is its
    error wherever it is, and so it is the stream's, not the JSON error before it."""
    text = manifest_bytes(_small() | {"zz": ["pad" * 3000 + "\u00e8"]})  # after the records
    bad = broken(text).replace("\u00e8".encode(), b"\xe8")
    at = bad.index(b"\xe8")
    assert verdict(lambda: whole(bad))[:2] == ("json", f"byte {at} is not UTF-8")
    for chunk in (1, 7, 4096, CHUNK):
        assert_same(bad, chunk)


def test_invalid_utf8_inside_an_id_is_named_by_its_byte() -> None:
    text = manifest_bytes(_small())
    at = text.index("café".encode()) + 3
    for bad in (b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe2\x82"):  # not UTF-8, cut, a surrogate
        broken = text[:at] + bad + text[at + 2 :]
        for chunk in (1, 2, 3, 7, at, at + 1, 4096):
            assert assert_same(broken, chunk) is None
            assert verdict(lambda b=broken, c=chunk: read_manifest(source(b), chunk=c)) == (
                "json",
                f"byte {at} is not UTF-8",
                0,
                0,
            )
    # A character cut by the end of the file.
    assert verdict(lambda: read_manifest(source(text + b"\xe2\x82"), chunk=7)) == (
        "json",
        f"byte {len(text)} is not UTF-8",
        0,
        0,
    )


@pytest.mark.parametrize(
    ("where", "make"),
    [
        ("an entry", lambda d, n: d["records"]["events"]["second"]["fields"].update(long="x" * n)),
        (
            "an id",
            lambda d, n: d["records"]["events"].update({"i" * n: d["records"]["events"]["second"]}),
        ),
        ("a head value", lambda d, n: d.update(notes=["y" * n])),
        ("a table name", lambda d, n: d["records"].update({"t" * n: {}})),
    ],
)
def test_a_value_longer_than_the_bound_is_refused_without_reading_on(where: str, make: Any) -> None:
    limit = 4096
    data = _small()
    make(data, 10 * limit)
    data["records"]["zz-later"] = {f"r{n}": {"hash": "h", "fields": {}} for n in range(5000)}
    text = manifest_bytes(data)
    for chunk in (7, 1000, CHUNK):
        log: list[int] = []
        with pytest.raises(JsonFileError) as err:
            read_manifest(source(text, log), chunk=chunk, max_value=limit)
        assert "is longer than 4,096 characters" in str(err.value), where
        assert "the most a manifest's value may be" in str(err.value)
        assert err.value.line > 0
        # What was read is bounded by the bound and a chunk, not by the value or the file.
        assert log[0] <= 2 * limit + 2 * chunk + 200 or chunk > len(text)
    assert verdict(lambda: read_manifest(source(text), max_value=20 * limit))[0] == "ok"


def test_the_head_beside_the_records_is_bounded_too() -> None:
    for data in (
        _small() | {f"k{n}": "z" * 1000 for n in range(10)},
        _small() | {f"k{n:05}": 0 for n in range(1000)},
    ):
        with pytest.raises(JsonFileError, match="values beside the records are longer than 4,096"):
            read_manifest(source(manifest_bytes(data)), max_value=4096)


def test_a_manifest_of_more_tables_than_any_release_has_is_refused_without_reading_on() -> None:
    """Each table costs some 150 bytes of memory beside its 8 in the file ("t1":{},): a forged
    manifest of nothing else would hold 20 times the file (a zip of it, far more)."""
    tables = ",".join(f'"t{n}": {{}}' for n in range(3 * MAX_TABLES))
    text = f'{{{HEAD}, "records": {{{tables}}}}}'.encode()
    assert is_manifest(json.loads(text))
    for chunk in (7, 4096):
        log: list[int] = []
        with pytest.raises(NotAManifest, match=f"more than {MAX_TABLES:,} tables"):
            read_manifest(source(text, log), chunk=chunk)
        assert log[0] < len(text) / 2
    twice = ",".join(f'"t{n % MAX_TABLES}": {{}}' for n in range(3 * MAX_TABLES))
    assert read_manifest(source(f'{{{HEAD}, "records": {{{twice}}}}}'.encode()))


@pytest.mark.parametrize("where", ["entry", "head"])
def test_nesting_too_deep_is_refused(where: str) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    records = f'{{"t": {{"a": {{"hash": "h", "fields": {{"x": {deep}}}}}}}}}'
    if where == "head":
        text = f'{{{HEAD}, "deep": {deep}, "records": {{}}}}'
    else:
        text = f'{{{HEAD}, "records": {records}}}'
    for chunk in (7, CHUNK):
        assert_same(text.encode(), chunk)
        with pytest.raises(JsonFileError, match="not valid JSON: nested too deeply"):
            read_manifest(source(text.encode()), chunk=chunk)


@pytest.mark.parametrize(
    "text",
    [
        f'{{{HEAD}, "n": [0, NUMBER], "records": {{}}}}',
        f'{{{HEAD}, "records": {{"t": {{"a": {{"hash": "h", "fields": {{"x": NUMBER}}}}}}}}}}',
        "[0, NUMBER]",
    ],
)
def test_a_number_longer_than_python_reads_is_refused_as_json_refuses_it(text: str) -> None:
    """json.loads raises a bare ValueError for an integer of more digits than int() takes
    (sys.get_int_max_str_digits): an error of the file like any other, never a traceback. A
    float of as many digits is read, wherever a chunk's end cuts it."""
    digits = "7" * (sys.get_int_max_str_digits() + 1)
    for number in (digits, f"-{digits}", f"{digits}.5", f"-{digits}e+2"):
        data = text.replace("NUMBER", number).encode()
        refused = number.lstrip("-").isdigit()
        if refused:
            with pytest.raises(ValueError, match="Exceeds the limit"):
                json.loads(data)
            assert verdict(lambda d=data: whole(d))[:2] == ("json", LONG_NUMBER)
        for chunk in (1, 7, 4096, 4097, 4098, 4099, CHUNK):
            got = verdict(lambda d=data, c=chunk: read_manifest(source(d), chunk=c))
            if refused:
                assert got[:2] == ("json", LONG_NUMBER), chunk
                assert got[2] > 0  # the stream says where the value starts
            assert assert_same(data, chunk) is None or not refused


SHAPES = {
    "a list": lambda d: [d],
    "a string": lambda d: "manifest",
    "no records": lambda d: {k: v for k, v in d.items() if k != "records"},
    "records a list": lambda d: d | {"records": []},
    "a table a list": lambda d: d | {"records": {"events": [1]}},
    "an entry a string": lambda d: d | {"records": {"events": {"a": "0123456789abcdef"}}},
    "an entry without hash": lambda d: d | {"records": {"events": {"a": {"fields": {}}}}},
    "a hash a number": lambda d: d | {"records": {"events": {"a": {"hash": 1, "fields": {}}}}},
    "fields a list": lambda d: d | {"records": {"events": {"a": {"hash": "h", "fields": []}}}},
    "version a number": lambda d: d | {"version": 1},
    "no created": lambda d: {k: v for k, v in d.items() if k != "created"},
    "schema a list": lambda d: d | {"schema": []},
    "a type a number": lambda d: d | {"schema": {"events": {"title": 1}}},
    "terms not text": lambda d: d | {"vocabularies": {"kind": [1]}},
    "withheld a list": lambda d: d | {"withheld": ["x"]},
}


@pytest.mark.parametrize("shape", SHAPES)
def test_json_of_another_shape_is_not_a_manifest(shape: str) -> None:
    value = SHAPES[shape](_small())
    assert not is_manifest(value)
    for how in ("compact", "spaced"):
        text = (
            layout(value, how, seeded(2)) if isinstance(value, dict) else json.dumps(value).encode()
        )
        for chunk in (1, 7, CHUNK):
            assert assert_same(text, chunk) is None
            with pytest.raises(NotAManifest):
                read_manifest(source(text), chunk=chunk)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "{",
        "{}",
        "[]",
        "nul",
        "{} {}",
        '{"records": {"t": {"a": 1,}}}',
        '{"records": {"t": {"a" 1}}}',
        '{"records": {"t": {a: 1}}}',
        "{'records': {}}",
        '{"rec\\x": 1}',
        '{"rec\x01": 1}',
        '{"records": {"t": {"a": {"hash": "h", "fields": {}}}}, }',
        '{"records": {"t": {"a\\ud83d\\ude0": 1}}}',
        '\ufeff{"records": {}}',
        '{"records": {"t": {"a": [1, 2 3]}}}',
        '{"n": 1e, "records": {}}',
        '{"n": -Infinity, "records": {}}',
        f'{{{HEAD}, "n": NaN, "records": {{}}}}',
    ],
)
def test_invalid_json_is_refused_as_json_refuses_it(text: str) -> None:
    for chunk in (1, 2, 7, CHUNK):
        assert_same(text.encode(), chunk)


# -- compare, streamed and read whole -----------------------------------------------------


def _next(old: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A later release: some records changed (in their fields or their hash alone), added
    and removed, and maybe the schema and vocabularies."""
    new = json.loads(json.dumps(old))
    new["version"] = "0.2.0"
    for table, records in new["records"].items():
        for rid in list(records):
            roll = rng.random()
            if roll < 0.2:
                del records[rid]
            elif roll < 0.5:
                entry = records[rid]
                entry["hash"] = f"{rng.getrandbits(64):016x}"
                if entry["fields"] and rng.random() < 0.8:
                    name = rng.choice(sorted(entry["fields"]))
                    entry["fields"][name] = f"{rng.getrandbits(64):016x}"
                if rng.random() < 0.3:
                    entry["fields"]["added-field"] = "0" * 16
        if rng.random() < 0.5:
            records[f"new-{table}"] = {"hash": "1" * 16, "fields": {"f": "2" * 16}}
    if rng.random() < 0.3:
        new["schema"]["events"] = {"title": "integer", "new": "string"}
    if rng.random() < 0.3:
        new["vocabularies"]["kind"] = ["b", "c"]
    return new


class _Asked:
    """A fields reader that notes what it is asked for, one list of (table, id) per ask."""

    def __init__(self, read: FieldsOf) -> None:
        self.read = read
        self.asks: list[list[tuple[str, str]]] = []

    def __call__(self, wanted: Any) -> Any:
        self.asks.append([(table, rid) for table, ids in wanted.items() for rid in ids])
        return self.read(wanted)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _MANIFEST,
    st.randoms(),
    st.sampled_from(LAYOUTS),
    st.sampled_from((1, 7, CHUNK)),
    st.sampled_from((1, 2, 3, FIELDS_AT_ONCE)),
)
def test_compare_streamed_is_compare_read_whole(
    old: dict[str, Any], rng: random.Random, how: str, chunk: int, at_once: int
) -> None:
    old = old | {"schema": {"events": {"title": "string"}}, "vocabularies": {"kind": ["a", "b"]}}
    new = _next(old, rng)
    order = sorted(new["records"], reverse=True)
    a = read_manifest(source(layout(old, how, rng)), chunk=chunk)
    b = read_manifest(source(layout(new, "ours", rng)), chunk=chunk)
    old_asked, new_asked = _Asked(a.fields), _Asked(b.fields)
    streamed = compare(
        a.manifest(),
        b.manifest(),
        order,
        old_fields=old_asked,
        new_fields=new_asked,
        fields_at_once=at_once,
    )
    loaded = compare(old, new, order)
    # Each side is asked for every changed record once, never for more than at_once records
    # at a time, and not at all when no record changed.
    changed = [(t, rid) for t in streamed.tables for rid in streamed.changed[t]]
    for asked in (old_asked, new_asked):
        assert [pair for ask in asked.asks for pair in ask] == changed
        assert all(0 < len(ask) <= at_once for ask in asked.asks)
        assert len(asked.asks) == -(-len(changed) // at_once)
    assert streamed.to_dict() == loaded.to_dict()
    assert changes_markdown(streamed) == changes_markdown(loaded)
    assert (streamed.level, streamed.schema, streamed.tables) == (
        loaded.level,
        loaded.schema,
        loaded.tables,
    )
    # A compact previous release, as git keeps it, beside a new build read as a stream
    # (of ids a compact manifest can hold: no whitespace).
    kept = {k: v for k, v in old.items() if k in ("name", "version", "created", "withheld")}
    records = {
        t: {i: e for i, e in r.items() if _ID.fullmatch(i)} for t, r in old["records"].items()
    }
    previous = expand(
        json.loads(
            compact_bytes(
                kept
                | {"records": records, "schema": old["schema"], "vocabularies": old["vocabularies"]}
            )
        )
    )
    streamed = compare(previous, b.manifest(), order, None, new_fields=b.fields)
    assert streamed.to_dict() == compare(previous, new, order, None).to_dict()


# -- files, zips, and what diff says -------------------------------------------------------


def _folders(tmp_path: Path, old: bytes, new: bytes) -> tuple[Path, Path]:
    for name, text in (("old", old), ("new", new)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_bytes(text)
    return tmp_path / "old", tmp_path / "new"


def test_diff_reads_any_layout_and_says_where_json_is_broken(tmp_path: Path) -> None:
    old = _small()
    new = _next(old, seeded(3))
    new["records"]["events"]["second"] = {"hash": "0" * 16, "fields": {"title": "2", "n": 1.5}}
    a, b = _folders(tmp_path, layout(old, "spaced", seeded(4)), manifest_bytes(new))
    changes = diff(a, b)
    assert changes.to_dict() == compare(old, new).to_dict()
    assert changes.changed["events"]["second"] == ["title"]
    text = manifest_bytes(old)
    cut = text[: text.index(b'"second"') + 3]
    (a / "manifest.json").write_bytes(cut)
    with pytest.raises(json.JSONDecodeError) as read_whole:
        json.loads(cut)
    assert (read_whole.value.lineno, read_whole.value.colno) == (13, 4)
    with pytest.raises(DiffError) as err:
        diff(a, b)
    assert str(err.value) == (
        f"{a / 'manifest.json'}: not a built release (not valid JSON: Unterminated string "
        "starting at, line 13, column 4); pass build/<version> folders"
    )
    (a / "manifest.json").write_bytes(json.dumps(old | {"records": []}).encode())
    with pytest.raises(DiffError, match=r"not the manifest of a built release \(its records are"):
        diff(a, b)


def _zipped(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def test_diff_reads_a_zip_where_it_is(tmp_path: Path) -> None:
    """Its manifest.json and datapackage.json as members, under the zip's one folder,
    with what diff of the folders gives; nothing else is read (a release of a million events
    unpacks to 15 GiB)."""
    old = _small()
    new = _next(old, seeded(7))
    new["records"]["zebras"] = {}
    new["records"]["events"]["second"] = {"hash": "0" * 16, "fields": {"title": "2", "n": 1.5}}
    descriptor = json.dumps({"resources": [{"name": "zebras"}, {"name": "events"}]}).encode()
    a, b = _folders(tmp_path, manifest_bytes(old), manifest_bytes(new))
    (b / "datapackage.json").write_bytes(descriptor)
    expected = diff(a, b)
    assert expected.tables[:2] == ["zebras", "events"]
    assert expected.changed["events"]["second"] == ["title"]
    zips = {}
    for name, folder in (("old", a), ("new", b)):
        files = {f"n-{name}/{p.name}": p.read_bytes() for p in folder.iterdir()}
        # A member diff does not read, larger unpacked than anything here.
        files[f"n-{name}/site/big.bin"] = b"\0" * 50_000_000
        zips[name] = _zipped(tmp_path / f"{name}.zip", files)
    assert sum(p.stat().st_size for p in zips.values()) < 1_000_000
    for pair in ((zips["old"], zips["new"]), (a, zips["new"]), (zips["old"], b)):
        assert diff(*pair).to_dict() == expected.to_dict(), pair
    link = tmp_path / "link.zip"
    link.symlink_to(zips["old"])  # named by the user: followed, as a folder's link is
    assert diff(link, b).to_dict() == expected.to_dict()


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ({"a/manifest.json": b"{}", "b/x": b""}, "a release zip holds one folder"),
        ({"manifest.json": b"{}"}, "a release zip holds one folder"),
        ({"n/SHA256SUMS": b""}, "(n/manifest.json): not a built release (the zip holds no"),
        ({"n/manifest.json": b"[1,"}, "(n/manifest.json): not a built release (not valid JSON"),
        ({"n/manifest.json": b"[]"}, "(n/manifest.json): not the manifest of a built release"),
        (None, "neither a release folder nor a zip of one (cannot read it"),
    ],
)
def test_diff_of_a_zip_that_is_no_release_says_so(
    tmp_path: Path, files: dict[str, bytes] | None, says: str
) -> None:
    given = tmp_path / "given.zip"
    if files is None:
        given.write_bytes(b"PK but not a zip")
    else:
        _zipped(given, files)
    folder = _folders(tmp_path, manifest_bytes(_small()), manifest_bytes(_small()))[1]
    for pair in ((given, folder), (folder, given)):
        with pytest.raises(DiffError) as err:
            diff(*pair)
        assert str(err.value).startswith(str(given))
        assert says in str(err.value)
        assert str(err.value).endswith(("pass build/<version> folders", "or their zips"))


def test_no_size_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stream asks no file's size: a manifest said to be 2 GiB, which read_json refuses
    before reading, is read. (A real one of 1.06 GB was measured; see README, Performance.)"""
    old = _small()
    new = _next(old, seeded(5))
    a, b = _folders(tmp_path, manifest_bytes(old), manifest_bytes(new))
    real = os.fstat

    def huge(fd: int) -> os.stat_result:
        info = list(real(fd))
        info[6] = 2 * 1024**3  # st_size
        return os.stat_result(info)

    monkeypatch.setattr(os, "fstat", huge)
    with pytest.raises(JsonFileError, match="it is 2,147,483,648 bytes, more than"):
        read_json(a / "manifest.json")
    assert diff(a, b).to_dict() == compare(old, new).to_dict()


def test_links_and_other_files_are_not_followed(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_bytes(manifest_bytes(_small()))
    (tmp_path / "link.json").symlink_to(real)
    os.mkfifo(tmp_path / "fifo.json")
    for name, says in (("link.json", "cannot read it"), ("fifo.json", "not a regular file")):
        with pytest.raises(JsonFileError, match=says):
            read_manifest(file_source(tmp_path / name))
    archive = tmp_path / "release.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("r/manifest.json", manifest_bytes(_small()))
        link = zipfile.ZipInfo("r/link.json")
        link.external_attr = 0o120777 << 16  # a symbolic link, as zip records one
        zf.writestr(link, "manifest.json")
    assert read_manifest(zip_member_source(archive, "r/manifest.json")).head["name"] == "n"
    with pytest.raises(JsonFileError, match="not a regular file in the zip"):
        read_manifest(zip_member_source(archive, "r/link.json"))
    with pytest.raises(JsonFileError, match=r"the zip holds no r/none\.json"):
        read_manifest(zip_member_source(archive, "r/none.json"))
    (tmp_path / "link.zip").symlink_to(archive)
    with pytest.raises(JsonFileError, match="cannot read it"):
        read_manifest(zip_member_source(tmp_path / "link.zip", "r/manifest.json"))


@pytest.mark.parametrize(
    "method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
)
def test_a_damaged_zip_member_is_an_error_not_a_traceback(tmp_path: Path, method: int) -> None:
    """In any compression zipfile reads (LZMA's decoder raises an error of its own)."""
    archive = tmp_path / "release.zip"
    body = manifest_bytes(_small())
    with zipfile.ZipFile(archive, "w", method) as zf:
        zf.writestr("r/manifest.json", body)
    raw = bytearray(archive.read_bytes())
    at = raw.index(b"r/manifest.json") + len("r/manifest.json") + 10
    for offset in range(0, 60, 3):  # flip bytes in the deflated data
        broken = bytearray(raw)
        broken[at + offset] ^= 0xFF
        archive.write_bytes(bytes(broken))
        with contextlib.suppress(JsonFileError, NotAManifest):
            read_manifest(zip_member_source(archive, "r/manifest.json"))
    archive.write_bytes(b"PK not a zip")
    with pytest.raises(JsonFileError, match="cannot read it"):
        read_manifest(zip_member_source(archive, "r/manifest.json"))


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_a_zip_holding_the_member_twice_is_refused(tmp_path: Path) -> None:
    """zipfile would give the last of the two; which one a release holds is not known (verify
    refuses to unpack such a zip)."""
    archive = tmp_path / "release.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("r/manifest.json", manifest_bytes(_small()))
        zf.writestr("r/manifest.json", manifest_bytes(_small() | {"version": "9.9.9"}))
    with pytest.raises(JsonFileError, match=r"^the zip holds r/manifest\.json twice$"):
        read_manifest(zip_member_source(archive, "r/manifest.json"))


def test_a_file_replaced_between_the_passes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    data = _small()
    path.write_bytes(manifest_bytes(data))
    read = read_manifest(file_source(path))
    data["records"]["events"]["second"]["fields"]["title"] = "other"
    path.write_bytes(manifest_bytes(data))
    with pytest.raises(JsonFileError, match="it changed between two readings"):
        read.fields({"events": ["second"]})


def test_diff_and_the_release_say_what_to_do_when_a_manifest_changes_between_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its second reading fails: the file was rebuilt meanwhile. The folder is a built release
    all the same (not what "pass build/<version> folders" would say): run it again."""
    import eventledger.publish.diff as diff_module

    old = _small()
    new = _next(old, seeded(6))
    new["records"]["events"]["second"] = {"hash": "0" * 16, "fields": {"title": "2", "n": 1.5}}
    a, b = _folders(tmp_path, manifest_bytes(old), manifest_bytes(new))

    def first_then_rebuilt(opened: Source) -> ManifestStream:
        read = read_manifest(opened)
        (a / "manifest.json").write_bytes(manifest_bytes(old | {"created": "later"}))
        return read

    monkeypatch.setattr(diff_module, "read_manifest", first_then_rebuilt)
    with pytest.raises(DiffError) as err:
        diff(a, b)
    assert str(err.value) == (
        f"{a / 'manifest.json'}: cannot read it again (it changed between two "
        "readings); run diff again once nothing writes it"
    )
    build = tmp_path / "build"
    (build / "0.1.0").mkdir(parents=True)
    (build / "0.1.0" / "manifest.json").write_bytes(manifest_bytes(old))
    previous, _, fields = diff_module.full_manifest(build, "n", old | {"format": COMPACT})
    assert fields is not None
    (build / "0.1.0" / "manifest.json").write_bytes(manifest_bytes(old | {"created": "later"}))
    with pytest.raises(ManifestError) as refused:
        compare(previous, new, old_fields=fields)
    assert str(refused.value) == (
        "build/0.1.0/manifest.json: cannot read it again (it changed between two "
        "readings), as when 0.1.0 is built meanwhile; build again once it is not"
    )
