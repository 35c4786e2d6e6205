"""Real git repositories for tests: a case repository committed, ready to be changed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from casekit import make_repository, place_valid_cases

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "Test Contributor",
    "GIT_AUTHOR_EMAIL": "contributor@example.org",
    "GIT_COMMITTER_NAME": "Test Contributor",
    "GIT_COMMITTER_EMAIL": "contributor@example.org",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


# The branch every fixture repository starts on. Deliberately not the project's own default branch: a test
# passes only if nothing in the tool or the workflow assumes a branch's name.
BASE = "trunk"


def git(root: Path, *args: str, when: str | None = None) -> str:
    """Run git in root with the user's own git configuration shut out; when sets the
    author and committer date, so commits (and the releases built from them) repeat."""
    env = (
        GIT_ENV
        if when is None
        else {**GIT_ENV, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    )
    done = subprocess.run(
        ["git", *args], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def case_repository(root: Path) -> Path:
    """The base case repository with the valid events, committed on branch BASE."""
    make_repository(root)
    place_valid_cases(root)
    git(root, "init", "-q", "-b", BASE)
    commit_all(root, "base")
    return root
