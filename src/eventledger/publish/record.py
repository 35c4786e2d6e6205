"""Recording a release: the maintainer's act, kept apart from building.

Anyone builds (`make release`, `eventledger build`) as often as they like, on any branch:
a build writes build/<version>/ and records nothing, so it never blocks a later one.
Recording is what publishes a version: releases/<version>.json (the manifest the next
release computes its changes from, and that makes this version immutable), the version
CITATION.cff cites, one commit holding both and nothing else, and the tag v<version>.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventledger.atomic import write_atomically
from eventledger.git import GitMissing, git
from eventledger.issues import IssuesError
from eventledger.publish.manifest import ManifestError, compact_bytes, read_release, same_content
from eventledger.read.repository import Repository

CITATION = "CITATION.cff"
_CITED_VERSION = re.compile(r"^version:.*$", re.MULTILINE)


class RecordError(IssuesError):
    """The release cannot be recorded (no git, uncommitted changes, a tag in the way)."""


@dataclass(frozen=True)
class Recorded:
    version: str
    manifest: Path
    tag: str
    commit: str  # the commit the tag names
    already: bool  # recorded and tagged before: nothing was done


def _git(repository: Repository, *args: str) -> str:
    try:
        done = git(repository.root, *args)
    except GitMissing as err:
        raise RecordError("recording a release commits and tags it: git is needed") from err
    if done.returncode != 0:
        raise RecordError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def _tag_commit(repository: Repository, tag: str) -> str | None:
    try:
        done = git(
            repository.root, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}"
        )
    except GitMissing:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def refuse_uncommitted(repository: Repository) -> None:
    """A release commit holds the release and nothing else: refuse a tree with uncommitted
    changes to tracked files (untracked files and build/ play no part)."""
    dirty = _git(repository, "status", "--porcelain", "--untracked-files=no").splitlines()
    if dirty:
        shown = ", ".join(line[3:] for line in dirty[:5]) + (" ..." if len(dirty) > 5 else "")
        raise RecordError(
            f"uncommitted changes ({shown}); commit or stash them first: the release commit "
            "holds the manifest and CITATION.cff only"
        )


def _holds(recorded: Path, built: dict[str, Any]) -> bool:
    """Whether releases/<version>.json (full or compact) records the records of the build."""
    try:
        return same_content(read_release(recorded), built)
    except ManifestError:
        return False


def record_release(repository: Repository, version: str, built_manifest: Path) -> Recorded:
    """Record the built version: write releases/<version>.json, cite the version in
    CITATION.cff, commit both ("Release <version>") and tag v<version>.

    The build has already refused a version recorded with other records; here the work
    tree must hold no uncommitted change to tracked files, so that the release commit
    holds the release and nothing else.
    """
    tag = f"v{version}"
    manifest = repository.root / "releases" / f"{version}.json"
    # The build just written and checked: its full manifest and its changes (the changed
    # fields it lists go into the compact form git keeps).
    try:
        built = json.loads(built_manifest.read_bytes())
        changes = json.loads((built_manifest.parent / "changes.json").read_bytes())
        data = compact_bytes(built, changes)
    except (OSError, ValueError, KeyError, TypeError, ManifestError) as err:
        raise RecordError(
            f"{built_manifest.parent}: the build's manifest.json or changes.json cannot be "
            f"read ({err}); run the release again (it builds again)"
        ) from err
    tagged = _tag_commit(repository, tag)
    if tagged is not None:
        if manifest.exists() and _holds(manifest, built):
            return Recorded(version, manifest, tag, tagged, already=True)
        raise RecordError(
            f"the tag {tag} exists but releases/{version}.json does not hold this build; "
            "raise the version in datapackage.json"
        )
    refuse_uncommitted(repository)
    paths = [manifest.relative_to(repository.root).as_posix()]
    citation = repository.root / CITATION
    created = not manifest.exists()
    try:
        manifest.parent.mkdir(exist_ok=True)
        write_atomically(manifest, data)
        if citation.is_file():
            text = citation.read_text(encoding="utf-8")
            cited = _CITED_VERSION.sub(f"version: {version}", text, count=1)
            if cited != text:
                write_atomically(citation, cited.encode("utf-8"))
            paths.append(CITATION)
    except OSError as err:
        if created:  # nothing half-recorded: the next run starts from the same state
            manifest.unlink(missing_ok=True)
        raise RecordError(
            f"the build is done and checked, but releases/{version}.json cannot be written: "
            f"{err.strerror or err}; make releases/ and CITATION.cff writable and run the "
            "release again (it reuses the build)"
        ) from err
    _git(repository, "add", "--", *paths)
    if _git(repository, "diff", "--cached", "--name-only").strip():
        _git(repository, "commit", "--quiet", "-m", f"Release {version}", "--", *paths)
    _git(repository, "tag", tag)
    commit = _git(repository, "rev-parse", "HEAD").strip()
    return Recorded(version, manifest, tag, commit, already=False)
