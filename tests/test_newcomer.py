"""A newcomer's path, end to end, with only the commands README.md and CONTRIBUTING.md give.

From a fresh clone, on a branch named like a contributor's (whatever branch this checkout
is on): the README's quick start in its order; a new source from a text file, a new actor
and a new event of year precision from it, with one quote mistyped on purpose and fixed
through the hint validate prints; the commit through the pre-commit hook, beside an
unfinished draft nobody staged; the review; then the maintainer's build, which carries the
new event, and the maintainer's step that records and tags the release.

Every command is checked against the command lines of the two documents (placeholders in
<angle brackets> match any text). Not run: the one-time setup (`make venv` would install
from the network: the clone's .venv is a link to this checkout's, and make is told the
stamp is up to date), `make test` (this test is part of it: .ci/run runs it, in both
orders, on a clone on another branch), `git push` and the merge, which GitHub does.
Editing a record is what the contributor does in an editor.
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
SOURCE = "example-2000-russland-nordkorea"
QUOTE = (
    "Im Jahr 2000 unterzeichnete das russische Außenministerium mit Pjöngjang "
    "einen neuen Freundschaftsvertrag."
)
# One sentence, coded by the event below, so that every sentence is accounted for.
ARTICLE = f"{QUOTE}\r\n"
MISTYPED = QUOTE.replace("Freundschaftsvertrag", "Freundschaftsvertag")
ACTOR = "russian-foreign-ministry"
EVENT_ID = "2000-russia-signs-friendship-treaty-with-north-korea"


def upstream() -> str:
    """The branch CONTRIBUTING.md compares a contribution with (`--changed-since <branch>`):
    the test follows the document, so a renamed default branch is renamed here too."""
    text = (PROJECT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    found = re.search(r"eventledger validate --changed-since (\S+)", text)
    assert found is not None, "CONTRIBUTING.md no longer names the branch to compare with"
    return found.group(1).strip("`")


def documented() -> list[re.Pattern[str]]:
    """Every command line of the README's quick start and of CONTRIBUTING.md's steps."""
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    text = (PROJECT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    steps = text.split("## Steps", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", quick + steps, flags=re.S)
    commands = [
        re.sub(r"\s+#.*$", "", line.strip())
        for block in blocks
        for line in block.splitlines()
        if line.strip()
    ]
    commands += re.findall(r"`((?:git|eventledger|make) [^`]+)`", steps)
    patterns = []
    for command in commands:
        parts = re.split(r"(<[^>]+>)", command)
        regex = "".join(".+?" if p.startswith("<") else re.escape(p) for p in parts)
        patterns.append(re.compile(regex))
    return patterns


def quick_start() -> list[str]:
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.findall(r"```sh\n(.*?)```", quick, flags=re.S)[0]
    return [re.sub(r"\s+#.*$", "", line).strip() for line in block.splitlines() if line.strip()]


class Newcomer:
    def __init__(self, root: Path, home: Path) -> None:
        self.root = root
        self.patterns = documented()
        self.env = {
            **GIT_ENV,
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "PRE_COMMIT_HOME": str(home),
        }

    def run(self, command: str, *, ok: bool = True) -> str:
        assert any(p.fullmatch(command) for p in self.patterns), f"not documented: {command}"
        out = []
        for part in command.split(" && "):
            argv = shlex.split(part)
            if argv[0] == "make":  # the clone's .venv is this checkout's: never reinstall it
                argv[1:1] = ["--no-print-directory", "-o", ".venv/.installed"]
            done = subprocess.run(
                argv, cwd=self.root, env=self.env, capture_output=True, text=True, check=False
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


def test_a_newcomer_adds_a_source_an_actor_and_an_event_that_reach_the_release(
    tmp_path: Path,
) -> None:
    root = tmp_path / "eventledger"
    git(tmp_path, "clone", "-q", str(PROJECT), str(root))
    # The clone's upstream branch is the commit under test, whichever branch the project is on.
    base = upstream()
    git(root, "checkout", "-q", "-B", base)
    (root / ".venv").symlink_to(PROJECT / ".venv")
    you = Newcomer(root, tmp_path / "pre-commit-home")
    version = json.loads((root / "datapackage.json").read_text())["version"]
    you.run("git switch -c contributor/friendship-treaty-2000")

    # The README's quick start, in its order, on the contributor's branch.
    assert quick_start() == ["make release", "make validate", "make test"]
    built = you.run("make release")
    assert f"build/{version}/" in built and "verify" in built, built
    assert not (root / "releases" / f"{version}.json").exists()  # building records nothing
    again = you.run("make release")
    assert "nothing changed" in again, again
    assert "wrote events" not in again
    you.run("make validate")
    you.run(".venv/bin/pre-commit install")

    # A new source (step 1): the text as saved by an editor on Windows.
    article = tmp_path / "artikel.txt"
    article.write_bytes(b"\xef\xbb\xbf" + ARTICLE.encode("utf-8"))
    made = you.run(
        f"eventledger new source {SOURCE} --text {article} --publisher "
        '"Example Zeitung" --title "Russland und Nordkorea" --published 2019-04-26 '
        "--published-basis inferred --published-precision week --published-earliest 2019-04-22 "
        '--published-latest 2019-04-26 --published-note "The page gives the week only." '
        "--language de --rights quotes-only"
    )
    assert "changed: removed the byte-order mark (U+FEFF) at the start" in made
    assert "changed: converted 1 CRLF line ending(s) to LF" in made
    you.run(f"eventledger validate sources/{SOURCE}")

    # A new actor (step 2).
    actor = you.run(
        f'eventledger new actor {ACTOR} --name "Russian Ministry of Foreign Affairs" '
        '--kind government --written-as "das russische Außenministerium"'
    )
    assert actor.strip() == f"actors/{ACTOR}.yaml"

    # A new event of year precision (step 3), its quote mistyped on purpose.
    located = you.run(f'eventledger locate {SOURCE} "{QUOTE}"')
    assert located == f"start: 0, end: {len(QUOTE)}  (line 1)\n"
    created = you.run(
        "eventledger new event russia-signs-friendship-treaty-with-north-korea --date 2000 "
        f'--title "Russia signs a friendship treaty with North Korea" --source {SOURCE}'
    ).strip()
    assert created == f"events/2000/{EVENT_ID}.yaml"
    record = (root / created).read_text(encoding="utf-8")
    assert 'date_start: "2000-01-01"' in record and 'date_end: "2000-12-31"' in record
    assert "date_precision: year" in record
    you.edit(
        created,
        {
            "summary": '"In 2000 the Russian foreign ministry signed a new friendship treaty '
            'with North Korea."',
            "event_type": "AGREE",
            "factuality": "occurred",
            "date_basis": "stated",
            "actor_id": ACTOR,
            "role": "actor",
            "quote": json.dumps(MISTYPED, ensure_ascii=False),
            "supports": "[event, date, actor]",
            "actor_ids": f"[{ACTOR}, north-korea]",
        },
    )
    path = root / created
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "    role: actor\n", "    role: actor\n  - actor_id: north-korea\n    role: recipient\n"
        ),
        encoding="utf-8",
    )
    refused = you.run(f"eventledger locate --write {created}", ok=False)
    assert "rerun with --accept-near" in refused and "nothing written" in refused
    checked = you.run(f"eventledger validate --changed-since {base}", ok=False)
    assert f"{created}:" in checked and "error[quote-near-miss]" in checked, checked
    assert "the text has 'r' where the quote has nothing" in checked
    hint = re.search(r"or run: (eventledger locate --write \S+ --accept-near)", checked)
    assert hint is not None, checked
    fixed = you.run(hint.group(1))
    assert "the text's words" in fixed
    assert json.dumps(QUOTE, ensure_ascii=False) in path.read_text(encoding="utf-8")
    checked = you.run(f"eventledger validate --changed-since {base}")
    assert checked.startswith("OK"), checked

    # The commit goes through pre-commit, beside an unfinished draft nobody staged.
    draft = root / "events" / "2000" / "2000-unfinished-draft.yaml"
    draft.write_text("event_id: 2000-unfinished-draft\ntitle: [\n", encoding="utf-8")
    you.run(f"git add sources/{SOURCE} actors/{ACTOR}.yaml {created}")
    committed = you.run('git commit -m "Add the 2000 friendship treaty from Example Zeitung"')
    assert re.search(r"eventledger validate \(changed records\)\.+Passed", committed), committed
    draft.unlink()

    # Someone else verifies it (step 5).
    you.edit(
        created,
        {"review_status": "verified", "reviewed_by": "second-reader", "reviewed_on": "2026-11-23"},
    )
    assert you.run(f"eventledger validate --changed-since {base}").startswith("OK")
    you.run('git commit -am "Verify the friendship treaty"')

    # GitHub merges the pull request; the maintainer builds and records the release (step 6).
    git(root, "switch", "-q", base)
    git(
        root,
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge the friendship treaty",
        "contributor/friendship-treaty-2000",
    )
    you.run("make validate")  # every sentence of every source accounted for
    summary = you.run("make release")
    assert f"{version} built" in summary, summary
    build = root / "build" / version
    with (build / "data" / "events.csv").open(encoding="utf-8", newline="") as handle:
        rows = {row["event_id"]: row for row in csv.DictReader(handle)}
    assert rows[EVENT_ID]["date_precision"] == "year"
    assert EVENT_ID in set(pd.read_parquet(build / "parquet" / "events.parquet")["event_id"])
    evidence = pd.read_parquet(build / "parquet" / "evidence.parquet")
    assert QUOTE in set(evidence.loc[evidence["event_id"] == EVENT_ID, "quote"])
    assert EVENT_ID in (build / "CHANGES.md").read_text(encoding="utf-8")
    sources = pd.read_parquet(build / "parquet" / "sources.parquet").set_index("source_id")
    assert sources.loc[SOURCE, "published_precision"] == "week"

    published = you.run("make publish")
    assert f"releases/{version}.json" in published, published
    assert git(root, "tag", "--list", f"v{version}").strip() == f"v{version}"
    assert git(root, "status", "--porcelain", "--untracked-files=no").strip() == ""
    assert f"version: {version}" in (root / "CITATION.cff").read_text(encoding="utf-8")
