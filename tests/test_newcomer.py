"""A newcomer's path, end to end, with only the commands CONTRIBUTING.md documents.

From a clean clone of this repository: a maintainer cuts a release; a contributor adds
an event from a quote (locate, new event, locate --write, validate --changed-since);
another person verifies it; the maintainer cuts the next release, and the event is in
its CSV and Parquet tables and its CHANGES.md.

Every command is checked against the command lines of CONTRIBUTING.md (placeholders in
<angle brackets> match any text). Not run: the one-time setup (`make venv` would install
from the network; the test puts this .venv on PATH instead), `git push` and the merge,
which GitHub does. Editing the record is what the contributor does in an editor.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from casekit import PROJECT
from gitkit import GIT_ENV, git

# End to end: builds releases, clones repositories or runs the installed CLI.
pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
SOURCE = "derstandard-2019-04-25-putin-kim-gipfel"
QUOTE = (
    "Als US-Präsident Donald Trump seinen Flirt mit Nordkorea begann, "
    "verstärkte auch Moskau seine Charmeoffensive gegenüber Kim."
)
EVENT_ID = "2018-01-01-moscow-steps-up-charm-offensive-towards-kim"


def documented() -> list[re.Pattern[str]]:
    """Every command line of CONTRIBUTING.md's steps, as a pattern."""
    text = (PROJECT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    steps = text.split("## Steps", 1)[1].split("\n## ", 1)[0]
    lines = re.findall(r"```sh\n(.*?)```", steps, flags=re.S)
    commands = [
        re.sub(r"\s+#.*$", "", line.strip())
        for block in lines
        for line in block.splitlines()
        if line.strip()
    ]
    commands += re.findall(r"`((?:git|eventledger) [^`]+)`", steps)
    patterns = []
    for command in commands:
        parts = re.split(r"(<[^>]+>)", command)
        regex = "".join(".+?" if p.startswith("<") else re.escape(p) for p in parts)
        patterns.append(re.compile(regex))
    return patterns


class Newcomer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.patterns = documented()
        self.env = {**GIT_ENV, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}

    def run(self, command: str, *, ok: bool = True) -> str:
        assert any(p.fullmatch(command) for p in self.patterns), (
            f"not in CONTRIBUTING.md: {command}"
        )
        out = []
        for part in command.split(" && "):
            done = subprocess.run(
                shlex.split(part),
                cwd=self.root,
                env=self.env,
                capture_output=True,
                text=True,
                check=False,
            )
            out.append(done.stdout + done.stderr)
            if ok:
                assert done.returncode == 0, f"{part}\n{done.stdout}{done.stderr}"
        return "".join(out)

    def edit(self, rel: str, fields: dict[str, str]) -> None:
        """What the contributor does in an editor: fill in top-level and span fields."""
        path = self.root / rel
        text = path.read_text(encoding="utf-8")
        for key, value in fields.items():
            text, n = re.subn(
                rf"^(\s*(?:- )?){re.escape(key)}:.*$",
                lambda m, k=key, v=value: f"{m.group(1)}{k}: {v}",
                text,
                count=1,
                flags=re.M,
            )
            assert n == 1, key
        path.write_text(text, encoding="utf-8")

    def set_version(self, version: str) -> None:
        path = self.root / "datapackage.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data["version"] = version
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def test_a_newcomer_adds_an_event_that_reaches_the_next_release(tmp_path: Path) -> None:
    root = tmp_path / "eventledger"
    git(tmp_path, "clone", "-q", str(PROJECT), str(root))
    # The clone's main is the commit under test, whichever branch the project is on.
    git(root, "checkout", "-q", "-B", "main")
    you = Newcomer(root)
    version = json.loads((root / "datapackage.json").read_text())["version"]
    major, minor, _ = (int(x) for x in version.split("."))
    following = f"{major}.{minor + 1}.0"

    # The maintainer has cut the current release (step 4).
    you.run("eventledger validate --require-coverage")
    you.run("eventledger release")
    you.run(
        f'git add releases/{version}.json && git commit -m "Release {version}" && git tag v{version}'
    )
    you.set_version(following)
    you.run(f'git commit -am "Start {following}"')

    # The contributor adds an event (step 1).
    you.run("git switch -c charm-offensive")
    located = you.run(f'eventledger locate {SOURCE} "{QUOTE}"')
    assert re.fullmatch(r"start: \d+, end: \d+  \(line \d+\)\n", located)
    created = you.run(
        f"eventledger new event moscow-steps-up-charm-offensive-towards-kim --date 2018-01-01 "
        f'--title "Moscow steps up its charm offensive towards Kim Jong Un" --source {SOURCE}'
    ).strip()
    assert created == f"events/2018/{EVENT_ID}.yaml"
    you.edit(
        created,
        {
            "summary": '"As Donald Trump began his flirt with North Korea, Moscow also stepped '
            'up its charm offensive towards Kim."',
            "event_type": "SUPPORT",
            "factuality": "occurred",
            "date_end": "2018-12-31",
            "date_precision": "year",
            "date_basis": "inferred",
            "date_note": '"Trump\'s approach to North Korea began in 2018; the article gives no date."',
            "actor_id": "russia",
            "role": "actor",
            "quote": json.dumps(QUOTE, ensure_ascii=False),
            "supports": "[event, actor]",
            "actor_ids": "[russia, kim-jong-un]",
        },
    )
    record = root / created
    record.write_text(
        record.read_text(encoding="utf-8").replace(
            "    role: actor\n", "    role: actor\n  - actor_id: kim-jong-un\n    role: recipient\n"
        ),
        encoding="utf-8",
    )
    wrote = you.run(f"eventledger locate --write {created}")
    assert "wrote 1 span(s)" in wrote
    checked = you.run("eventledger validate --changed-since main")
    assert checked.startswith("OK"), checked
    you.run(f"git add {created}")
    you.run('git commit -m "Add the charm offensive from Der Standard"')

    # Someone else verifies it (step 3).
    you.edit(
        created,
        {"review_status": "verified", "reviewed_by": "second-reader", "reviewed_on": "2026-11-23"},
    )
    assert you.run("eventledger validate --changed-since main").startswith("OK")
    you.run('git commit -am "Verify the charm offensive"')

    # GitHub merges the pull request; the maintainer cuts the next release (step 4).
    git(root, "switch", "-q", "main")
    git(root, "merge", "-q", "--no-ff", "-m", "Merge charm-offensive", "charm-offensive")
    you.run("eventledger validate --require-coverage")
    summary = you.run("eventledger release")
    assert f"{following} built" in summary
    build = root / "build" / following
    with (build / "data" / "events.csv").open(encoding="utf-8", newline="") as handle:
        rows = {row["event_id"]: row for row in csv.DictReader(handle)}
    assert rows[EVENT_ID]["title"] == "Moscow steps up its charm offensive towards Kim Jong Un"
    parquet = pd.read_parquet(build / "parquet" / "events.parquet")
    assert EVENT_ID in set(parquet["event_id"])
    evidence = pd.read_parquet(build / "parquet" / "evidence.parquet")
    assert QUOTE in set(evidence.loc[evidence["event_id"] == EVENT_ID, "quote"])
    assert EVENT_ID in (build / "CHANGES.md").read_text(encoding="utf-8")
