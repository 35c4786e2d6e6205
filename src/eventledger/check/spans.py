"""Evidence spans against their source texts: the check no other event dataset makes.

Offsets count Unicode code points of text.txt decoded as UTF-8 (which must be NFC with
LF line endings), 0-based, end exclusive: text[start:end] == quote.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from eventledger.issues import RecordPath
from eventledger.read.records import Record, Row
from eventledger.read.repository import read_regular
from eventledger.syntax.positions import line_of
from eventledger.syntax.strict_yaml import double_quoted


@dataclass(frozen=True)
class SourceText:
    source_id: str
    text: str | None  # None when the file is missing or unreadable
    sha256: str | None
    problem: str | None = None  # why text is None or not normalized


def read_source_text(path: Path, source_id: str, root: Path | None = None) -> SourceText:
    """The text at path; a symbolic link (below root, when given) or a special file is
    refused without being opened."""
    try:
        raw = read_regular(path, root)
    except OSError as err:
        return SourceText(source_id, None, None, f"cannot read {path.name}: {err.strerror}")
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return SourceText(source_id, None, digest, f"not valid UTF-8 at byte {err.start}")
    problems = []
    if text.startswith("\ufeff"):
        problems.append("starts with a byte-order mark")
    if "\r" in text:
        problems.append("contains CR characters (line endings must be LF)")
    if not unicodedata.is_normalized("NFC", text):
        problems.append("is not in Unicode NFC")
    return SourceText(source_id, text, digest, "; ".join(problems) or None)


def locate(text: str, quote: str) -> list[tuple[int, int]]:
    """Every (start, end) at which quote occurs in text, overlapping occurrences included."""
    if not quote:
        return []
    found = []
    at = text.find(quote)
    while at >= 0:
        found.append((at, at + len(quote)))
        at = text.find(quote, at + 1)
    return found


def _loose(quote: str) -> re.Pattern[str]:
    words = quote.split()
    return re.compile(r"\s+".join(re.escape(w) for w in words))


def _offsets(places: list[tuple[int, int]]) -> str:
    shown = ", ".join(f"start: {s}, end: {e}" for s, e in places[:5])
    return shown + (f" (and {len(places) - 5} more)" if len(places) > 5 else "")


def check_span(record: Record, row: Row, source: SourceText) -> None:
    """Compare one span with its source text; report into the record."""
    if source.text is None:
        return  # reported once on the source itself
    start, end, quote = row.get("start"), row.get("end"), row.get("quote")
    if not isinstance(quote, str) or not quote:
        return  # already reported by the record checks
    text = source.text
    prefix = row.prefix
    if not isinstance(start, int) or not isinstance(end, int):
        # The missing or broken offsets are reported by the record checks; a quote that is
        # not in the text is a second mistake, which locate --write cannot mend: say it now.
        if not locate(text, quote):
            _report_absent(record, prefix, source, quote, None)
        return
    if not 0 <= start < end <= len(text):
        record.report(
            "offsets-out-of-range",
            f"offsets {start}..{end} are outside the text of {source.source_id} (0..{len(text)})",
            (*prefix, "start"),
            expected=f"0 <= start < end <= {len(text)}",
            found=f"start: {start}, end: {end}",
            hint=_hint(text, quote, source.source_id),
        )
        return
    if text[start:end] == quote:
        for at, edge in ((start, "start"), (end, "end")):
            if splits_cluster(text, at):
                record.report(
                    "span-splits-character",
                    f"{edge} {at} falls inside one character of {source.source_id}: "
                    f"{_name(text[at - 1])} and {_name(text[at])} belong together",
                    (*prefix, edge),
                    found=f"{edge}: {at}",
                    hint="move the offset so that the whole character is inside or outside the quote",
                )
        return
    exact = locate(text, quote)
    if exact:
        record.report(
            "quote-mismatch",
            f"the quote is not at {start}..{end} of {source.source_id} "
            f"but occurs at {_offsets(exact)}",
            (*prefix, "quote"),
            expected=quote,
            found=text[start:end],
            hint=f"set {_offsets(exact)}"
            if len(exact) == 1
            else f"the quote occurs {len(exact)} times; choose one: {_offsets(exact)}",
        )
        return
    _report_absent(record, prefix, source, quote, (start, end))


def _report_absent(
    record: Record,
    prefix: RecordPath,
    source: SourceText,
    quote: str,
    offsets: tuple[int, int] | None,
) -> None:
    """A quote that occurs nowhere exactly: as it would with a rule relaxed, as the closest
    passage, or not at all."""
    text = source.text or ""
    near = near_miss(text, quote)
    if near is not None:
        if near.kind == "normalization":
            record.report(
                "quote-normalization-differs",
                near.sentence,
                (*prefix, "quote"),
                expected=near.actual,
                found=quote,
                hint=f"copy the quote from text.txt ({_offsets(near.places)})",
            )
        else:
            record.report(
                "quote-whitespace-differs",
                f"{near.sentence}; the text has it at {near.start}..{near.end}",
                (*prefix, "quote"),
                expected=near.actual,
                found=quote,
                hint=f"use quote: {double_quoted(near.actual)} with start: {near.start}, end: {near.end}",
            )
        return
    misses = closest_passages(text, quote, around=offsets[:1] if offsets else ())
    if misses:
        described = describe_near_miss(quote, text, misses, record.file)
        record.report(
            "quote-near-miss",
            f"the quote occurs nowhere in {source.source_id}; {described.summary}",
            (*prefix, "quote"),
            flag=False,  # a quote over the maximum length is told so as well
            expected=described.text_marked,
            found=described.quote_marked,
            hint=described.hint,
        )
        return
    record.report(
        "quote-not-found",
        f"the quote occurs nowhere in {source.source_id}, and no passage is close to it",
        (*prefix, "quote"),
        flag=False,  # a quote over the maximum length is told so as well
        expected=f"text at {offsets[0]}..{offsets[1]}: {text[offsets[0] : offsets[1]]!r}"
        if offsets
        else None,
        found=quote,
        hint="check the source_id and copy the quote from text.txt",
    )


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def splits_cluster(text: str, at: int) -> bool:
    """True when a boundary at offset at cuts what a reader sees as one character: before a
    combining mark, a variation selector, a skin-tone modifier or an emoji tag; around a
    zero-width joiner; between the two regional indicators of a flag."""
    if at <= 0 or at >= len(text):
        return False
    before, after = text[at - 1], text[at]
    if after < "\x80":  # no ASCII character joins the one before it (most offsets)
        return before == "\u200d"
    code = ord(after)
    if unicodedata.category(after) in ("Mn", "Mc", "Me") or "\u200d" in (before, after):
        return True
    if 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:  # variation selectors
        return True
    if 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F:  # skin tones, emoji tags
        return True
    if 0x1160 <= code <= 0x11FF or 0xD7B0 <= code <= 0xD7FF:  # Hangul vowel and final jamo
        return 0x1100 <= ord(before) <= 0x11FF or 0xAC00 <= ord(before) <= 0xD7FF
    if _regional(before) and _regional(after):
        run = 0  # flags pair regional indicators from the start of their run
        while at - run - 1 >= 0 and _regional(text[at - run - 1]):
            run += 1
        return run % 2 == 1
    return False


def near_matches(text: str, quote: str) -> tuple[str, list[tuple[int, int]]] | None:
    """Where a quote that does not occur exactly would occur if Unicode normalization
    ("normalization") or white space ("whitespace") were relaxed; None if nowhere."""
    nfc = unicodedata.normalize("NFC", quote)
    if nfc != quote:
        places = locate(text, nfc)
        if places:
            return "normalization", places
    if nfc.split():
        loose = [(m.start(), m.end()) for m in _loose(nfc).finditer(text)]
        if loose:
            return "whitespace", loose
    return None


@dataclass(frozen=True)
class NearMiss:
    """Where a quote that does not occur exactly would occur with a rule relaxed, and what
    differs: the one wording of this finding, for validate and locate alike."""

    kind: str  # "normalization" or "whitespace"
    places: list[tuple[int, int]]
    actual: str  # the text at the first place
    difference: str  # the first differing character, named

    @property
    def start(self) -> int:
        return self.places[0][0]

    @property
    def end(self) -> int:
        return self.places[0][1]

    @property
    def sentence(self) -> str:
        rule = (
            "after NFC normalization"
            if self.kind == "normalization"
            else "if white space is ignored"
        )
        return f"the quote matches the source only {rule} ({self.difference})"


def near_miss(text: str, quote: str) -> NearMiss | None:
    near = near_matches(text, quote)
    if near is None:
        return None
    kind, places = near
    actual = text[places[0][0] : places[0][1]]
    return NearMiss(kind, places, actual, first_difference(quote, actual))


# A near miss: the passage of the text that differs from the quote in at most this many
# characters (and at least 2, so that one typo in a short quote still counts).
_NEAR_SHARE = 0.1
_NEAR_MIN = 2
# Words seed the candidate windows; a word that occurs more often than this says little
# about where the quote stands and would make the search slow on long texts.
_SEED_WORDS = 6
_SEED_MAX_HITS = 64
_WORD = re.compile(r"\w+")
_MARK_OPEN, _MARK_CLOSE = "\u27e6", "\u27e7"  # ⟦ ⟧: rare in press texts, unlike [ ] or « »


@dataclass(frozen=True)
class ClosePassage:
    """A passage of the text that is almost the quote."""

    start: int
    end: int
    differing: int  # characters that differ (inserted, deleted or replaced)


def _differing(a: str, b: str) -> int:
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")


def _align(text: str, quote: str, lo: int, hi: int) -> tuple[int, int] | None:
    """The passage of text[lo:hi] that lines up with the whole quote, by its matching blocks."""
    window = text[lo:hi]
    blocks = [
        b
        for b in difflib.SequenceMatcher(None, window, quote, autojunk=False).get_matching_blocks()
        if b.size
    ]
    if not blocks:
        return None
    first, last = blocks[0], blocks[-1]
    # Extend the first and last matching blocks to the quote's ends, one text character per
    # quote character, so that a difference at either end is part of the passage.
    start = max(lo, lo + first.a - first.b)
    end = min(hi, lo + last.a + last.size + (len(quote) - last.b - last.size))
    return (start, end) if start < end else None


def _seeds(text: str, quote: str, around: tuple[int, ...], tolerance: int) -> list[int]:
    """Where in the text the quote might start: each occurrence of one of its longest
    words, shifted by that word's place in the quote, plus the offsets the record gives.
    Seeds closer than tolerance share one window."""
    seeds = [a for a in around if 0 <= a <= len(text)]
    words: dict[str, int] = {}
    for m in _WORD.finditer(quote):
        words.setdefault(m.group(0), m.start())
    longest = sorted(words, key=lambda w: (-len(w), words[w]))[:_SEED_WORDS]
    counts = {w: text.count(w) for w in longest}
    useful = [w for w in longest if counts[w] <= _SEED_MAX_HITS]
    if not useful and longest:  # every word is common: the rarest still bounds the search
        useful = [min(longest, key=lambda w: counts[w])]
    for word in useful:
        at, hits = text.find(word), 0
        while at >= 0 and hits < _SEED_MAX_HITS:
            seeds.append(at - words[word])
            hits += 1
            at = text.find(word, at + 1)
    kept: list[int] = []
    for seed in sorted(set(seeds)):
        if not kept or seed - kept[-1] > tolerance:
            kept.append(seed)
    return kept


def closest_passages(text: str, quote: str, around: tuple[int, ...] = ()) -> list[ClosePassage]:
    """Every passage of text that differs from quote in at most a tenth of its characters,
    best first; [] when none is that close (or the quote occurs exactly).

    Alignment (difflib) runs only on windows around the seeds of _seeds, so a long text costs
    a few string searches and a few small alignments, not an alignment of the whole text.
    """
    if not quote or locate(text, quote):
        return []
    limit = max(_NEAR_MIN, int(len(quote) * _NEAR_SHARE))
    slack = limit + 8
    found: dict[tuple[int, int], ClosePassage] = {}
    for seed in _seeds(text, quote, around, limit):
        lo, hi = max(0, seed - slack), min(len(text), seed + len(quote) + slack)
        placed = _align(text, quote, lo, hi)
        if placed is None or placed in found:
            continue
        differing = _differing(text[placed[0] : placed[1]], quote)
        if differing <= limit:
            found[placed] = ClosePassage(placed[0], placed[1], differing)
    # Keep the best of overlapping passages: one place in the text is one near miss.
    kept: list[ClosePassage] = []
    for miss in sorted(found.values(), key=lambda m: (m.differing, m.start)):
        if all(miss.end <= k.start or miss.start >= k.end for k in kept):
            kept.append(miss)
    return kept


@dataclass(frozen=True)
class ClosePassageText:
    """How a near miss is told, in validate and locate alike (one wording)."""

    summary: str  # where the closest passage is and what differs, invisible characters named
    text_marked: str  # the passage, differing characters between ⟦ ⟧
    quote_marked: str  # the quote, marked the same way
    hint: str


def _shown(chars: str) -> str:
    """Characters as a reader can see them: invisible, space-like and non-ASCII ones by code point."""
    return "".join(
        c
        if c.isascii() and (c.isalnum() or (c.isprintable() and c != " "))
        else f"<U+{ord(c):04X}>"
        for c in chars
    )


def _visible(chars: str) -> str:
    """Characters both sides share, printable as they are except the invisible ones
    (format and control characters, spaces other than U+0020), which a terminal would act on."""
    return "".join(
        f"<U+{ord(c):04X}>"
        if unicodedata.category(c) in ("Cf", "Cc", "Co", "Cs", "Zl", "Zp")
        or (unicodedata.category(c) == "Zs" and c != " ")
        else c
        for c in chars
    )


def _said(chars: str) -> str:
    if not chars:
        return "nothing"
    if len(chars) > 3:
        return repr(chars)
    return ", ".join(repr(c) if c.isascii() and c.isalnum() else _name(c) for c in chars)


def _characters(n: int) -> str:
    return f"{n} character{'' if n == 1 else 's'}"


def describe_near_miss(
    quote: str, text: str, misses: list[ClosePassage], file: str = "FILE"
) -> ClosePassageText:
    """Tell the closest passage: where, what differs (named), and the fix."""
    best = misses[0]
    passage = text[best.start : best.end]
    ops = difflib.SequenceMatcher(None, passage, quote, autojunk=False).get_opcodes()
    text_marked, quote_marked, differences = [], [], []
    for tag, i1, i2, j1, j2 in ops:
        a, b = passage[i1:i2], quote[j1:j2]
        if tag == "equal":
            text_marked.append(_visible(a))
            quote_marked.append(_visible(b))
            continue
        text_marked.append(f"{_MARK_OPEN}{_shown(a)}{_MARK_CLOSE}")
        quote_marked.append(f"{_MARK_OPEN}{_shown(b)}{_MARK_CLOSE}")
        differences.append(
            f"character {j1 + 1}: the text has {_said(a)} where the quote has {_said(b)}"
        )
    shown = differences[:3] + ([f"and {len(differences) - 3} more"] if len(differences) > 3 else [])
    where = f"start: {best.start}, end: {best.end}"
    if len(misses) == 1:
        summary = (
            f"the closest passage ({where}, line {line_of(text, best.start)}) differs in "
            f"{_characters(best.differing)}: {'; '.join(shown)}"
        )
        hint = (
            f"copy the passage: quote: {double_quoted(passage)} with {where}; "
            f"or run: eventledger locate --write {file} --accept-near"
        )
    else:
        others = ", ".join(f"{m.start}..{m.end}" for m in misses[1:6])
        summary = (
            f"{len(misses)} passages are almost the quote (at {best.start}..{best.end}, {others}); "
            f"the closest differs in {_characters(best.differing)}: {'; '.join(shown)}"
        )
        hint = "quote more words so that one passage matches, copied from text.txt"
    return ClosePassageText(summary, "".join(text_marked), "".join(quote_marked), hint)


def first_difference(quote: str, actual: str) -> str:
    """Name the first character where the quote and the text part ways, so an invisible
    difference (a no-break space, a combining accent) can be seen."""
    for i, (q, a) in enumerate(zip(quote, actual, strict=False)):
        if q != a:
            return f"character {i + 1}: the text has {_name(a)} where the quote has {_name(q)}"
    longer, which = (quote, "quote") if len(quote) > len(actual) else (actual, "text")
    at = min(len(quote), len(actual))
    return f"character {at + 1}: the {which} goes on with {_name(longer[at])}"


def _name(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, 'UNNAMED')}"


def _hint(text: str, quote: str | None, source_id: str) -> str:
    places = locate(text, quote) if isinstance(quote, str) else []
    if len(places) == 1:
        return f"set {_offsets(places)}"
    return f'run: eventledger locate {source_id} "…"'


def check_source(record: Record, source: SourceText, text_file: str) -> None:
    """A source's recorded hash and length against its text.txt."""
    values = record.main()
    sid = source.source_id
    if source.text is None and source.sha256 is None:
        record.report(
            "source-text-missing",
            f"{text_file} is missing: {source.problem}",
            ("source_id",),
            hint="add text.txt beside source.yaml, byte for byte as published",
        )
        return
    recorded = values.get("sha256")
    if isinstance(recorded, str) and recorded != source.sha256:
        record.report(
            "source-hash-mismatch",
            f"SHA-256 of {text_file} differs from the one recorded for {sid}",
            ("sha256",),
            expected=recorded,
            found=source.sha256,
            hint="restore text.txt; if the recorded hash is wrong, set sha256 to the value found",
        )
    if source.text is None or source.problem:
        record.report("source-text-not-normalized", f"{text_file} {source.problem}", ("source_id",))
        return
    chars = values.get("characters")
    if isinstance(chars, int) and chars != len(source.text):
        record.report(
            "source-length-mismatch",
            f"{text_file} has {len(source.text)} code points",
            ("characters",),
            expected=str(chars),
            found=str(len(source.text)),
            hint=f"set characters: {len(source.text)}",
        )
