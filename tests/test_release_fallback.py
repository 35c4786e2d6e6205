"""A build one of whose child processes fails on its own, through the real CLI (run here).

The build starts three children (the zip writer, the tables check, the spreadsheet writer;
children.py). One that ends on its own with a failure, having said why on stderr, or that
answers with something that is not an answer, is no reason to stop a release: the build
does that work itself, and the release is byte for byte the one a build whose children all
worked writes, with nothing left over in build/. (A child killed, stopped or stuck stops
the build: test_release_faults.py.)

No function of ours is replaced: the build starts its children with another interpreter, a
script that is the real one for every child but the one under test. The build runs in this
process, which has loaded what the build then does itself (frictionless, pyarrow) once for
all the tests: each takes seconds less than in a process of its own."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from eventledger.cli import main
from releasekit import make_release_repository

# End to end: each test builds a release.
pytestmark = pytest.mark.slow

VERSION = "0.1.0"
NAME = "eventledger-kim-putin"
# Each child, and how the build names it when it did that child's work itself.
CHILDREN = {
    "eventledger.publish.zip_stream": "the zip writer",
    "eventledger.publish.tables_check": "the tables check (frictionless)",
    "eventledger.publish.spreadsheet": "the spreadsheet (xlsx) writer",
}
SAID = "cannot go on: a fault of its own, said on stderr"
STRAY = b"a stray line on stdout, as a library that prints would write\n"

# The interpreter the build's children are started with (children.py: sys.executable -m
# <module> <the build's process id>). For the module under test it fails on its own
# ("fails": says why on stderr and exits 3, before doing any work), or does its whole work
# and exits 0 with an answer the build cannot use: a stray line before its answer
# ("garbage"), or in its place a well-formed answer of no use, null ("wrong"). Every other
# use of it is the real interpreter, exec'd in the same process, so each child still ties
# itself to the build (die_with_parent checks its parent's process id).
WRAPPER = """#!{python}
import os
import pickle
import subprocess
import sys

PYTHON, MODULE, MODE, SAID, STRAY = {python!r}, {module!r}, {mode!r}, {said!r}, {stray!r}
args = sys.argv[1:]
if args[:2] != ["-m", MODULE]:
    os.execv(PYTHON, [PYTHON, *args])
if MODE == "fails":
    sys.stderr.write(f"{{MODULE}}: {{SAID}}\\n")
    sys.exit(3)
# The real child, tied to this process, which stands between it and the build; its stdin
# and stderr are the build's pipe and stderr.
done = subprocess.run([PYTHON, "-m", MODULE, str(os.getpid())], stdout=subprocess.PIPE)
with open({ran!r}, "w") as ran:
    ran.write(str(done.returncode))
if MODE == "garbage":
    sys.stdout.buffer.write(STRAY + done.stdout)
else:  # null as the zip writer (JSON) and the others (pickle) write it
    sys.stdout.buffer.write(b"null" if MODULE.endswith(".zip_stream") else pickle.dumps(None))
"""


def build(root: Path) -> Result:
    """eventledger build; what its children write goes to this process's stderr."""
    return CliRunner().invoke(main, ["build", "--root", str(root)])


def digests(folder: Path) -> dict[str, str]:
    """Every file under folder (the release folder and its zip), by its SHA-256."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_release_repository(tmp_path_factory.mktemp("fallback") / "repo")


@pytest.fixture(scope="module")
def reference(pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The digests of a build whose children all worked."""
    root = tmp_path_factory.mktemp("reference") / "repo"
    shutil.copytree(pristine, root, symlinks=True)
    done = build(root)
    assert done.exit_code == 0, done.output
    return digests(root / "build")


def test_a_build_whose_children_answer_says_nothing_of_them(
    pristine: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The one message below is news only if a normal build never prints it."""
    repo = tmp_path / "repo"
    shutil.copytree(pristine, repo, symlinks=True)
    capfd.readouterr()
    done = build(repo)
    assert done.exit_code == 0, done.output
    stderr = capfd.readouterr().err + done.stderr
    assert "gave no usable answer" not in stderr, stderr
    assert "the zip writer failed" not in stderr, stderr


@pytest.mark.parametrize("mode", ["fails", "garbage", "wrong"])
@pytest.mark.parametrize("module", CHILDREN, ids=lambda module: module.rsplit(".", 1)[1])
def test_a_child_that_fails_on_its_own_leaves_the_release_as_it_would_be(
    pristine: Path,
    reference: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    module: str,
    mode: str,
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(pristine, repo, symlinks=True)
    ran = tmp_path / "ran"
    interpreter = tmp_path / "python"
    interpreter.write_text(
        WRAPPER.format(
            python=sys.executable, module=module, mode=mode, said=SAID, stray=STRAY, ran=str(ran)
        )
    )
    interpreter.chmod(0o755)

    monkeypatch.setattr(sys, "executable", str(interpreter))

    done = build(repo)

    assert done.exit_code == 0, done.output
    # The children write to the build's stderr itself (file descriptor 2), as in a terminal.
    stderr = capfd.readouterr().err + done.stderr
    assert "Traceback" not in stderr, stderr
    if mode == "fails":
        # The child's own words reach the build's stderr, the one trace of the work the build
        # then did itself: a maintainer sees that something went wrong, and what.
        assert f"{module}: {SAID}" in stderr, stderr
    else:
        # The real child did its whole work and only its answer was unusable (for the zip
        # writer: a whole zip the build could not take on trust; the digests below say the
        # release zip is right, not which process wrote it).
        assert ran.read_text() == "0"
    # Whatever went wrong, the build says which step it did itself, and only that one: the
    # one explanation of a build slower than usual when the child said nothing.
    for other, name in CHILDREN.items():
        assert (f"{name} gave no usable answer" in stderr) == (other == module), stderr
    assert digests(repo / "build") == reference
    # Nothing half-written beside the release: no aside folder, no zip scratch (.part), no
    # folder of the spreadsheet's sheets.
    assert sorted(p.name for p in (repo / "build").iterdir()) == [VERSION, f"{NAME}-{VERSION}.zip"]
