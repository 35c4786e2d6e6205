"""The catalog of issue codes: every problem eventledger can report, with a stable code.

Codes are part of the public interface (CI annotations, JSON output, the docs in
docs/errors.md are generated from this table), so a code is never renamed or reused.

A code has one severity. A warning that a repository may want to enforce names the
option that escalates it (escalated_by, e.g. `--require-coverage`): with that option the
command reports it as an error, and only codes that name the option are escalated, so
an option can never turn a different warning into an error by accident. The docs say
which option escalates which code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Layer(StrEnum):
    FILE = "file"
    RECORD = "record"
    SPAN = "span"
    REPOSITORY = "repository"
    TABLE = "table"
    PACKAGE = "package"


@dataclass(frozen=True)
class Code:
    code: str
    layer: Layer
    severity: Severity
    title: str
    explanation: str
    fix: str
    escalated_by: str | None = None  # the option that makes this warning an error


def _c(
    code: str,
    layer: Layer,
    title: str,
    explanation: str,
    fix: str,
    *,
    warn: bool = False,
    escalated_by: str | None = None,
) -> Code:
    if escalated_by is not None and not warn:
        raise ValueError(f"{code}: only a warning can be escalated")
    severity = Severity.WARNING if warn else Severity.ERROR
    return Code(code, layer, severity, title, explanation, fix, escalated_by)


CODES: tuple[Code, ...] = (
    # --- reading the file ---------------------------------------------------------------
    _c(
        "file-too-large",
        Layer.FILE,
        "File over the size cap",
        "A record file is larger than the cap (1 MiB by default). No hand-written record is that large; "
        "the file is not read, so a runaway generator or a pasted article cannot exhaust memory.",
        "Split the content or remove what does not belong in a record.",
    ),
    _c(
        "file-empty",
        Layer.FILE,
        "Empty file",
        "The file holds no YAML document (it is empty, or only comments and white space).",
        "Fill it from the template (eventledger new event) or delete it.",
    ),
    _c(
        "file-unreadable",
        Layer.FILE,
        "File cannot be read",
        "The operating system refused to read the file (for example its permissions deny it). "
        "A record that cannot be read is never skipped silently: it would drop out of the release.",
        "Make the file readable (chmod a+r FILE) or remove it.",
    ),
    _c(
        "invalid-utf8",
        Layer.FILE,
        "Not valid UTF-8",
        "The file contains bytes that are not valid UTF-8. Records must be UTF-8 so that every tool "
        "reads the same characters.",
        "Re-save the file as UTF-8 (without BOM).",
    ),
    _c(
        "byte-order-mark",
        Layer.FILE,
        "Byte-order mark",
        "The file starts with a UTF-8 byte-order mark (U+FEFF), which some tools keep as part of the first key.",
        "Re-save the file as UTF-8 without BOM.",
    ),
    _c(
        "crlf-line-endings",
        Layer.FILE,
        "Windows line endings",
        "The file uses CR LF line endings. Records use LF only, so diffs and offsets stay the same on every system.",
        "Convert the file to LF line endings (git config core.autocrlf input; dos2unix).",
    ),
    _c(
        "nul-byte",
        Layer.FILE,
        "NUL byte",
        "The file contains a NUL byte (U+0000), a sign of a binary or corrupted file.",
        "Remove the NUL bytes; re-create the file from the template if it is corrupted.",
    ),
    _c(
        "tab-character",
        Layer.FILE,
        "Tab character",
        "The file contains a tab. YAML forbids tabs for indentation and tabs inside values are invisible "
        "in review; indent with spaces and write \\t in a double-quoted string if a tab is meant.",
        "Replace the tab with spaces.",
    ),
    _c(
        "hidden-line-break",
        Layer.FILE,
        "Line break git does not show",
        "The file holds U+0085 NEXT LINE (NEL), U+2028 LINE SEPARATOR or U+2029 PARAGRAPH SEPARATOR. "
        "YAML reads each as a line break; git, grep, editors and diff views do not. A key written "
        "after '# comment' and NEL is a real key to the tool and part of a comment to a reviewer, so "
        "the file is refused as a whole.",
        "Delete the character (the message names its line); break lines with LF only.",
    ),
    _c(
        "control-character",
        Layer.FILE,
        "Control character",
        "The file holds a control character (C0 other than LF and tab, DEL, C1, a surrogate or a "
        "noncharacter such as U+FFFF), raw or written as an escape in a double-quoted string "
        '("\\x01", "\\0", "\\e"). It is invisible in review, and XML (xlsx) and many CSV readers '
        "cannot carry it, so no record may hold it.",
        "Delete the character or its escape.",
    ),
    _c(
        "bidi-control",
        Layer.FILE,
        "Bidirectional control",
        "The file holds a bidirectional formatting character (U+202A..U+202E, U+2066..U+2069, "
        "U+200E, U+200F, U+061C): raw anywhere, or as an escape in any value but a quote. It "
        "changes the order in which a line is displayed, so a reviewer does not see what is read "
        "('Trojan Source').",
        "Delete it. A quote whose source text holds one writes it as an escape (\\u200f) in a "
        "double-quoted string, where a reviewer can see it.",
    ),
    _c(
        "non-ascii-space",
        Layer.FILE,
        "Space that is not a space to YAML",
        "The file holds, raw, a space character other than U+0020: a no-break space (U+00A0), "
        "U+1680, U+2000..U+200A, U+202F, U+205F or U+3000. It looks like a space in git and every "
        "editor, but YAML reads it as text: 'a: b' + U+00A0 + '# c' is the value 'b\\u00a0# c', "
        "not b and a comment, and a 'key:' after one on a deeper line is part of the value "
        "above, not a key. The file is refused as a whole.",
        "Replace it with a plain space. Where it belongs in the text (a quote whose source holds "
        "it), write it as an escape (\\u00a0) inside a double-quoted string, where a reviewer "
        "can see it.",
    ),
    _c(
        "invisible-character",
        Layer.FILE,
        "Invisible character",
        "The file holds, raw, a character that shows as nothing in git, editors and diff views: a "
        "format character (zero-width space, zero-width joiner and non-joiner, word joiner, soft "
        "hyphen, U+180E, a byte-order mark after the start of the file, the tag characters "
        "U+E0000..U+E007F, which can spell out text no reviewer sees) or another default-"
        "ignorable character (Hangul fillers, variation selectors, the combining grapheme "
        "joiner). Bidirectional controls have a code of their own (bidi-control), and so has a "
        "byte-order mark at the start of the file (byte-order-mark).",
        "Delete it. Where it belongs in the text (a quote whose source holds it, an emoji "
        "sequence), write it as an escape (\\u200b) inside a double-quoted string, where a "
        "reviewer can see it.",
    ),
    _c(
        "yaml-syntax",
        Layer.FILE,
        "YAML syntax error",
        "The YAML parser could not read the file at this place.",
        "Fix the syntax at the line named; compare with the template in schema/templates/.",
    ),
    _c(
        "multiple-documents",
        Layer.FILE,
        "More than one YAML document",
        "The file holds more than one YAML document (separated by ---). One file holds one record.",
        "Move each further document into a file of its own.",
    ),
    _c(
        "duplicate-key",
        Layer.FILE,
        "Duplicate key",
        "A mapping names the same key twice. Most YAML loaders silently keep the last value, hiding an edit.",
        "Keep one of the two keys and delete the other.",
    ),
    _c(
        "yaml-anchor",
        Layer.FILE,
        "Anchor or alias",
        "Anchors (&name) and aliases (*name) are not allowed: they hide repeated content from review and "
        "allow exponential 'billion laughs' expansion. The file is refused without expanding anything.",
        "Write the value out in full at each place.",
    ),
    _c(
        "yaml-tag",
        Layer.FILE,
        "YAML tag",
        "Explicit tags such as !!python/object or !!str are not allowed; a record holds plain data only.",
        "Remove the tag; quote the value if it must stay a string.",
    ),
    _c(
        "nesting-too-deep",
        Layer.FILE,
        "Nesting too deep",
        "The document nests mappings and lists deeper than any record needs (the cap is 20 levels).",
        "Flatten the structure to the shape of the template.",
    ),
    _c(
        "implicit-boolean",
        Layer.FILE,
        "Unquoted yes/no/on/off",
        "An unquoted yes, no, on, off, true, false, y or n, as a value or as a key, is read as a "
        "boolean by YAML 1.1 tools and as a string by others (the 'Norway problem': country NO; "
        "a key on: becomes the key True). eventledger keeps it a string, but the record must mean "
        "the same to every reader.",
        'Quote the value or the key: "no", "on": ....',
    ),
    _c(
        "not-a-mapping",
        Layer.FILE,
        "Record is not a mapping",
        "The top level of a record file must be a mapping of field names to values, not a list or a scalar.",
        "Start from the template: one 'key: value' per line at the top level.",
    ),
    # --- one record -------------------------------------------------------------------------
    _c(
        "missing-field",
        Layer.RECORD,
        "Required field missing",
        "A field the schema requires is absent or empty.",
        "Add the field; the template shows every field with its description.",
    ),
    _c(
        "unknown-field",
        Layer.RECORD,
        "Unknown field",
        "The record holds a key the schema does not define (often a typo).",
        "Rename the key to the field meant (see the hint), or delete it.",
    ),
    _c(
        "wrong-type",
        Layer.RECORD,
        "Wrong type",
        "A value has the wrong type: text where a number belongs, a scalar where a list or mapping belongs.",
        "Write the value in the type the schema gives (see expected).",
    ),
    _c(
        "invalid-date",
        Layer.RECORD,
        "Invalid date",
        "A date is not a real calendar date in ISO 8601 form YYYY-MM-DD.",
        'Write the date as YYYY-MM-DD, for example "2019-04-25".',
    ),
    _c(
        "not-in-vocabulary",
        Layer.RECORD,
        "Term not in vocabulary",
        "A value is not one of the terms of its controlled vocabulary (schema/vocabularies.yaml).",
        "Use one of the terms listed in expected; CODEBOOK.md defines each.",
    ),
    _c(
        "bad-format",
        Layer.RECORD,
        "Value does not match the required pattern",
        "A value does not match the pattern its field requires (ids, ISO codes, QIDs, hashes).",
        "Rewrite the value in the form the pattern in expected describes.",
    ),
    _c(
        "not-in-codelist",
        Layer.RECORD,
        "Code not in its code list",
        "The field holds codes of a standard (its Table Schema names the list with the key "
        "'codelist'), and the value is none of them. For countries: an ISO 3166-1 alpha-3 code, "
        "or a former code of ISO 3166-3 (SUN for the USSR, DDR, YUG, CSK, ...), which stays allowed "
        "for what happened in a state that no longer exists and is marked as historical in "
        "CODEBOOK.md.",
        "Use the code the hint suggests, or look the country up in ISO 3166 (pycountry's "
        "countries and historic_countries hold both lists).",
    ),
    _c(
        "out-of-range",
        Layer.RECORD,
        "Number out of range",
        "A number lies outside the minimum or maximum of its field.",
        "Correct the number (coordinates in decimal degrees, offsets from 0).",
    ),
    _c(
        "bad-length",
        Layer.RECORD,
        "Text too short or too long",
        "A text value is shorter or longer than its field allows.",
        "Shorten or complete the text.",
    ),
    _c(
        "dates-out-of-order",
        Layer.RECORD,
        "Dates out of order",
        "An interval is reversed: an event's date_start is later than its date_end, or a "
        "source's published lies outside published_earliest..published_latest.",
        "Swap the dates or correct the one that is wrong.",
    ),
    _c(
        "date-precision-mismatch",
        Layer.RECORD,
        "Dates disagree with the precision",
        "The interval does not fit date_precision: a month-precision event must lie within one calendar "
        "month, a week within seven days, a year within one calendar year.",
        "Widen the precision or narrow the interval.",
    ),
    _c(
        "date-note-missing",
        Layer.RECORD,
        "Resolved or inferred date without a note",
        "date_basis is resolved or inferred, but date_note does not say how the date was obtained.",
        "Add date_note, for example: 'am Donnerstag' read against the publication date 2019-04-24.",
        warn=True,
    ),
    _c(
        "incomplete-coordinates",
        Layer.RECORD,
        "Latitude without longitude (or the reverse)",
        "Only one of latitude and longitude is given.",
        "Give both coordinates or neither.",
    ),
    _c(
        "reference-is-path",
        Layer.RECORD,
        "Reference written as a path",
        "An actor or source reference is written as a file path; references are plain ids.",
        "Write only the id (the file stem), for example kim-jong-un instead of actors/kim-jong-un.yaml.",
    ),
    _c(
        "duplicate-participant",
        Layer.RECORD,
        "Actor listed twice",
        "The same actor appears more than once among the participants of one event.",
        "Keep one entry per actor with the role it plays.",
    ),
    _c(
        "no-evidence",
        Layer.RECORD,
        "Event without evidence",
        "Every event needs at least one span of evidence quoting its source.",
        'Add an evidence entry; eventledger locate SOURCE_ID "quote" gives the offsets.',
    ),
    _c(
        "unsupported-claim",
        Layer.RECORD,
        "Claim without a span that supports it",
        "A claim of the record (the event, its date, its place, a participant) is not named in the "
        "supports list of any span, so a reader cannot check it against the text.",
        "Add the claim to the supports (and actor_ids) of the span that says it, or add such a span.",
    ),
    _c(
        "span-actor-not-participant",
        Layer.RECORD,
        "Span names an actor that is not a participant",
        "A span's actor_ids names an actor that is not among the event's participants, or names actors "
        "without the claim 'actor' in supports.",
        "Add the actor to participants, or correct actor_ids and supports.",
    ),
    _c(
        "same-event-mismatch",
        Layer.RECORD,
        "Passage names an event without the reason same-event, or the reverse",
        "A passage of an uncoded.yaml names the event record that already codes its act "
        "(event_id) exactly when its reason is same-event: that reason without the record "
        "leaves the reader nothing to check, and a record named under another reason says two things.",
        "With reason same-event, add event_id: the id of the record; otherwise remove event_id.",
    ),
    _c(
        "verified-without-reviewer",
        Layer.RECORD,
        "Verified record without reviewer or date",
        "A record marked verified must say who verified it (reviewed_by) and on what day (reviewed_on).",
        "Add reviewed_by and reviewed_on, or set review_status back to draft.",
    ),
    # --- spans against sources ------------------------------------------------------------------------
    _c(
        "offsets-out-of-range",
        Layer.SPAN,
        "Offsets outside the text",
        "start and end must satisfy 0 <= start < end <= length of the source text.",
        'Recompute the offsets: eventledger locate SOURCE_ID "quote".',
    ),
    _c(
        "quote-mismatch",
        Layer.SPAN,
        "Quote differs from the text at its offsets",
        "text[start:end] is not the quote, but the quote does occur elsewhere in the source.",
        "Use the offsets in the hint (or run eventledger locate --write FILE).",
    ),
    _c(
        "quote-whitespace-differs",
        Layer.SPAN,
        "Quote differs only in white space",
        "The quote matches the source only when white space is compared loosely: the text has a "
        "non-breaking space, a line break or a double space where the quote has something else.",
        "Copy the quote from text.txt exactly; write a non-breaking space as \\u00a0 in a double-quoted string.",
    ),
    _c(
        "quote-normalization-differs",
        Layer.SPAN,
        "Quote differs only in Unicode normalization",
        "The quote matches the source only after Unicode NFC normalization (for example a decomposed "
        "umlaut, a + combining diaeresis).",
        "Copy the quote from text.txt, or normalize the record file to NFC.",
    ),
    _c(
        "quote-near-miss",
        Layer.SPAN,
        "Quote almost in the source",
        "The quote occurs nowhere in the source text, but a passage differs from it in at most a "
        "tenth of its characters (a typo, a dropped letter, a typographic quotation mark, an "
        "invisible character). The message names each difference; expected shows the passage and "
        "found the quote, with the differing characters between \u27e6 \u27e7 and invisible or "
        "non-ASCII ones written as <U+XXXX>.",
        "Copy the passage from the hint, or run eventledger locate --write FILE --accept-near, which "
        "writes the passage's words and offsets when exactly one passage is that close.",
    ),
    _c(
        "quote-not-found",
        Layer.SPAN,
        "Quote not in the source",
        "The quote occurs nowhere in the source text, not even with white space or normalization "
        "relaxed, and no passage differs from it in less than a tenth of its characters.",
        "Check the source_id and copy the quote exactly from text.txt.",
    ),
    _c(
        "sentence-not-accounted",
        Layer.SPAN,
        "Sentence neither coded nor set aside",
        "A sentence of a source text (as the sentence segmenter pysbd cuts it, with the rules of "
        "the source's language) is touched by no evidence span of any record and by no passage of "
        "the source's uncoded.yaml. Every sentence must be accounted for, so that what the dataset "
        "leaves out is as readable as what it codes. A span touches a sentence when it overlaps "
        "it by at least one character that is not white space. This is a warning; "
        "`eventledger validate --require-coverage` (what `make validate` and CI run) makes it an "
        "error. A check of changed files only (--changed-since) does not look for it.",
        "Code the sentence in an event record, or set it aside in sources/<id>/uncoded.yaml: add "
        "a passage with its start, end and quote (eventledger locate gives the offsets) and a "
        "reason from the vocabulary uncoded_reason.",
        warn=True,
        escalated_by="--require-coverage",
    ),
    _c(
        "source-hash-mismatch",
        Layer.SPAN,
        "Source text changed",
        "The SHA-256 of text.txt differs from the one recorded in source.yaml: the text was edited after "
        "the offsets were computed, so every span on it is suspect.",
        "Restore text.txt byte for byte; only if the recorded hash is wrong, correct sha256 (see found).",
    ),
    _c(
        "source-length-mismatch",
        Layer.SPAN,
        "Source length differs",
        "The number of code points in text.txt differs from characters in source.yaml.",
        "Restore text.txt or correct characters to the value found.",
    ),
    _c(
        "span-splits-character",
        Layer.SPAN,
        "Span boundary inside a character",
        "start or end falls inside what a reader sees as one character (a grapheme cluster): between "
        "a letter and its combining mark, between the two regional indicators of a flag, or inside "
        "an emoji joined with U+200D. The quote then holds half a character.",
        "Move the offset to the edge of the whole character (quote the mark or the whole flag too).",
    ),
    _c(
        "source-text-missing",
        Layer.SPAN,
        "Source text missing",
        "sources/<id>/text.txt does not exist or cannot be read.",
        "Add text.txt beside source.yaml, byte for byte as published.",
    ),
    _c(
        "source-text-not-normalized",
        Layer.SPAN,
        "Source text not in NFC with LF line endings",
        "Offsets count code points of the stored text, which must be valid UTF-8 in Unicode NFC with LF "
        "line endings so that every tool counts the same.",
        "Normalize text.txt to NFC and LF before computing offsets.",
    ),
    # --- across records -------------------------------------------------------------------------
    _c(
        "duplicate-id",
        Layer.REPOSITORY,
        "Id used twice",
        "Two records carry the same id. Ids are unique and never reused.",
        "Give one of the records a new id (and rename its file to match).",
    ),
    _c(
        "id-stem-mismatch",
        Layer.REPOSITORY,
        "Id differs from file name",
        "A record's id must equal its file stem (events/2019/<id>.yaml, actors/<id>.yaml, sources/<id>/).",
        "Rename the file or correct the id; never reuse an id that was released.",
    ),
    _c(
        "wrong-folder",
        Layer.REPOSITORY,
        "Event in the wrong year folder",
        "An event file lives in events/<yyyy>/ where yyyy is the year of its date_start.",
        "Move the file to the folder of its year (git mv).",
    ),
    _c(
        "unexpected-file",
        Layer.REPOSITORY,
        "File where no record belongs",
        "A file in events/, actors/ or sources/ does not fit the layout (wrong extension or place).",
        "Move or rename it: events/<yyyy>/<id>.yaml, actors/<id>.yaml, sources/<id>/source.yaml + text.txt.",
    ),
    _c(
        "symlink-not-allowed",
        Layer.REPOSITORY,
        "Symbolic link in a data folder",
        "A file or folder in events/, actors/ or sources/ is a symbolic link. The tool never follows "
        "one: a link can point outside the repository (a record that would ship without review, or "
        "a private file that would be printed), and git stores only the link, not what it points to.",
        "Replace the link with the file itself (git rm the link, git add the file).",
    ),
    _c(
        "special-file",
        Layer.REPOSITORY,
        "Not a regular file",
        "A FIFO, socket or device sits in a data folder. Opening one can block for ever or read "
        "from a device, so the tool does not open it.",
        "Delete it; records and source texts are regular files.",
    ),
    _c(
        "folder-unreadable",
        Layer.REPOSITORY,
        "Folder cannot be read",
        "A folder under events/, actors/ or sources/ cannot be listed (permissions, an I/O error). "
        "Its records would be missing from the check and the release, and their ids would look "
        "withdrawn, so the whole check fails instead.",
        "Make the folder readable (chmod a+rx FOLDER) or restore it from git.",
    ),
    _c(
        "package-metadata-invalid",
        Layer.REPOSITORY,
        "Root datapackage.json unreadable",
        "The root datapackage.json, which names the package and the version of the next release, "
        "is not a JSON object with a name and a MAJOR.MINOR.PATCH version.",
        "Fix the JSON at the line named; keep name and version (for example 0.2.0).",
    ),
    _c(
        "table-check-failed",
        Layer.TABLE,
        "A table check failed as a whole",
        "A check over a whole table failed in a way that belongs to no single row (for example a "
        "column missing from the table). It points at a fault in the schema or the tool more "
        "often than in a record.",
        "Run eventledger validate --format json and report the issue with its output if no "
        "record is named.",
    ),
    _c(
        "unknown-actor",
        Layer.REPOSITORY,
        "Actor does not exist",
        "A participant or span names an actor id with no file in actors/.",
        "Correct the id or add actors/<id>.yaml.",
    ),
    _c(
        "unknown-event",
        Layer.REPOSITORY,
        "Event does not exist",
        "distinct_from names an event id with no file in events/.",
        "Correct the id; list only events that exist.",
    ),
    _c(
        "unknown-source",
        Layer.REPOSITORY,
        "Source does not exist",
        "A span names a source id with no folder in sources/.",
        "Correct the id or add sources/<id>/source.yaml and text.txt.",
    ),
    _c(
        "duplicate-event-suspected",
        Layer.REPOSITORY,
        "Possibly the same event twice",
        "Two events share type, start date and participants. The same event told by several sources is "
        "one record with spans from each.",
        "Merge the records if they are one event (move the spans into one file, delete the other); "
        "otherwise make the difference visible in title and summary.",
        warn=True,
    ),
    _c(
        "unused-actor",
        Layer.REPOSITORY,
        "Actor takes part in no event",
        "No event names this actor, so it would be published without any event.",
        "Delete the actor file or add the events it takes part in.",
        warn=True,
    ),
    # --- the built package (eventledger verify) --------------------------------------------
    _c(
        "checksum-mismatch",
        Layer.PACKAGE,
        "File differs from its checksum",
        "A file of a built release is missing, not listed in SHA256SUMS, or its size or SHA-256 "
        "differs from SHA256SUMS or from the bytes and hash of its resource in datapackage.json. "
        "The release was changed or damaged after it was built.",
        "Do not edit a built release: download it again, or rebuild it with make release.",
    ),
    _c(
        "package-file-malformed",
        Layer.PACKAGE,
        "File of the package cannot be read",
        "A file of the package is not what it must be: a SHA256SUMS line that is not "
        "'<64 hex digits>  <path>' or not UTF-8, a descriptor that is not a Data Package (a list, "
        "a resource without name or path), a CSV table with unbalanced quotes, undecodable bytes "
        "or other headers, a Parquet file that Arrow cannot read, a zip that cannot be opened.",
        "Do not edit a built release: download it again, or rebuild it with make release.",
    ),
    _c(
        "package-path-unsafe",
        Layer.PACKAGE,
        "Path that leaves the package",
        "SHA256SUMS, a descriptor or the zip names a path that is absolute or climbs out of the "
        "package ('../../etc/hostname'), or the package holds a symbolic link or a special file. "
        "verify opens none of them: a package only ever names its own regular files.",
        "Do not use this package; download the release again from its publisher.",
    ),
    _c(
        "parquet-differs-from-csv",
        Layer.PACKAGE,
        "Parquet table differs from its CSV twin",
        "A Parquet table does not hold exactly the rows of its CSV twin, or its Arrow schema is not "
        "the one derived from the Table Schema.",
        "Rebuild the release with make release; report a bug if a fresh build shows it.",
    ),
)

BY_CODE: dict[str, Code] = {c.code: c for c in CODES}


def lookup(code: str) -> Code:
    return BY_CODE[code]


def is_code(code: str) -> bool:
    return code in BY_CODE
