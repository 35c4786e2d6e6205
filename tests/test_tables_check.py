"""The frictionless validation of a package reads each foreign key's lookup once: the same
report as frictionless's own reading, valid or broken, for one reading of each table a
foreign key names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from frictionless import validate

from eventledger.publish import tables_check
from eventledger.publish.tables_check import frictionless_problems, lookups_read_once

EVENTS = "event_id,title\ne1,One\ne2,Two\n"
ACTORS = "actor_id\nputin\nkim\n"
PARTICIPANTS = "event_id,actor_id\ne1,putin\ne1,kim\ne2,kim\n"
EVIDENCE = "event_id,span\ne1,1\ne2,1\n"


def _fk(field: str, resource: str) -> dict[str, Any]:
    return {"fields": [field], "reference": {"resource": resource, "fields": [field]}}


def _table(name: str, fields: list[str], key: list[str], fks: list[Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "fields": [{"name": f, "type": "integer" if f == "span" else "string"} for f in fields],
        "primaryKey": key,
    }
    if fks:
        schema["foreignKeys"] = fks
    return {"name": name, "path": f"data/{name}.csv", "format": "csv", "schema": schema}


def _package(folder: Path, **texts: str) -> Path:
    """Events and actors, and two tables whose foreign keys name both (events twice)."""
    tables = {
        "events": ("event_id,title", ["event_id"], []),
        "actors": ("actor_id", ["actor_id"], []),
        "participants": (
            "event_id,actor_id",
            ["event_id", "actor_id"],
            [_fk("event_id", "events"), _fk("actor_id", "actors")],
        ),
        "evidence": ("event_id,span", ["event_id", "span"], [_fk("event_id", "events")]),
    }
    content = {
        "events": EVENTS,
        "actors": ACTORS,
        "participants": PARTICIPANTS,
        "evidence": EVIDENCE,
        **texts,
    }
    (folder / "data").mkdir(parents=True)
    resources = []
    for name, (header, key, fks) in tables.items():
        (folder / "data" / f"{name}.csv").write_text(content[name])
        resources.append(_table(name, header.split(","), key, fks))
    (folder / "datapackage.json").write_text(json.dumps({"resources": resources}))
    return folder


def _own(folder: Path) -> list[str]:
    """What frictionless says with its own reading of each lookup."""
    report = validate(folder / "datapackage.json")
    return [f"{t.name}: {e.type}: {e.message}" for t in report.tasks for e in t.errors] + [
        f"{e.type}: {e.message}" for e in report.errors
    ]


def _counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    read: list[str] = []
    lookup_of = tables_check._lookup_of

    def counting(resource: Any, key: tuple[str, ...]) -> Any:
        read.append(resource.name)
        return lookup_of(resource, key)

    monkeypatch.setattr(tables_check, "_lookup_of", counting)
    return read


def test_each_lookup_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _package(tmp_path)
    read = _counted(monkeypatch)
    assert frictionless_problems(folder) == [] == _own(folder)
    assert sorted(read) == ["actors", "events"]  # events once, for two tables


@pytest.mark.parametrize(
    "broken",
    [
        {"participants": PARTICIPANTS + "e9,kim\n"},  # no such event
        {"evidence": EVIDENCE + "e3,1\n", "participants": PARTICIPANTS + "e3,nobody\n"},
        {"events": "event_id,title\ne1,One\n"},  # an event that others name is gone
        {"events": "event_id,title\ne1,One\ne1,Again\ne2,Two\n"},  # a duplicate key
        {"events": "event_id,title\ne1,One\n,Two\n"},  # an empty key
        {"evidence": "event_id,span\ne1,x\ne2,1\n"},  # a type error beside the key
        {"actors": "actor_id,extra\nputin,1\nkim,2\n"},  # a header the schema does not have
    ],
)
def test_a_broken_package_gets_frictionless_own_report(
    broken: dict[str, str], tmp_path: Path
) -> None:
    folder = _package(tmp_path, **broken)
    own = _own(folder)
    assert own  # each of these is broken
    assert frictionless_problems(folder) == own


def test_a_missing_or_self_referring_resource_is_left_to_frictionless(tmp_path: Path) -> None:
    folder = _package(tmp_path)
    descriptor = json.loads((folder / "datapackage.json").read_text())
    for res in descriptor["resources"]:
        if res["name"] == "evidence":
            res["schema"]["foreignKeys"].append(_fk("event_id", "nowhere"))
        if res["name"] == "events":  # a key naming its own table
            res["schema"]["foreignKeys"] = [
                {"fields": ["title"], "reference": {"resource": "", "fields": ["event_id"]}}
            ]
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    own = _own(folder)
    assert any("nowhere" in line for line in own)
    assert any(line.startswith("events: foreign-key") for line in own)
    assert frictionless_problems(folder) == own


def test_frictionless_own_reading_is_back_afterwards(tmp_path: Path) -> None:
    from frictionless.resources import TableResource

    own = TableResource._TableResource__open_lookup  # type: ignore[attr-defined]
    with lookups_read_once():
        assert TableResource._TableResource__open_lookup is not own  # type: ignore[attr-defined]
    assert TableResource._TableResource__open_lookup is own  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError), lookups_read_once():
        raise RuntimeError
    assert TableResource._TableResource__open_lookup is own  # type: ignore[attr-defined]
