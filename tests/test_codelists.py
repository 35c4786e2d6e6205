"""Country codes against ISO 3166: current codes and the former codes of ISO 3166-3 pass,
anything else is named with the code meant; the codebook says which codes are historical."""

from __future__ import annotations

from pathlib import Path

from casekit import PROJECT, make_repository, place_valid_cases
from eventledger.check.checker import load_dataset
from eventledger.model.codebook import codebook
from eventledger.model.codelists import ISO_3166_ALPHA_3, codelist
from eventledger.model.schema import load_schema
from eventledger.read.repository import Repository

TALKS = "events/2019/2019-04-25-kim-putin-talks.yaml"


def _with_country(tmp_path: Path, code: str) -> list[tuple[str, str | None]]:
    make_repository(tmp_path)
    place_valid_cases(tmp_path)
    path = tmp_path / TALKS
    path.write_text(
        path.read_text(encoding="utf-8").replace("country: RUS", f"country: {code}"),
        encoding="utf-8",
    )
    dataset = load_dataset(Repository(tmp_path))
    return [(i.code, i.hint) for i in dataset.issues if i.file == TALKS]


def test_current_and_former_codes_pass(tmp_path: Path) -> None:
    assert _with_country(tmp_path / "a", "PRK") == []
    assert _with_country(tmp_path / "b", "SUN") == []  # the USSR, withdrawn 1992


def test_a_code_iso_does_not_know_is_named_with_the_code_meant(tmp_path: Path) -> None:
    assert _with_country(tmp_path, "RUX") == [
        ("not-in-codelist", "did you mean 'RUS' (Russian Federation)?")
    ]


def test_former_codes_are_marked_and_never_shadow_a_current_one() -> None:
    codes = codelist(ISO_3166_ALPHA_3)
    assert "SUN" in codes.former and "SUN" not in codes.current
    assert codes.describe("SUN").startswith("USSR")
    assert "former code (ISO 3166-3), withdrawn 1992" in codes.describe("SUN")
    assert not set(codes.former) & set(codes.current)  # ATF was withdrawn and assigned again
    assert "ATF" in codes.current


def test_the_codebook_lists_the_historical_codes() -> None:
    text = codebook(load_schema(PROJECT / "schema"), "x", "1.0.0")
    assert "codes of [iso-3166-1-alpha-3](#code-list-iso-3166-1-alpha-3)" in text
    assert "### Code list `iso-3166-1-alpha-3`" in text
    assert "| `SUN` | USSR, Union of Soviet Socialist Republics | 1992-08-30 |" in text
    assert "| `RUS` |" not in text  # current codes are not listed one by one
