"""The GitHub workflow and issue form: valid for GitHub, and the commands they run exist and work."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from casekit import CASES, PROJECT
from eventledger.cli import main
from gitkit import BASE, GIT_ENV, case_repository, commit_all, git

# End to end: builds releases, clones repositories or runs the installed CLI.
pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
WORKFLOW = PROJECT / ".github" / "workflows" / "validate.yml"
FORM = PROJECT / ".github" / "ISSUE_TEMPLATE" / "data-error.yml"
TALKS = "events/2019/2019-04-25-kim-putin-talks.yaml"


@pytest.mark.parametrize(
    ("path", "schema"),
    [(WORKFLOW, "vendor.github-workflows"), (FORM, "vendor.github-issue-forms")],
    ids=["workflow", "issue-form"],
)
def test_valid_for_github(path: Path, schema: str) -> None:
    """check-jsonschema ships GitHub's schemas, so this works offline (actionlint is not on PyPI)."""
    done = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _steps() -> list[dict[str, Any]]:
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    return [step for job in jobs.values() for step in job["steps"]]


def test_every_eventledger_command_in_the_workflow_exists() -> None:
    calls = [
        shlex.split(line.split(".venv/bin/eventledger ", 1)[1])
        for step in _steps()
        for line in str(step.get("run", "")).splitlines()
        if ".venv/bin/eventledger " in line
    ]
    assert {c[0] for c in calls} >= {"validate", "build", "verify"}
    for name, *args in calls:
        command = main.commands[name]
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        assert {a for a in args if a.startswith("--")} <= options, (name, args)


def test_the_pull_request_step_annotates_a_broken_record(tmp_path: Path) -> None:
    """Run the workflow's own step, as its shell would, in a clone with an origin."""
    [step] = [s for s in _steps() if "--changed-since" in str(s.get("run", ""))]
    upstream = case_repository(tmp_path / "upstream")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(upstream), str(clone))
    git(clone, "checkout", "-q", "-b", "contribution")
    shutil.copyfile(CASES / "invalid" / "quote-mismatch" / "offsets-shifted.yaml", clone / TALKS)
    commit_all(clone, "a contribution")
    (clone / ".venv").symlink_to(BIN.parent)
    env = {**GIT_ENV, **{k: str(v) for k, v in step.get("env", {}).items()}}
    env["BASE_REF"] = BASE  # what ${{ github.base_ref }} gives: the branch the pull request targets
    done = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step["run"]],
        cwd=clone,
        env={**env, "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    first = done.stdout.splitlines()[0]
    assert re.match(
        rf"::error file={re.escape(TALKS)},line=35,col=5,title=quote-mismatch::the quote is not at",
        first,
    )
