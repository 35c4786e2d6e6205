"""Running git: the one place the tool starts a git process."""

from __future__ import annotations

import subprocess
from pathlib import Path


class GitMissing(Exception):
    """git is not installed: whatever needed it cannot continue."""


def git(root: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run git in root; the caller reads returncode, stdout and stderr (UTF-8 text)."""
    try:
        # git from PATH, as the contributor runs it; an argument list, never a shell.
        return subprocess.run(  # noqa: S603
            ["git", "-C", str(root), *args],  # noqa: S607
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            check=False,
        )
    except FileNotFoundError as err:
        raise GitMissing("git is not installed") from err
