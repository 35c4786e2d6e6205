"""pre-commit for real: the hook this repository offers rejects a bad record in a git commit.

pre-commit would install a `language: python` hook with pip, which needs the network;
the test runs the same hook definition from .pre-commit-hooks.yaml (entry, files,
pass_filenames) as a local hook on the eventledger of this .venv, offline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from casekit import CASES, PROJECT, make_repository, place_valid_cases
from gitkit import BASE, GIT_ENV, git

# End to end: builds releases, clones repositories or runs the installed CLI.
pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
TALKS = "events/2019/2019-04-25-kim-putin-talks.yaml"


def run(root: Path, *cmd: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **GIT_ENV,
        "PRE_COMMIT_HOME": str(home),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("name", [".pre-commit-hooks.yaml", ".pre-commit-config.yaml"])
def test_hook_files_are_valid_for_pre_commit(name: str, tmp_path: Path) -> None:
    command = "validate-manifest" if name == ".pre-commit-hooks.yaml" else "validate-config"
    done = run(PROJECT, str(BIN / "pre-commit"), command, name, home=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def hooked_repository(tmp_path: Path) -> tuple[Path, Path]:
    """A records repository with the offered hook installed as a local hook, nothing committed."""
    [hook] = yaml.safe_load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    command, *args = hook["entry"].split()
    local = {**hook, "language": "unsupported", "entry": " ".join([str(BIN / command), *args])}
    root = tmp_path / "records"
    make_repository(root)
    place_valid_cases(root)
    (root / ".pre-commit-config.yaml").write_text(
        yaml.safe_dump({"repos": [{"repo": "local", "hooks": [local]}]}, sort_keys=False)
    )
    home = tmp_path / "pre-commit-home"
    git(root, "init", "-q", "-b", BASE)
    assert run(root, str(BIN / "pre-commit"), "install", home=home).returncode == 0
    return root, home


def test_pre_commit_rejects_a_bad_record_and_accepts_it_repaired(tmp_path: Path) -> None:
    root, home = hooked_repository(tmp_path)
    git(root, "add", "-A")  # the first commit: no HEAD yet, every record is new
    first = run(root, "git", "commit", "-m", "records", home=home)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "eventledger validate (changed records)" in first.stdout + first.stderr

    shutil.copyfile(CASES / "invalid" / "quote-mismatch" / "offsets-shifted.yaml", root / TALKS)
    git(root, "add", TALKS)
    bad = run(root, "git", "commit", "-m", "shift the offsets", home=home)
    output = bad.stdout + bad.stderr
    assert bad.returncode != 0, output
    assert f"{TALKS}:35:5: error[quote-mismatch]" in output
    assert "hint: set start: 125, end: 168" in output
    assert git(root, "rev-list", "--count", "HEAD").strip() == "1"  # nothing committed

    fixed = run(root, str(BIN / "eventledger"), "locate", "--write", TALKS, home=home)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    git(root, "add", TALKS)
    good = run(root, "git", "commit", "-m", "repair the offsets", home=home)
    assert good.returncode == 0, good.stdout + good.stderr
    assert git(root, "rev-list", "--count", "HEAD").strip() == "2"


def test_pre_commit_checks_what_is_committed_not_the_work_tree(tmp_path: Path) -> None:
    """An unfinished draft nobody staged does not block a valid commit; a broken record that
    is staged blocks it even when the work tree holds a repaired copy."""
    root, home = hooked_repository(tmp_path)
    git(root, "add", "-A")
    assert run(root, "git", "commit", "-m", "records", home=home).returncode == 0

    draft = root / "events" / "2019" / "2019-04-26-unfinished-draft.yaml"
    draft.write_text("event_id: 2019-04-26-unfinished-draft\ntitle: [unclosed\n", encoding="utf-8")
    talks = root / TALKS
    talks.write_text(
        talks.read_text(encoding="utf-8")
        .replace("review_status: verified", "review_status: draft")
        .replace("reviewed_by: case-reviewer\n", "")
        .replace("reviewed_on: 2026-11-22\n", ""),
        encoding="utf-8",
    )
    git(root, "add", TALKS)
    good = run(root, "git", "commit", "-m", "back to draft", home=home)
    assert good.returncode == 0, good.stdout + good.stderr
    assert git(root, "rev-list", "--count", "HEAD").strip() == "2"

    shutil.copyfile(CASES / "invalid" / "quote-mismatch" / "offsets-shifted.yaml", root / TALKS)
    git(root, "add", TALKS)
    repaired = run(root, str(BIN / "eventledger"), "locate", "--write", TALKS, home=home)
    assert repaired.returncode == 0  # the work tree is right, the index is not
    bad = run(root, "git", "commit", "-m", "shifted offsets staged", home=home)
    output = bad.stdout + bad.stderr
    assert bad.returncode != 0, output
    assert f"{TALKS}:35:5: error[quote-mismatch]" in output
    assert "unfinished-draft" not in output
    assert git(root, "rev-list", "--count", "HEAD").strip() == "2"
