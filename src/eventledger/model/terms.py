"""The vocabulary terms that rules rely on, each named once.

A rule that compares a value with a term ("only verified records ship") would be switched
off silently if the term were renamed in schema/vocabularies.yaml: the comparison would
simply never match. So every such term is declared here with its vocabulary, rules use
these constants, and loading the schema fails with a clear error when one is missing.
"""

from __future__ import annotations

from collections.abc import Mapping


class Term(str):
    """A vocabulary term a rule depends on; compares equal to the plain string."""

    vocabulary: str

    def __new__(cls, term: str, vocabulary: str) -> Term:
        made = super().__new__(cls, term)
        made.vocabulary = vocabulary
        return made


VERIFIED = Term("verified", "review_status")

OCCURRED = Term("occurred", "factuality")

STATED = Term("stated", "date_basis")
RESOLVED = Term("resolved", "date_basis")
INFERRED = Term("inferred", "date_basis")

WEEK = Term("week", "date_precision")
MONTH = Term("month", "date_precision")
YEAR = Term("year", "date_precision")
DECADE = Term("decade", "date_precision")

# What a span can support: the claims every event must have backed by a span.
CLAIM_EVENT = Term("event", "claim")
CLAIM_DATE = Term("date", "claim")
CLAIM_PLACE = Term("place", "claim")
CLAIM_ACTOR = Term("actor", "claim")
CLAIM_FACTUALITY = Term("factuality", "claim")

# Rights under which a source's full text may be published beside its metadata.
OPEN = Term("open", "rights")
PUBLIC_DOMAIN = Term("public-domain", "rights")
FULL_TEXT_RIGHTS = (OPEN, PUBLIC_DOMAIN)

# Where a sentence of a source stands (the coverage table of a release).
CODED = Term("coded", "coverage_status")
SET_ASIDE = Term("set-aside", "coverage_status")
UNCOVERED = Term("uncovered", "coverage_status")

# The one reason a passage set aside names the event record that codes its act.
SAME_EVENT = Term("same-event", "uncoded_reason")

REQUIRED: tuple[Term, ...] = (
    VERIFIED,
    OCCURRED,
    STATED,
    RESOLVED,
    INFERRED,
    WEEK,
    MONTH,
    YEAR,
    DECADE,
    CLAIM_EVENT,
    CLAIM_DATE,
    CLAIM_PLACE,
    CLAIM_ACTOR,
    CLAIM_FACTUALITY,
    OPEN,
    PUBLIC_DOMAIN,
    CODED,
    SET_ASIDE,
    UNCOVERED,
    SAME_EVENT,
)


def missing_terms(vocabularies: Mapping[str, Mapping[str, str]]) -> list[str]:
    """'vocabulary: term' for every term a rule needs that the vocabularies lack."""
    return [
        f"{t.vocabulary}: {t}"
        for t in REQUIRED
        if t.vocabulary not in vocabularies or t not in vocabularies[t.vocabulary]
    ]
