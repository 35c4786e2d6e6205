"""Changes between releases from committed manifests, the version rules, and the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from eventledger.publish import release
from eventledger.publish.manifest import changes_markdown, compare
from eventledger.publish.release import ReleaseError, build
from eventledger.read.repository import Repository
from releasekit import git, make_release_repository

# End to end: builds releases, clones repositories or runs the installed CLI.
pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent  # the eventledger installed beside this Python
EVENT = "events/2019/2019-04-26-kim-cold-departure.yaml"


def set_version(root: Path, version: str) -> None:
    path = root / "datapackage.json"
    data = json.loads(path.read_text())
    data["version"] = version
    path.write_text(json.dumps(data, indent=2))


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))


def commit(root: Path, when: str) -> None:
    git(root, "add", "-A", ".", when=when)
    git(root, "commit", "-q", "-m", "change", when=when)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """0.1.0 released (manifest committed), then a correction released as 0.1.1."""
    root = make_release_repository(tmp_path_factory.mktemp("versions") / "repo")
    first = build(Repository(root), write_manifest=True)
    assert first.manifest_path == root / "releases" / "0.1.0.json"
    commit(root, "2026-02-01T00:00:00+00:00")
    edit(root, EVENT, "as Kim leaves", "as Kim departs")
    set_version(root, "0.1.1")
    commit(root, "2026-02-02T00:00:00+00:00")
    return root


def test_a_correction_is_listed_with_the_fields_that_changed(history: Path) -> None:
    result = build(Repository(history), write_manifest=True)
    changes = json.loads((result.folder / "changes.json").read_text())
    assert changes["previous"] == "0.1.0"
    assert changes["required_bump"] == "patch"
    assert changes["changed"]["events"] == {"2019-04-26-kim-cold-departure": ["title"]}
    assert changes["added"]["events"] == [] and changes["removed"]["events"] == []
    assert (
        "changed: `2019-04-26-kim-cold-departure` (title)"
        in (result.folder / "CHANGES.md").read_text()
    )


def test_diff_compares_two_builds(history: Path) -> None:
    build(Repository(history), write_manifest=True)  # 0.1.1 (no-op when the test above ran)
    run = subprocess.run(
        [str(BIN / "eventledger"), "diff", "--format", "json", "build/0.1.0", "build/0.1.1"],
        cwd=history,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["changed"]["events"] == {
        "2019-04-26-kim-cold-departure": ["title"]
    }


def _keys_reversed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _keys_reversed(value[k]) for k in reversed(value)}
    return value


def _changed_as_before(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The changed records and fields as diff computed them from manifests read whole,
    before it read them as a stream (the loop compare had)."""
    out: dict[str, Any] = {}
    for table, b in new["records"].items():
        a = old["records"].get(table, {})
        out[table] = {}
        for rid in sorted(set(a) & set(b)):
            if a[rid]["hash"] != b[rid]["hash"]:
                fa, fb = a[rid]["fields"], b[rid]["fields"]
                out[table][rid] = sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))
    return out


def test_diff_reads_the_manifests_as_a_stream_and_says_what_it_said(
    history: Path, tmp_path: Path
) -> None:
    """diff reads each manifest.json as a stream: its output, text and JSON, is what compare
    gives of the two manifests read whole, and stays the same when the old manifest is
    written in another JSON layout (one line, keys in reverse order, \\u escapes) or given
    in its zip, the new one too (members read where they are)."""
    build(Repository(history), write_manifest=True)  # 0.1.1 (no-op when the tests above ran)
    old, new = history / "build" / "0.1.0", history / "build" / "0.1.1"
    relaid = tmp_path / "0.1.0"
    shutil.copytree(old, relaid)
    data = json.loads((old / "manifest.json").read_text(encoding="utf-8"))
    (relaid / "manifest.json").write_text(json.dumps(_keys_reversed(data)), encoding="ascii")
    assert (relaid / "manifest.json").read_bytes() != (old / "manifest.json").read_bytes()
    after = json.loads((new / "manifest.json").read_text(encoding="utf-8"))
    order = [r["name"] for r in json.loads((new / "datapackage.json").read_text())["resources"]]
    expected = compare(data, after, order)
    assert expected.changed == _changed_as_before(data, after)
    assert expected.changed["events"] == {"2019-04-26-kim-cold-departure": ["title"]}
    outputs = {
        "text": changes_markdown(expected).rstrip() + "\n",
        "json": json.dumps(expected.to_dict(), ensure_ascii=False, indent=2) + "\n",
    }
    archive = history / "build" / "eventledger-kim-putin-0.1.0.zip"
    new_archive = history / "build" / "eventledger-kim-putin-0.1.1.zip"
    for given, newer in ((old, new), (relaid, new), (archive, new), (archive, new_archive)):
        for fmt, output in outputs.items():
            run = subprocess.run(
                [str(BIN / "eventledger"), "diff", "--format", fmt, str(given), str(newer)],
                capture_output=True,
                text=True,
            )
            assert run.returncode == 0, run.stderr
            assert run.stdout == output, (given, newer, fmt)


def test_the_manifest_is_enough_without_the_old_build(history: Path, tmp_path: Path) -> None:
    """git keeps the compact manifest: it names the changed record and checks the step; the
    fields that changed are in the old build, which a fresh clone does not have."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(history), str(clone))
    shutil.rmtree(clone / "build", ignore_errors=True)  # the fixture commits build/ too
    result = build(Repository(clone))
    assert result.changes is not None and result.changes.level == "patch"
    assert result.changes.changed["events"] == {"2019-04-26-kim-cold-departure": []}
    changes = (result.folder / "CHANGES.md").read_text()
    assert "Changed fields are not listed" in changes
    assert "- changed: `2019-04-26-kim-cold-departure`\n" in changes
    assert json.loads((result.folder / "changes.json").read_text())["changed_fields_from"] is None


def test_a_recorded_version_rebuilds_its_changed_fields_without_the_old_build(
    history: Path, tmp_path: Path
) -> None:
    """The fields 0.1.1 lists came from build/0.1.0; releases/0.1.1.json keeps them, so a
    rebuild of 0.1.1 after build/ is gone gives the published bytes."""
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(history), str(clone))
    assert (clone / "build" / "0.1.0" / "manifest.json").is_file()  # committed by the fixture
    first = build(Repository(clone), write_manifest=True)
    assert (
        "Changed fields from build/0.1.0/manifest.json."
        in (first.folder / "CHANGES.md").read_text()
    )
    recorded = json.loads((clone / "releases" / "0.1.1.json").read_text())
    assert recorded["format"] == "compact/1"
    assert recorded["changes"] == {
        "changed": {"events": {"2019-04-26-kim-cold-departure": ["title"]}},
        "fields_from": "build/0.1.0/manifest.json",
    }
    published = (clone / "build" / "eventledger-kim-putin-0.1.1.zip").read_bytes()
    shutil.rmtree(clone / "build")
    again = build(Repository(clone))
    assert again.changes is not None
    assert again.changes.changed["events"] == {"2019-04-26-kim-cold-departure": ["title"]}
    assert (clone / "build" / "eventledger-kim-putin-0.1.1.zip").read_bytes() == published


def test_added_records_need_a_minor_step(history: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(history), str(clone))
    edit(
        clone,
        "events/2019/2019-04-25-kim-train-departs.yaml",
        "review_status: draft",
        "review_status: verified\nreviewed_by: someone\nreviewed_on: 2026-11-23",
    )
    with pytest.raises(ReleaseError, match="is a patch step, but the changes need a minor step"):
        build(Repository(clone))
    set_version(clone, "0.2.0")
    assert build(Repository(clone)).changes.level == "minor"  # type: ignore[union-attr]


def test_a_removed_field_needs_a_major_step(history: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(history), str(clone))
    schema = clone / "schema" / "events.tableschema.json"
    data = json.loads(schema.read_text())
    data["fields"] = [f for f in data["fields"] if f["name"] != "cameo_code"]
    schema.write_text(json.dumps(data))
    edit(clone, "events/2019/2019-04-25-kim-putin-talks.yaml", 'cameo_code: "036"\n', "")
    set_version(clone, "0.2.0")
    with pytest.raises(ReleaseError, match=r"needs? a major step|need a major step"):
        build(Repository(clone))


def test_the_same_version_with_other_records_is_refused(history: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(history), str(clone))
    set_version(clone, "0.1.0")
    before = sorted(p.name for p in (clone / "build").iterdir())
    with pytest.raises(ReleaseError, match=r"0\.1\.0 was already released"):
        build(Repository(clone))
    # The version rules are applied while the tables are checked aside: nothing of it stays.
    assert sorted(p.name for p in (clone / "build").iterdir()) == before
    shutil.rmtree(clone / "build")
    with pytest.raises(ReleaseError, match=r"0\.1\.0 was already released"):
        build(Repository(clone))
    assert not (clone / "build").exists()


def test_a_refused_version_leaves_no_folder_of_the_killed_workbook(
    history: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The workbook's process starts on the tables before the version rules are worked out;
    # when they refuse, it is killed, and the folder its sheets were written in stayed in
    # build/ (found by a hostile review). Here the rules wait until that folder exists.
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(history), str(clone))
    set_version(clone, "0.1.0")
    before = sorted(p.name for p in (clone / "build").iterdir())
    seen: list[str] = []
    rules = release._check_versions

    def when_the_sheets_are_begun(*args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + 60
        while not seen and time.monotonic() < deadline:
            seen.extend(p.name for p in (clone / "build").glob(".*-xlsx-*"))
            time.sleep(0.01)
        return rules(*args, **kwargs)

    monkeypatch.setattr(release, "_check_versions", when_the_sheets_are_begun)
    with pytest.raises(ReleaseError, match=r"0\.1\.0 was already released"):
        build(Repository(clone))
    assert seen, "the workbook's process never began its sheets"
    assert sorted(p.name for p in (clone / "build").iterdir()) == before


def test_removed_ids_are_never_reused(tmp_path: Path) -> None:
    root = make_release_repository(tmp_path / "repo")
    build(Repository(root), write_manifest=True)
    cold = (root / EVENT).read_text()
    (root / EVENT).unlink()
    set_version(root, "0.2.0")
    commit(root, "2026-03-01T00:00:00+00:00")
    second = build(Repository(root), write_manifest=True)
    assert second.changes is not None
    assert second.changes.removed["events"] == ["2019-04-26-kim-cold-departure"]
    (root / EVENT).write_text(cold)
    set_version(root, "0.3.0")
    commit(root, "2026-03-02T00:00:00+00:00")
    with pytest.raises(ReleaseError, match="never reused"):
        build(Repository(root))


def test_cli_json_summary_quiet_and_clear_refusal(tmp_path: Path) -> None:
    root = make_release_repository(tmp_path / "repo")
    run = subprocess.run(
        [str(BIN / "eventledger"), "release", "--quiet", "--format", "json"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    summary = json.loads(run.stdout)
    assert summary["ok"] and summary["rows"]["events"] == 2
    assert summary["drafts_withheld"] == ["2019-04-25-kim-train-departs"]
    assert summary["manifest"] == "releases/0.1.0.json"
    recorded = json.loads((root / "releases" / "0.1.0.json").read_text())
    assert recorded["format"] == "compact/1" and recorded["records"]["events"]["count"] == 2
    verified = subprocess.run(
        [str(BIN / "eventledger"), "verify", "build/0.1.0"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0 and verified.stdout.startswith("OK")
    loud = subprocess.run(
        [str(BIN / "eventledger"), "build"], cwd=root, capture_output=True, text=True
    )
    assert "checking records" in loud.stderr and "nothing changed" in loud.stdout
    assert "wrote" not in loud.stderr  # a no-op says so, and writes nothing
    edit(root, EVENT, "as Kim leaves", "as Kim departs")
    refused = subprocess.run(
        [str(BIN / "eventledger"), "build"], cwd=root, capture_output=True, text=True
    )
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert "error: version 0.1.0 was already released" in refused.stderr


def _released(tmp_path: Path) -> Path:
    """A fixture repository with 0.1.0 released and its manifest committed."""
    root = make_release_repository(tmp_path / "repo")
    build(Repository(root), write_manifest=True)
    commit(root, "2026-02-01T00:00:00+00:00")
    return root


def test_a_published_version_rebuilt_later_gives_the_published_bytes(tmp_path: Path) -> None:
    """`created` of a published version comes from its manifest, not from a later commit."""
    root = _released(tmp_path)
    published = (root / "build" / "eventledger-kim-putin-0.1.0.zip").read_bytes()
    shutil.rmtree(root / "build")
    (root / "NOTES.md").write_text("a later commit that changes no record\n")
    commit(root, "2026-03-01T00:00:00+00:00")  # a later commit: HEAD's time differs
    again = build(Repository(root))
    assert again.created == json.loads((root / "releases" / "0.1.0.json").read_text())["created"]
    assert (root / "build" / "eventledger-kim-putin-0.1.0.zip").read_bytes() == published


def test_a_version_below_the_latest_release_is_refused(tmp_path: Path) -> None:
    root = _released(tmp_path)
    set_version(root, "0.0.9")
    with pytest.raises(ReleaseError, match=r"below the latest release 0\.1\.0"):
        build(Repository(root))


def test_a_draft_withheld_for_a_correction_comes_back_under_its_id(tmp_path: Path) -> None:
    root = _released(tmp_path)
    edit(root, EVENT, "review_status: verified", "review_status: draft")
    set_version(root, "0.2.0")
    commit(root, "2026-02-02T00:00:00+00:00")
    withheld = build(Repository(root), write_manifest=True)
    assert "2019-04-26-kim-cold-departure" in withheld.drafts
    changes = (withheld.folder / "CHANGES.md").read_text(encoding="utf-8")
    assert (
        "- removed: `2019-04-26-kim-cold-departure` (withheld: a draft under correction" in changes
    )
    commit(root, "2026-02-03T00:00:00+00:00")
    edit(root, EVENT, "review_status: draft", "review_status: verified")
    set_version(root, "0.3.0")
    commit(root, "2026-02-04T00:00:00+00:00")
    back = build(Repository(root), write_manifest=True)
    assert back.counts["events"] == withheld.counts["events"] + 1
    commit(root, "2026-02-05T00:00:00+00:00")
    # Deleting the file withdraws the id for good: it may never come back.
    (root / EVENT).rename(tmp_path / "kept.yaml")
    set_version(root, "0.4.0")
    commit(root, "2026-02-06T00:00:00+00:00")
    build(Repository(root), write_manifest=True)
    commit(root, "2026-02-07T00:00:00+00:00")
    (tmp_path / "kept.yaml").rename(root / EVENT)
    set_version(root, "0.5.0")
    commit(root, "2026-02-08T00:00:00+00:00")
    with pytest.raises(ReleaseError, match="come back: 2019-04-26-kim-cold-departure"):
        build(Repository(root))


def test_an_existing_build_is_checked_not_trusted(tmp_path: Path) -> None:
    root = _released(tmp_path)
    archive = root / "build" / "eventledger-kim-putin-0.1.0.zip"
    published = archive.read_bytes()
    archive.unlink()
    again = build(Repository(root))
    assert again.status == "unchanged"
    assert archive.read_bytes() == published  # the missing zip is put back, byte for byte
    (root / "build" / "0.1.0" / "data" / "events.csv").write_text("tampered\n")
    with pytest.raises(ReleaseError, match="fail their checks") as refused:
        build(Repository(root))
    assert {i.code for i in refused.value.issues} == {"checksum-mismatch"}


def test_release_records_commits_and_tags_only_from_a_clean_tree(tmp_path: Path) -> None:
    """The maintainer's step (make publish): manifest and CITATION.cff in one commit, a tag."""
    root = make_release_repository(tmp_path / "repo")
    (root / "CITATION.cff").write_text("cff-version: 1.2.0\ntitle: fixture\nversion: 0.0.1\n")
    git(root, "add", "CITATION.cff")
    git(root, "commit", "-q", "-m", "cite")
    edit(root, EVENT, "as Kim leaves", "as Kim departs")  # an uncommitted change
    run = [str(BIN / "eventledger"), "release"]
    refused = subprocess.run(run, cwd=root, capture_output=True, text=True)
    assert refused.returncode == 1
    assert f"error: uncommitted changes ({EVENT})" in refused.stderr
    assert not (root / "releases" / "0.1.0.json").exists()
    git(root, "checkout", "-q", "--", EVENT)

    done = subprocess.run(run, cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "and tagged v0.1.0; push both: git push && git push origin v0.1.0" in done.stdout
    assert git(root, "log", "-1", "--format=%s").strip() == "Release 0.1.0"
    assert git(root, "show", "--name-only", "--format=", "HEAD").split() == [
        "CITATION.cff",
        "releases/0.1.0.json",
    ]
    assert git(root, "rev-parse", "v0.1.0^{commit}") == git(root, "rev-parse", "HEAD")
    assert "version: 0.1.0\n" in (root / "CITATION.cff").read_text()
    again = subprocess.run(run, cwd=root, capture_output=True, text=True)
    assert again.returncode == 0 and "nothing changed" in again.stdout
    assert git(root, "rev-list", "--count", "HEAD").strip() == "3"  # no second release commit
