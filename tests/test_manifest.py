"""The compact release manifest git keeps (releases/<version>.json): what it names, the
version rules computed from it, the full manifests recorded before it, and forged or
truncated ones refused with the file and what to do."""

from __future__ import annotations

import copy
import gc
import json
import weakref
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventledger.publish.diff import full_manifest
from eventledger.publish.manifest import (
    COMPACT,
    ManifestError,
    as_published,
    changes_markdown,
    compact,
    compact_bytes,
    compare,
    expand,
    field_hashes_dropped,
    has_fields,
    manifest_blocks,
    manifest_bytes,
    read_manifests,
    record_hashes,
    same_content,
)

PROJECT = Path(__file__).resolve().parents[1]
# Recorded before the compact form: per record a hash of each field.
FULL_0_1_0 = PROJECT / "releases" / "0.1.0.json"
EVENT = "2019-04-25-putin-kim-dinner-vladivostok"


def full() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FULL_0_1_0.read_text(encoding="utf-8"))
    return data


def released(tmp_path: Path, release: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """release written as a compact releases/<version>.json and read back."""
    folder = tmp_path / "releases"
    folder.mkdir(exist_ok=True)
    path = folder / f"{release['version']}.json"
    path.write_bytes(compact_bytes(release, changes or None))
    return read_manifests(folder)[release["version"]]


def next_version(release: dict[str, Any], version: str = "0.1.1") -> dict[str, Any]:
    out = copy.deepcopy(release)
    out["version"] = version
    return out


def test_the_full_manifest_recorded_before_the_compact_form_is_still_read() -> None:
    manifests = read_manifests(PROJECT / "releases")
    old = manifests["0.1.0"]
    assert has_fields(old)
    assert old["records"]["events"][EVENT]["fields"]["title"]
    changes = compare(old, next_version(old))
    assert changes.level == "none" and not any(changes.changed.values())


def test_the_full_manifest_written_in_blocks_is_the_json_it_always_was() -> None:
    # Many records with non-ASCII text, so that the manifest spans several blocks and a
    # block ends inside the records: the bytes must not depend on where the blocks split.
    release = full()
    events = release["records"]["events"]
    entry = events[EVENT]
    for n in range(6000):
        events[f"{EVENT}-ü{n}"] = entry | {"hash": f"{n:016x}"}
    expected = (json.dumps(release, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()
    blocks = list(manifest_blocks(release))
    assert len(blocks) > 2
    assert b"".join(blocks) == expected == manifest_bytes(release)


def test_the_manifest_a_build_keeps_after_writing_it_gives_the_same_compact_form() -> None:
    release = full()
    release["withheld"] = {"events": ["2019-01-01-a-draft"]}
    kept = field_hashes_dropped(release)
    assert kept["withheld"] == release["withheld"]
    assert all(isinstance(h, str) for t in kept["records"].values() for h in t.values())
    assert record_hashes(kept) == record_hashes(release)
    changes = {"changed_fields_from": None, "changed": {"events": {EVENT: ["title"]}}}
    assert compact_bytes(kept, changes) == compact_bytes(release, changes)


def test_the_compact_form_names_every_record_and_hash_in_a_fraction_of_the_bytes(
    tmp_path: Path,
) -> None:
    old = full()
    read = released(tmp_path, old)
    assert read["format"] == COMPACT and not has_fields(read)
    assert record_hashes(read) == record_hashes(old)
    assert same_content(read, old) and same_content(old, read)
    assert read["schema"] == old["schema"] and read["vocabularies"] == old["vocabularies"]
    size = len((tmp_path / "releases" / "0.1.0.json").read_bytes())
    assert size * 3 < len(manifest_bytes(old))
    # Stable bytes: the same release gives the same file, from the full form or the compact.
    assert compact_bytes(old) == compact_bytes(read)


def test_ids_sharing_a_prefix_are_front_coded_and_read_back(tmp_path: Path) -> None:
    release = full()
    events = release["records"]["events"]
    entry = events[EVENT]
    # Ids that are a prefix of the next, and one that shares all but its last character.
    for rid in (EVENT[:-3], EVENT + "-2", EVENT[:-1] + "z"):
        events[rid] = entry
    lines = compact(release)["records"]["events"]["ids"]
    h = entry["hash"]
    at = lines.index(f"{len(EVENT) - 3} tok {h}")
    assert lines[at - 1 : at + 3] == [
        f"17 kim-dinner-vladivos {h}",  # after 2019-04-25-kim-putin-vladivostok-talks
        f"{len(EVENT) - 3} tok {h}",
        f"{len(EVENT)} -2 {h}",
        f"{len(EVENT) - 1} z {h}",
    ]
    assert set(released(tmp_path, release)["records"]["events"]) == set(events)


def test_added_removed_and_changed_records_and_the_bump_they_need(tmp_path: Path) -> None:
    old = released(tmp_path, full())
    new = next_version(full())
    events = new["records"]["events"]
    events[EVENT]["hash"] = "0" * 16
    events[EVENT]["fields"]["title"] = "0" * 16
    changed = compare(old, new)
    assert changed.level == "patch"
    assert changed.changed["events"] == {EVENT: []}  # which fields: not in the compact form
    assert changed.added["events"] == [] and changed.removed["events"] == []
    events["2019-04-27-a-new-event"] = events.pop(EVENT)
    moved = compare(old, new)
    assert moved.level == "minor"
    assert moved.added["events"] == ["2019-04-27-a-new-event"]
    assert moved.removed["events"] == [EVENT]


def _every_record_changed() -> tuple[dict[str, Any], dict[str, Any]]:
    """The recorded 0.1.0 and a 0.1.1 in which every record changed: new hashes, and one
    field of each with a new hash."""
    old, new = full(), next_version(full())
    for records in new["records"].values():
        for entry in records.values():
            entry["hash"] = "f" * 16
            name = sorted(entry["fields"])[0]
            entry["fields"][name] = "0" * 16
    return old, new


@pytest.mark.parametrize("at_once", [0, -1, 1.5, True, None, "2"])
def test_a_part_of_no_record_or_of_no_whole_number_is_refused(at_once: Any) -> None:
    old, new = _every_record_changed()
    if at_once is None:  # the default
        assert compare(old, new, fields_at_once=at_once).changed == compare(old, new).changed
        return
    for previous in (old, None):  # refused before anything is compared
        with pytest.raises(ValueError, match="at least one record"):
            compare(previous, new, fields_at_once=at_once)


class _Answer(dict[str, Any]):
    """A reader's answer that a weak reference can follow (a plain dict cannot be)."""


def test_each_part_of_the_fields_is_let_go_before_the_next_is_read() -> None:
    old, new = _every_record_changed()
    held: list[weakref.ref[_Answer]] = []

    def reader(release: dict[str, Any], first: bool) -> Any:
        def fields(wanted: Any) -> _Answer:
            if first:  # every answer to the part before this one is gone
                gc.collect()
                assert [ref for ref in held if ref() is not None] == []
            out = _Answer()
            for table, ids in wanted.items():
                out[table] = _Answer({rid: release["records"][table][rid]["fields"] for rid in ids})
            held.extend(weakref.ref(answer) for answer in (out, *out.values()))
            return out

        return fields

    parted = compare(
        old,
        new,
        old_fields=reader(old, True),
        new_fields=reader(new, False),
        fields_at_once=3,
    )
    whole = compare(old, new)
    assert parted.to_dict() == whole.to_dict()
    assert changes_markdown(parted) == changes_markdown(whole)
    changed = sum(len(ids) for ids in whole.changed.values())
    assert changed > 6 and all(names for ids in whole.changed.values() for names in ids.values())


def test_schema_changes_need_their_step_from_the_compact_form(tmp_path: Path) -> None:
    old = released(tmp_path, full())
    new = next_version(full())
    del new["schema"]["events"]["cameo_code"]
    assert compare(old, new).level == "major"
    new = next_version(full())
    new["vocabularies"]["actor_kind"].append("zz-new-kind")
    assert compare(old, new).level == "minor"
    assert compare(old, next_version(full())).level == "none"


def test_changes_say_where_the_changed_fields_came_from(tmp_path: Path) -> None:
    old = released(tmp_path, full())
    new = next_version(full())
    new["records"]["events"][EVENT]["hash"] = "0" * 16
    new["records"]["events"][EVENT]["fields"]["title"] = "0" * 16
    unknown = changes_markdown(compare(old, new, fields_from=None))
    assert "Changed fields are not listed" in unknown and "releases/0.1.0.json" in unknown
    assert f"- changed: `{EVENT}`\n" in unknown
    built = compare(full(), new, fields_from="build/0.1.0/manifest.json")
    text = changes_markdown(built)
    assert "Changed fields from build/0.1.0/manifest.json." in text
    assert f"- changed: `{EVENT}` (title)" in text
    assert built.to_dict()["changed_fields_from"] == "build/0.1.0/manifest.json"
    # A full previous manifest (as 0.1.0 is) needs no note, and changes.json stays as it was.
    assert "changed_fields_from" not in compare(full(), new).to_dict()


def test_a_published_version_keeps_the_changed_fields_it_was_published_with(
    tmp_path: Path,
) -> None:
    new = next_version(full())
    new["records"]["events"][EVENT]["hash"] = "0" * 16
    new["records"]["events"][EVENT]["fields"]["title"] = "0" * 16
    published = compare(full(), new, fields_from="build/0.1.0/manifest.json")
    recorded = released(tmp_path, new, **published.to_dict())
    assert recorded["changes"] == {
        "fields_from": "build/0.1.0/manifest.json",
        "changed": {"events": {EVENT: ["title"]}},
    }
    old = released(tmp_path, full())  # now compact: the fields are not in git
    again = as_published(compare(old, new), recorded["changes"])
    assert changes_markdown(again) == changes_markdown(published)


def test_the_full_manifest_of_a_compact_release_comes_from_its_build(tmp_path: Path) -> None:
    old = full()
    compact_old = released(tmp_path, old)
    build = tmp_path / "build"
    assert full_manifest(build, old["name"], compact_old) == (compact_old, None, None)
    assert full_manifest(build, old["name"], old) == (old, False, None)
    member = f"{old['name']}-0.1.0/manifest.json"
    build.mkdir()
    with zipfile.ZipFile(build / f"{old['name']}-0.1.0.zip", "w") as zf:
        zf.writestr(member, manifest_bytes(old))
    new = next_version(old)
    new["records"]["events"][EVENT]["hash"] = "0" * 16
    new["records"]["events"][EVENT]["fields"]["title"] = "0" * 16
    # Read as a stream: the record hashes now, the fields of the changed records when
    # compare asks, giving what the manifest read whole gives.
    for where in (f"build/{old['name']}-0.1.0.zip ({member})", "build/0.1.0/manifest.json"):
        if where.endswith("manifest.json"):
            (build / "0.1.0").mkdir()
            (build / "0.1.0" / "manifest.json").write_bytes(manifest_bytes(old))
        data, found, fields = full_manifest(build, old["name"], compact_old)
        assert found == where and fields is not None
        assert data == field_hashes_dropped(old) and same_content(data, old)
        streamed = compare(data, new, fields_from=found, old_fields=fields)
        assert streamed.to_dict() == compare(old, new, fields_from=found).to_dict()
        assert streamed.changed["events"] == {EVENT: ["title"]}
    # A build of other records (rebuilt after an edit) is not the release: not used.
    other = copy.deepcopy(old)
    other["records"]["events"][EVENT]["hash"] = "0" * 16
    (build / "0.1.0" / "manifest.json").write_bytes(manifest_bytes(other))
    (build / f"{old['name']}-0.1.0.zip").write_bytes(b"not a zip")
    assert full_manifest(build, old["name"], compact_old) == (compact_old, None, None)


def _forge(data: dict[str, Any], how: str) -> bytes:
    ids = data["records"]["events"]["ids"]
    if how == "truncated-list":
        del ids[-1]
    elif how == "hash-edited":
        ids[0] = ids[0][:-1] + ("0" if ids[0][-1] != "0" else "1")
    elif how == "out-of-order":
        ids[1] = "0 0000-before-the-first " + "0" * 16
    elif how == "not-a-line":
        ids[0] = "an id without a hash"
    elif how == "shares-too-much":
        ids[0] = "99 x " + "0" * 16
    elif how == "count-not-a-number":
        data["records"]["events"]["count"] = "2"
    elif how == "unknown-format":
        data["format"] = "compact/99"
    elif how == "terms-not-a-list":
        data["vocabularies"]["actor_kind"] = 5
    elif how == "unknown-key":
        data["signed_by"] = "someone"
    elif how == "count-a-bool":
        data["records"]["events"]["count"] = True
    elif how == "changes-forged":
        data["changes"] = {"fields_from": 1, "changed": []}
    text = manifest_bytes(data)
    return text[: len(text) // 2] if how == "truncated-file" else text


@pytest.mark.parametrize(
    ("how", "says"),
    [
        ("truncated-list", "truncated"),
        ("truncated-file", "cannot read the release manifest"),
        ("hash-edited", "do not match its digest"),
        ("out-of-order", "is not after"),
        ("not-a-line", "is not 'SHARED REST HASH'"),
        ("shares-too-much", "shares more than the id before it"),
        ("count-not-a-number", "not a count, a digest and a list of ids"),
        ("unknown-format", "not a compact manifest"),
        ("changes-forged", "its changes are not"),
        ("terms-not-a-list", "not an object with its version"),
        ("unknown-key", "keys a compact manifest has not: signed_by"),
        ("count-a-bool", "not a count, a digest and a list of ids"),
    ],
)
def test_a_forged_or_truncated_compact_manifest_is_refused(
    tmp_path: Path, how: str, says: str
) -> None:
    folder = tmp_path / "releases"
    folder.mkdir()
    (folder / "0.1.0.json").write_bytes(_forge(compact(full()), how))
    with pytest.raises(ManifestError) as err:
        read_manifests(folder)
    message = str(err.value)
    assert str(folder / "0.1.0.json") in message and says in message
    assert "restore it from git (git checkout -- releases/0.1.0.json)" in message


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs")), min_size=1),
        st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
        max_size=30,
    )
)
def test_any_set_of_ids_reads_back_as_written(hashes: dict[str, str]) -> None:
    release = full() | {"records": {"events": hashes}}
    read = expand(json.loads(compact_bytes(release)))
    assert read["records"]["events"] == hashes


_JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.sampled_from(["", "\n", '"\\', "\x00\x1f\x7f", "ü\u2028😀"])
)
_JSON = st.recursive(
    _JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_JSON, st.dictionaries(st.text(), _JSON, max_size=3))
def test_the_manifest_encoder_writes_what_json_writes_for_any_value(
    value: Any, records: dict[str, Any]
) -> None:
    # manifest_blocks hands the top levels on piece by piece and encodes deeper values in
    # one string each: at every depth, and for every kind of value, json's own bytes.
    data = {"name": "x", "records": {"events": records, "other": value}, "value": value}
    expected = (json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()
    assert manifest_bytes(data) == expected


def test_the_manifest_encoder_writes_json_s_text_for_keys_that_are_not_text() -> None:
    data = {"records": {"events": {"a": {"2": [1, {3: "x", 1: None}]}}}, "b": {1: "y"}}
    expected = (json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()
    assert manifest_bytes(data) == expected
