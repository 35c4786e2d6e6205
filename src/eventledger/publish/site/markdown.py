"""A small, safe Markdown reader for CODEBOOK.md and CHANGES.md.

It turns text into blocks and inline pieces, and the templates turn those into HTML with
autoescaping (the inline pieces by inline_html, escaped as autoescaping does), so no markup
written in the Markdown ever reaches the page as markup. It reads
the subset our generated files use (ATX headings, paragraphs, lists, pipe tables, fenced
code, `code`, **strong**, *em*, [links](...)); anything else stays visible as text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup

from eventledger.publish.site.skeleton import text as escape

# (kind, text, href): kind is text, code, strong, em or link; href only for links.
Inline = tuple[str, str, str]

_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*|\[([^\]]+)\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^\s*(?:([-*+])|([0-9]+)[.)])\s+(.*)$")
_SAFE_HREF = re.compile(r"^(?:https?://|#|\.{0,2}/|[A-Za-z0-9_.-]+(?:/|\.html|#|$))")


@dataclass
class Block:
    kind: str  # heading, paragraph, list, table, code
    level: int = 0  # heading level; 1 for an ordered list
    anchor: str = ""
    inlines: list[Inline] = field(default_factory=list)
    items: list[list[Inline]] = field(default_factory=list)  # list items
    header: list[list[Inline]] = field(default_factory=list)
    rows: list[list[list[Inline]]] = field(default_factory=list)
    text: str = ""  # code


def slug(text: str) -> str:
    """GitHub's heading anchors, so links such as (#vocabulary-event_type) keep working."""
    plain = re.sub(r"[^\w\- ]", "", text.lower())
    return plain.replace(" ", "-")


def inlines(text: str) -> list[Inline]:
    out: list[Inline] = []
    pos = 0
    for m in _INLINE.finditer(text):
        if m.start() > pos:
            out.append(("text", text[pos : m.start()], ""))
        if m.group(1) is not None:
            out.append(("code", m.group(1), ""))
        elif m.group(2) is not None:
            out.append(("strong", m.group(2), ""))
        elif m.group(3) is not None:
            out.append(("em", m.group(3), ""))
        elif _SAFE_HREF.match(m.group(5)):
            out.append(("link", m.group(4), m.group(5)))
        else:  # javascript: and other schemes stay text
            out.append(("text", m.group(0), ""))
        pos = m.end()
    if pos < len(text):
        out.append(("text", text[pos:], ""))
    return out


def inline_html(pieces: Sequence[Inline]) -> Markup:
    """Inline pieces as HTML, each text and link escaped as Jinja's autoescaping escapes them
    (skeleton.text, which makes a str where markupsafe.escape made a Markup object). Written
    here rather than as a template macro: the CHANGES.md of a first release lists every
    record, and a Jinja macro call per list item was most of that page's time."""
    out: list[str] = []
    for kind, text, href in pieces:
        if kind == "link":
            out.append(f'<a href="{escape(href)}">{escape(text)}</a>')
        elif kind == "code" or kind == "strong" or kind == "em":
            out.append(f"<{kind}>{escape(text)}</{kind}>")
        else:
            out.append(escape(text))
    return Markup("".join(out))  # noqa: S704 - every text escaped above


def _plain(text: str) -> str:
    return "".join(piece[1] for piece in inlines(text))


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)]


def _is_rule(line: str) -> bool:
    return bool(re.fullmatch(r"\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*", line))


def parse(text: str) -> list[Block]:
    lines = text.replace("\r\n", "\n").split("\n")
    blocks: list[Block] = []
    anchors: dict[str, int] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            blocks.append(Block("code", text="\n".join(lines[i + 1 : j])))
            i = j + 1
            continue
        heading = _HEADING.match(line)
        if heading:
            title = heading.group(2)
            anchor = slug(_plain(title))
            seen = anchors.get(anchor, 0)
            anchors[anchor] = seen + 1
            if seen:
                anchor = f"{anchor}-{seen}"
            blocks.append(
                Block("heading", level=len(heading.group(1)), anchor=anchor, inlines=inlines(title))
            )
            i += 1
            continue
        if line.lstrip().startswith("|") and i + 1 < len(lines) and _is_rule(lines[i + 1]):
            header = [inlines(c) for c in _cells(line)]
            rows = []
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append([inlines(c) for c in _cells(lines[i])])
                i += 1
            blocks.append(Block("table", header=header, rows=rows))
            continue
        item = _ITEM.match(line)
        if item:
            ordered = item.group(2) is not None
            items: list[str] = []
            while i < len(lines) and lines[i].strip():
                m = _ITEM.match(lines[i])
                if m and (m.group(2) is not None) == ordered:
                    items.append(m.group(3))
                elif items:  # a continuation line of the item above
                    items[-1] += " " + lines[i].strip()
                i += 1
            blocks.append(
                Block("list", level=1 if ordered else 0, items=[inlines(t) for t in items])
            )
            continue
        para = [line.strip()]
        i += 1
        while (
            i < len(lines)
            and lines[i].strip()
            and not _HEADING.match(lines[i])
            and not _ITEM.match(lines[i])
            and not lines[i].startswith("```")
            and not lines[i].lstrip().startswith("|")
        ):
            para.append(lines[i].strip())
            i += 1
        blocks.append(Block("paragraph", inlines=inlines(" ".join(para))))
    return blocks
