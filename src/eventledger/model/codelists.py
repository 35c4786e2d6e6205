"""Code lists a Table Schema field can be held to (the custom key "codelist"), from pycountry.

A code list is a standard's codes with their names: too many and too well kept elsewhere
to copy into schema/vocabularies.yaml, so a field names the list and pycountry (pinned)
gives the codes. ISO 3166-1 alpha-3 allows the former codes of ISO 3166-3 as well (a 1945
event happened in the USSR, SUN, not in Russia): they are marked as historical wherever
the list is shown.

pycountry is imported inside the function: commands that never check a table do not pay
for reading its databases.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

ISO_3166_ALPHA_3 = "iso-3166-1-alpha-3"
NAMES = (ISO_3166_ALPHA_3,)  # the lists a field may name; load_schema refuses any other


@dataclass(frozen=True)
class Codelist:
    name: str
    title: str  # the standard, in words
    current: dict[str, str]  # code -> name
    former: dict[str, str]  # code -> name, withdrawn codes that remain allowed and are marked
    withdrawn: dict[str, str]  # former code -> when it was withdrawn, as the standard gives it

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self.current) | frozenset(self.former)

    def describe(self, code: str) -> str:
        """The code's name, marked when it is a former code."""
        if code in self.current:
            return self.current[code]
        return f"{self.former[code]}, a former code (ISO 3166-3), withdrawn {self.withdrawn[code]}"


@cache
def codelist(name: str) -> Codelist:
    """The code list named; KeyError for a name not in NAMES."""
    if name != ISO_3166_ALPHA_3:
        raise KeyError(name)
    import pycountry

    current = {c.alpha_3: c.name for c in pycountry.countries}
    # A withdrawn code that was later assigned again (ATF) is current, not former.
    historic = [c for c in pycountry.historic_countries if c.alpha_3 not in current]
    return Codelist(
        name=name,
        title="ISO 3166-1 alpha-3, with the former codes of ISO 3166-3",
        current=current,
        former={c.alpha_3: c.name for c in historic},
        withdrawn={c.alpha_3: str(getattr(c, "withdrawal_date", "")) for c in historic},
    )
