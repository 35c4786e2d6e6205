"""The command line as users run it: exit codes, output formats, locate."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from casekit import CASES, make_repository, place_valid_cases
from eventledger.cli import main

BROKEN = CASES / "invalid" / "quote-mismatch" / "offsets-shifted.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    make_repository(tmp_path)
    place_valid_cases(tmp_path)
    return tmp_path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_valid_repository_exits_0(repo: Path) -> None:
    code, out = invoke("validate", "--root", str(repo))
    assert code == 0
    assert out.strip().startswith("OK:")


def test_broken_record_exits_1_with_file_line_and_hint(repo: Path) -> None:
    shutil.copyfile(BROKEN, repo / "events" / "2019" / "2019-04-25-kim-putin-talks.yaml")
    code, out = invoke("validate", "--root", str(repo))
    assert code == 1
    assert "events/2019/2019-04-25-kim-putin-talks.yaml:35:5: error[quote-mismatch]" in out
    assert "hint: set start: 125, end: 168" in out
    assert out.splitlines()[-1].startswith("FAILED: 1 error")


def test_json_format_is_machine_readable(repo: Path) -> None:
    shutil.copyfile(BROKEN, repo / "events" / "2019" / "2019-04-25-kim-putin-talks.yaml")
    code, out = invoke("validate", "--root", str(repo), "--format", "json")
    payload = json.loads(out)
    assert code == 1 and payload["valid"] is False
    [issue] = payload["issues"]
    assert issue["code"] == "quote-mismatch"
    assert issue["severity"] == "error"
    assert issue["line"] == 35 and issue["path"] == "evidence[1].quote"
    assert issue["expected"] == "Putin sprach von „wichtigen Verhandlungen“."


def test_github_format_annotates_the_line(repo: Path) -> None:
    shutil.copyfile(BROKEN, repo / "events" / "2019" / "2019-04-25-kim-putin-talks.yaml")
    code, out = invoke("validate", "--root", str(repo), "--format", "github")
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith(
        "::error file=events/2019/2019-04-25-kim-putin-talks.yaml,line=35,col=5,title=quote-mismatch::"
    )
    assert "%0Ahint%3A" not in first and "%0Ahint: set start: 125" in first


def test_paths_limit_the_report(repo: Path) -> None:
    shutil.copyfile(BROKEN, repo / "events" / "2019" / "2019-04-25-kim-putin-talks.yaml")
    code, _ = invoke("validate", "--root", str(repo), str(repo / "actors"))
    assert code == 0
    code, _ = invoke("validate", "--root", str(repo), str(repo / "events" / "2019"))
    assert code == 1


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    code, out = invoke("validate", "--root", str(tmp_path))
    assert code == 2 and "no eventledger repository" in out
    code, _ = invoke("validate", "--format", "xml")
    assert code == 2


def test_a_path_outside_the_repository_is_a_usage_error(
    repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    code, out = invoke("validate", "--root", str(repo), str(elsewhere))
    assert code == 2 and "not in the repository" in out


def test_locate_prints_every_occurrence(repo: Path) -> None:
    code, out = invoke("locate", "--root", str(repo), "example-2019-04-25-summit", "Putin")
    assert code == 0
    assert out.splitlines() == ["start: 25, end: 30  (line 1)", "start: 125, end: 130  (line 2)"]
    code, out = invoke(
        "locate",
        "--root",
        str(repo),
        "--format",
        "json",
        "example-2019-04-25-summit",
        "10\u00a0Uhr",
    )
    assert json.loads(out) == [{"start": 218, "end": 224, "line": 3}]


def test_locate_missing_quote_exits_1_unknown_source_exits_2(repo: Path) -> None:
    code, _ = invoke("locate", "--root", str(repo), "example-2019-04-25-summit", "nicht im Text")
    assert code == 1
    code, out = invoke("locate", "--root", str(repo), "no-such-source", "x")
    assert code == 2 and "no-such-source" in out


def test_console_script_and_module_run(repo: Path) -> None:
    exe = Path(sys.executable).parent / "eventledger"
    for cmd in ([str(exe)], [sys.executable, "-m", "eventledger"]):
        done = subprocess.run(
            [*cmd, "validate"], cwd=repo, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("OK:")
        assert "Traceback" not in done.stderr


def test_a_path_to_a_source_text_shows_what_editing_it_broke(repo: Path) -> None:
    text = repo / "sources" / "example-2019-04-25-summit" / "text.txt"
    text.write_text(
        text.read_text(encoding="utf-8").replace("Putin sprach", "Putin sagte"), encoding="utf-8"
    )
    code, out = invoke("validate", "--root", str(repo), str(text))
    assert code == 1
    assert "sources/example-2019-04-25-summit/source.yaml:7:1: error[source-hash-mismatch]" in out
    assert "events/2019/2019-04-25-kim-putin-talks.yaml:38:5: error[quote-not-found]" in out


def test_locate_names_the_invisible_difference(repo: Path) -> None:
    """A plain space typed for the text's no-break space: exit 1, and the character named."""
    result = CliRunner().invoke(
        main, ["locate", "--root", str(repo), "example-2019-04-25-summit", "10 Uhr"]
    )
    assert result.exit_code == 1
    assert "only if white space is ignored" in result.output
    assert "the text has it at start: 218, end: 224" in result.output
    assert "U+00A0 NO-BREAK SPACE where the quote has U+0020 SPACE" in result.output
    code, out = invoke("locate", "--root", str(repo), "example-2019-04-25-summit", "")
    assert code == 2 and "QUOTE is empty" in out


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        if isinstance(command, click.Group):
            found += _commands(command, path)
        else:
            found.append(path)
    return found


@pytest.mark.parametrize("command", _commands(main), ids=" ".join)
def test_every_command_says_its_exit_status_and_explains_root(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "Exit status: 0" in result.output, command
    options = main
    for name in command:
        options = options.commands[name]  # type: ignore[attr-defined]
    for param in options.params:
        assert not isinstance(param, click.Option) or param.help, (command, param.name)


def test_version_names_the_tool_and_the_dataset(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventledger import __version__

    monkeypatch.chdir(repo)
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        f"eventledger {__version__}",
        f"dataset: eventledger-kim-putin 0.1.0 ({repo.resolve()})",
    ]
    monkeypatch.chdir(repo.parent)
    result = CliRunner().invoke(main, ["--version"])
    assert result.output.splitlines()[1].startswith("dataset: none here")


def test_quiet_validate_prints_nothing_when_valid(repo: Path) -> None:
    code, out = invoke("validate", "--root", str(repo), "--quiet")
    assert code == 0 and out == ""


def test_locate_marks_a_near_miss_as_validate_does(repo: Path) -> None:
    """A dropped letter: locate shows the closest passage and the difference, exit 1."""
    result = CliRunner().invoke(
        main, ["locate", "--root", str(repo), "example-2019-04-25-summit", "Putin sprach vn"]
    )
    assert result.exit_code == 1
    assert "the closest passage (start: 125, end: 141, line 2) differs in 1 character" in (
        result.output
    )
    assert "character 15: the text has 'o' where the quote has nothing" in result.output
    assert "quote: Putin sprach v⟦⟧n" in result.output
