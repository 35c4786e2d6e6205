"""Strict YAML: libyaml's parser, our own constructor.

We walk libyaml's event stream instead of letting PyYAML construct objects, because
that is the only place where every rule can be enforced before anything is built:
scalars stay strings (no dates, no booleans, no Norway problem), anchors and aliases
are refused at the first alias (nothing is ever expanded, so an alias bomb costs
nothing), tags are refused, duplicate keys are seen, depth is capped without
recursion, and the line and column of every key and list item are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from eventledger.issues import Issue, RecordPath
from eventledger.issues.excerpt import (
    BIDI_CONTROLS,
    FORBIDDEN,
    FORBIDDEN_OR_BIDI,
    HIDDEN_LINE_BREAKS,
    ODD_SPACES,
    REFUSED_RAW,
    char_name,
    escape_char,
    is_invisible,
)
from eventledger.syntax.positions import line_of

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 20
# A file full of control characters gets this many issues, not one per character.
MAX_CHARACTER_ISSUES = 10
# The one field whose text must equal the source's, bidirectional controls included
# (written as escapes, so a reviewer sees them).
_VERBATIM_KEYS = frozenset({"quote"})

Position = tuple[int, int]  # 1-based line and column

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
# YAML 1.1 booleans: what PyYAML, Ruby and many editors turn into true/false.
_BOOLEANS = frozenset(
    [
        "y",
        "Y",
        "yes",
        "Yes",
        "YES",
        "n",
        "N",
        "no",
        "No",
        "NO",
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "FALSE",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
    ]
)

try:  # libyaml is ten times faster; the pure-Python parser produces the same events.
    _Loader: Any = yaml.CBaseLoader
except AttributeError:  # pragma: no cover - only on a PyYAML built without libyaml
    _Loader = yaml.BaseLoader


@dataclass
class Document:
    """A parsed record: plain data plus where each key and item stands in the file."""

    data: Any
    positions: dict[RecordPath, Position] = field(default_factory=dict)

    def position(self, path: RecordPath) -> Position:
        """Position of path, or of its nearest ancestor that has one."""
        while path not in self.positions and path:
            path = path[:-1]
        return self.positions.get(path, (1, 1))


def _issue(file: str, code: str, message: str, line: int = 1, column: int = 1, **kw: Any) -> Issue:
    return Issue(file=file, line=line, column=column, code=code, message=message, **kw)


def too_large(file: str, size: int, max_bytes: int = MAX_BYTES) -> Issue:
    """The issue of a record file over the size cap (read or not)."""
    return _issue(
        file,
        "file-too-large",
        f"file is {size:,} bytes; the cap is {max_bytes:,}",
        expected=f"at most {max_bytes} bytes",
        found=f"{size} bytes",
    )


def decode(raw: bytes, file: str, *, max_bytes: int = MAX_BYTES) -> tuple[str | None, list[Issue]]:
    """Check the bytes of a record file; return its text (LF, no BOM) or None when unreadable."""
    issues: list[Issue] = []
    if len(raw) > max_bytes:
        return None, [too_large(file, len(raw), max_bytes)]
    nul = raw.find(b"\x00")
    if nul >= 0:
        issues.append(_issue(file, "nul-byte", "file contains a NUL byte", line_of(raw, nul)))
        return None, issues
    if raw.startswith(b"\xef\xbb\xbf"):
        issues.append(
            _issue(
                file,
                "byte-order-mark",
                "file starts with a UTF-8 byte-order mark",
                hint="re-save as UTF-8 without BOM",
            )
        )
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = line_of(raw, err.start)
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        bad = raw[err.start : err.end].hex(" ")
        issues.append(
            _issue(
                file,
                "invalid-utf8",
                f"bytes {bad} are not valid UTF-8",
                line,
                column,
                found=bad,
                expected="UTF-8",
            )
        )
        return None, issues
    crlf = text.find("\r\n")
    if crlf >= 0:
        issues.append(
            _issue(
                file,
                "crlf-line-endings",
                "file uses CR LF line endings",
                line_of(text, crlf),
                hint="convert to LF (dos2unix FILE)",
            )
        )
        text = text.replace("\r\n", "\n")
    characters = _characters(text, file)
    if "\t" in text:
        for n, row in enumerate(text.split("\n"), 1):
            if "\t" in row:
                issues.append(
                    _issue(
                        file,
                        "tab-character",
                        "tab character",
                        n,
                        row.index("\t") + 1,
                        hint="indent with spaces; write \\t inside a double-quoted string",
                    )
                )
        return None, issues + characters
    if characters:
        return None, issues + characters
    return text, issues


# Why each kind of character is refused, and what to do: (message, hint).
_CHARACTER_TEXT = {
    "hidden-line-break": (
        "YAML reads a line break here that git, editors and diff views do not show",
        "delete it; break lines with LF only",
    ),
    "bidi-control": (
        "it reorders how the line is displayed, so a reviewer does not see what is read",
        "delete it; in a quote that must keep it, write the escape {escape} inside a "
        "double-quoted string",
    ),
    "control-character": (
        "it is invisible in review and no table format can carry it",
        "delete it (an editor that shows invisible characters helps)",
    ),
    "non-ascii-space": (
        "it looks like a space, but YAML does not read it as one: a '#' or a 'key:' after it "
        "is read as text",
        "replace it with a plain space; where it belongs in the text, write the escape "
        "{escape} inside a double-quoted string",
    ),
    "invisible-character": (
        "it shows as nothing in git, editors and diff views, so a reviewer does not see "
        "what is read",
        "delete it; where it belongs in the text, write the escape {escape} inside a "
        "double-quoted string",
    ),
}


def _character_code(char: str) -> str:
    if char in HIDDEN_LINE_BREAKS:
        return "hidden-line-break"
    if char in BIDI_CONTROLS:
        return "bidi-control"
    if char in ODD_SPACES:
        return "non-ascii-space"
    return "control-character" if FORBIDDEN.match(char) else "invisible-character"


def _characters(text: str, file: str) -> list[Issue]:
    """Characters that make what YAML reads differ from what git, a diff view or a reviewer
    shows: hidden line breaks (a key after '# comment' + NEL is a key to YAML and a comment
    to everyone else), raw controls, bidirectional controls, spaces that are not U+0020 (a
    '#' after a no-break space is text to YAML and a comment to a reviewer) and invisible
    characters (zero-width, tag characters). Named with their line."""
    if REFUSED_RAW.search(text) is None:  # the common case: one scan, nothing found
        return []
    issues: list[Issue] = []
    line, counted, last_line = 1, 0, 0
    for match in REFUSED_RAW.finditer(text):
        at = match.start()
        line += text.count("\n", counted, at)  # counted on from the last match: linear
        counted = at
        if line == last_line:
            continue
        last_line = line
        if len(issues) == MAX_CHARACTER_ISSUES:
            break
        char = match.group()
        code = _character_code(char)
        why, hint = _CHARACTER_TEXT[code]
        issues.append(
            _issue(
                file,
                code,
                f"{char_name(char)}: {why}",
                line,
                at - (text.rfind("\n", 0, at) + 1) + 1,
                found=escape_char(char),
                hint=hint.format(escape=escape_char(char)),
            )
        )
    return issues


def parse(
    text: str, file: str, positions: bool = True, *, decoded: bool = False
) -> tuple[Document | None, list[Issue]]:
    """Build a Document from YAML text, reporting every rule it breaks. With positions
    False, the Document knows where no key or item stands (a clean file never needs to:
    most of a parse is spent recording them); the issues of the parse itself are placed.
    decoded: text is what decode() gave, so it holds no character the line reader refuses."""
    doc = _canonical(text, positions, decoded)
    if doc is None and _COMPOSER is not None:
        doc = _compose(text, positions)
    if doc is not None:
        return doc, []
    return _strict(text, file, positions)


# The fast path. Most files are clean, and for a clean file libyaml can build the whole
# node tree in C (PyYAML's compiled composer) at about half the cost of handing every event
# to Python; one walk over the nodes then builds the data. It is taken only where it cannot
# differ from the event loop below: it refuses (returns None, and the event loop reads the
# file and reports) every file in which any rule could be broken, so it never reports.
# - No anchor, alias or tag can be written without '&', '*' or '!': files holding any of
#   these characters (anywhere, comments included) go to the event loop, which refuses an
#   alias before anything is expanded. The composer shares an aliased node instead of
#   copying it, but never sees one here.
# - The compiled composer recurses once per nesting level in C: 100,000 nested '[' crash
#   the process. Every collection needs an indicator of its own (':' '-' '?' '[' '{'), so
#   their count bounds the depth; over _COMPOSE_INDICATORS the composer is not called.
#   The walk caps the depth at MAX_DEPTH like the event loop.
# - Duplicate keys, keys that are not strings, YAML 1.1 booleans, escapes of refused
#   characters, a second document, an empty file, a top level that is not a collection:
#   the walk or the composer gives up and the event loop reports them.
_COMPOSE_INDICATORS = 1000
_PLAIN = "plain"  # the tag our resolver gives a plain scalar (nothing else has a tag)


class _Unusual(Exception):
    """Something the event loop has to look at (raised only inside the walk)."""


_COMPOSER: Any = None
_NOTHING: dict[Any, Any] = {}
if hasattr(yaml, "CBaseLoader"):

    class _Composer(yaml.CBaseLoader):
        """libyaml's compiled parser and composer. Our resolver only marks plain scalars:
        nothing is typed, and implicit is a pair for scalars, a bool for collections."""

        def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
            return _PLAIN if kind is yaml.ScalarNode and implicit[0] else ""

        # Path resolvers (which we have none of) are told of every node as it is entered
        # and left: two Python calls a node. Builtins that accept the same arguments and do
        # nothing cost a tenth of the parse less.
        descend_resolver = staticmethod(_NOTHING.get)  # type: ignore[assignment]
        ascend_resolver = staticmethod(tuple)  # type: ignore[assignment]

    _COMPOSER = _Composer


def _compose(text: str, positions: bool) -> Document | None:
    """The Document of a file that breaks no rule, or None to let the event loop decide."""
    if "&" in text or "*" in text or "!" in text:
        return None
    indicators = (
        text.count(":") + text.count("-") + text.count("[") + text.count("{") + text.count("?")
    )
    if indicators > _COMPOSE_INDICATORS:
        return None
    loader = _COMPOSER(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    if root is None or type(root) is yaml.ScalarNode:
        return None
    mark = root.start_mark
    found: dict[RecordPath, Position] = {(): (mark.line + 1, mark.column + 1)}
    try:
        data = _placed(root, 0, (), found) if positions else _walk(root, 0)
    except _Unusual:
        return None
    return Document(data, found)


def _key(node: Any) -> str:
    if type(node) is not yaml.ScalarNode:
        raise _Unusual
    key: str = node.value
    if node.tag is _PLAIN:
        if key in _NULLS or key in _BOOLEANS:
            raise _Unusual
    elif node.style == '"' and FORBIDDEN_OR_BIDI.search(key):
        raise _Unusual
    return key


def _walk(node: Any, depth: int) -> Any:
    """The data of a node below the top level, positions not recorded."""
    kind = type(node)
    if kind is yaml.ScalarNode:
        value = node.value
        if node.tag is _PLAIN:
            if value in _NULLS:
                return None
            if value in _BOOLEANS:
                raise _Unusual
        elif node.style == '"' and FORBIDDEN_OR_BIDI.search(value):
            raise _Unusual
        return value
    if depth >= MAX_DEPTH:
        raise _Unusual
    depth += 1
    if kind is yaml.MappingNode:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _key(key_node)
            if key in out:
                raise _Unusual
            if type(value_node) is not yaml.ScalarNode:
                out[key] = _walk(value_node, depth)
                continue
            # Most values are scalars: the scalar case of _walk, inline (a call saved each).
            value = value_node.value
            if value_node.tag is _PLAIN:
                if value in _NULLS:
                    value = None
                elif value in _BOOLEANS:
                    raise _Unusual
            elif value_node.style == '"' and FORBIDDEN_OR_BIDI.search(value):
                raise _Unusual
            out[key] = value
        return out
    return [_walk(item, depth) for item in node.value]


def _placed(node: Any, depth: int, path: RecordPath, found: dict[RecordPath, Position]) -> Any:
    """The data of a node at path, recording where each key and item stands as the event
    loop does: a mapping entry at its key, a list item at the item."""
    if type(node) is yaml.ScalarNode:
        return _walk(node, depth)
    if depth >= MAX_DEPTH:
        raise _Unusual
    depth += 1
    if type(node) is yaml.MappingNode:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _key(key_node)
            if key in out:
                raise _Unusual
            entry = (*path, key)
            mark = key_node.start_mark
            found[entry] = (mark.line + 1, mark.column + 1)
            out[key] = _placed(value_node, depth, entry, found)
        return out
    items: list[Any] = []
    for i, item in enumerate(node.value):
        entry = (*path, i)
        mark = item.start_mark
        found[entry] = (mark.line + 1, mark.column + 1)
        items.append(_placed(item, depth, entry, found))
    return items


# The canonical form. Records written from the template or by `eventledger new` hold one
# key or list item a line: `key: value`, `key:` over a nested block, `- key: value`,
# `- value`, with plain, single-line quoted or flat flow-list values. A line reader is three
# times faster than libyaml on them. It takes a file only when every line is of that form
# and every value one whose meaning is beyond doubt; on anything else (a multi-line
# scalar, an escape, a comment after a value, an indentation that is not exactly a level,
# a key or value that breaks a rule) it gives up and the file goes to the composer or the
# event loop. A differential test holds it to the event loop's reading.
_DOUBLE = re.compile(r'"[^"\\]*"')
_SINGLE = re.compile(r"'(?:[^']|'')*'")
_FLOW_ITEM = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_FLOW = re.compile(rf"\[(?:{_FLOW_ITEM}(?:, {_FLOW_ITEM})*)?\]")
# What libyaml reads as printable, less the byte-order mark and CR (a line break of its own).
_NOT_PLAIN_TEXT = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_PLAIN_START = frozenset("-?:,[]{}#&*!|>'\"%@` ")
# libyaml refuses an implicit key longer than 1024 characters ("could not find expected
# ':'"); a longer key is left to it, so the line reader never takes a file libyaml refuses.
_SIMPLE_KEY_LIMIT = 1024
_MAP, _SEQ = 0, 1


def _canonical_value(
    value: str, line: int, column: int, path: RecordPath, found: dict[RecordPath, Position] | None
) -> Any:
    """The value written at column (1-based) of line; raises _Unusual unless canonical."""
    first = value[0] if value else " "
    if first == '"':
        if _DOUBLE.fullmatch(value) is None:
            raise _Unusual
        return value[1:-1]
    if first == "'":
        if _SINGLE.fullmatch(value) is None:
            raise _Unusual
        return value[1:-1].replace("''", "'")
    if first == "[":
        if _FLOW.fullmatch(value) is None:
            raise _Unusual
        items: list[Any] = []
        if value == "[]":
            return items
        at = column + 1
        for i, item in enumerate(value[1:-1].split(", ")):
            if item in _BOOLEANS:
                raise _Unusual
            if found is not None:
                found[(*path, i)] = (line, at)
            items.append(None if item in _NULLS else item)
            at += len(item) + 2
        return items
    if (
        first in _PLAIN_START
        or value[-1] == " "
        or value[-1] == ":"
        or ": " in value
        or " #" in value
        or value in _BOOLEANS
    ):
        raise _Unusual
    return None if value in _NULLS else value


def _canonical(text: str, positions: bool, decoded: bool = False) -> Document | None:
    """The Document of a file in the canonical form that breaks no rule, or None. decoded:
    text came from decode(), which refuses every character this scan looks for (a CR, a tab
    and what REFUSED_RAW names: tests/test_strict_yaml_fast.py checks each code point), so
    the scan is skipped; it was a seventh of this function's time.

    Without positions (every clean file: they are looked for only once a record has issues
    to place) no field path, line or column is worked out. One scan of the text finds the
    lines: a split, a strip and a regular expression per line were half of the time."""
    if not decoded and ("\r" in text or _NOT_PLAIN_TEXT.search(text) is not None):
        return None
    found: dict[RecordPath, Position] | None = {} if positions else None
    root: dict[str, Any] = {}
    stack: list[list[Any]] = []  # frames: [_MAP or _SEQ, indent, container, path]
    pending: tuple[dict[str, Any], int, str, RecordPath, Position] | None = None
    start: Position = (1, 1)
    number, counted = 1, 0  # the line of counted, the last line start counted to
    path: RecordPath = ()
    at: Position = (0, 0)
    try:
        for match in _CANONICAL_LINES.finditer(text):
            spaces, dash, key, value, item = match.groups()
            # A blank line or a comment: the last alternative took it whole.
            if key is None and dash is None and (not item or item[0] == "#"):
                continue
            indent = len(spaces)
            if found is not None or not stack:
                number += text.count("\n", counted, match.start())
                counted = match.start()
            if not stack:  # the first line of content opens the top-level mapping
                if indent or dash or key is None:
                    return None
                stack.append([_MAP, 0, root, ()])
                start = (number, 1)
            if pending is not None:  # a key written without a value: what follows says which
                mapping, level, name, path, at = pending
                pending = None
                child: Any = None
                if dash is None and key is not None and indent > level:
                    child = {}
                    stack.append([_MAP, indent, child, path])
                elif dash is not None and indent >= level:
                    child = []
                    stack.append([_SEQ, indent, child, path])
                mapping[name] = child
                if found is not None:
                    found[path] = at
                if len(stack) > MAX_DEPTH // 2:
                    return None
            while stack[-1][1] > indent:
                stack.pop()
                if not stack:
                    return None
            top = stack[-1]
            if dash is not None:
                if top[0] != _SEQ or top[1] != indent:
                    return None
                if found is not None:
                    path = (*top[3], len(top[2]))
                    found[path] = (number, indent + 3)
                if key is None:
                    top[2].append(_canonical_value(item, number, indent + 3, path, found))
                    continue
                top = [_MAP, indent + 2, {}, path]
                stack[-1][2].append(top[2])
                stack.append(top)
                indent += 2
                if len(stack) > MAX_DEPTH // 2:
                    return None
            elif top[0] == _SEQ and top[1] == indent:  # a list at its key's indent ends
                stack.pop()
                if not stack:
                    return None
                top = stack[-1]
            if key is None or top[0] != _MAP or top[1] != indent:
                return None
            mapping = top[2]
            if key in mapping or key in _NULLS or key in _BOOLEANS or len(key) > _SIMPLE_KEY_LIMIT:
                return None
            if found is not None:
                path = (*top[3], key)
                at = (number, indent + 1)
            if value is None:
                pending = (mapping, indent, key, path, at)
                continue
            if found is not None:
                found[path] = at
            mapping[key] = _canonical_value(value, number, indent + len(key) + 3, path, found)
    except _Unusual:
        return None
    if not stack:
        return None
    if pending is not None:
        mapping, _, name, path, at = pending
        mapping[name] = None
        if found is not None:
            found[path] = at
    placed: dict[RecordPath, Position] = {(): start}
    if found is not None:
        placed.update(found)
    return Document(root, placed)


# The lines of the canonical form, found by one scan of a file's text: `^` and `$` hold at
# "\n" only, as the file's lines are split, and `.` takes every other character.
_CANONICAL_LINES = re.compile(r"^( *)(- )?(?:([a-z_][a-z0-9_]*):(?: (.*))?|(.*))$", re.MULTILINE)


def _strict(text: str, file: str, positions: bool) -> tuple[Document | None, list[Issue]]:
    """The event loop: every rule checked and reported, event by event."""
    issues: list[Issue] = []
    doc = Document(data=None)
    stack: list[list[Any]] = []  # frames: [container, path, pending_key, key_position, seen_keys]
    documents = 0
    root_set = False

    def here(event: Any) -> Position:
        return (event.start_mark.line + 1, event.start_mark.column + 1)

    def report(code: str, message: str, event: Any, **kw: Any) -> None:
        line, column = here(event)
        issues.append(_issue(file, code, message, line, column, **kw))

    def attach(value: Any, event: Any) -> RecordPath | None:
        """Put value into the current container; return its path (None when it is dropped)."""
        nonlocal root_set
        if not stack:
            doc.data = value
            root_set = True
            doc.positions[()] = here(event)
            return ()
        frame = stack[-1]
        container, path = frame[0], frame[1]
        if isinstance(container, list):
            item_path = (*path, len(container))
            container.append(value)
            if positions:
                doc.positions[item_path] = here(event)
            return item_path
        key = frame[2]
        if key is None:  # this value is a key
            if not isinstance(value, str):
                report("yaml-syntax", "a mapping key must be a plain string", event)
                frame[2] = _DROP
                return None
            if value in frame[4]:
                first = frame[4][value]
                report(
                    "duplicate-key",
                    f"key '{value}' appears twice (first on line {first})",
                    event,
                    path=(*path, value),
                    hint=f"delete one of the two '{value}' keys",
                )
                frame[2] = _DROP
            else:
                frame[4][value] = here(event)[0]
                frame[2] = value
                if positions:
                    frame[3] = here(event)
            return None
        frame[2] = None
        if key is _DROP:
            return None
        entry_path = (*path, key)
        container[key] = value
        if positions:
            doc.positions[entry_path] = frame[3]
        return entry_path

    def escaped(value: str, event: Any, path: RecordPath | None, key: Any) -> None:
        pattern = FORBIDDEN if key in _VERBATIM_KEYS else FORBIDDEN_OR_BIDI
        match = pattern.search(value)
        if match is None:
            return
        char = match.group()
        code = _character_code(char)
        report(
            "bidi-control" if code == "bidi-control" else "control-character",
            f"the escape {escape_char(char)} writes {char_name(char)}, which "
            + (
                "reorders how the text is displayed"
                if code == "bidi-control"
                else "no table format of a release can carry"
            ),
            event,
            path=path if path is not None else (),
            found=escape_char(char),
            hint="delete the escape",
        )

    try:
        events: Any = yaml.parse(text, Loader=_Loader)
        for event in events:
            kind = type(event)
            if kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    report(
                        "multiple-documents",
                        "a second YAML document starts here",
                        event,
                        hint="one record per file",
                    )
                    return None, issues
                continue
            if kind is yaml.AliasEvent:
                report(
                    "yaml-anchor",
                    f"alias *{event.anchor} is not allowed; nothing was expanded",
                    event,
                    hint="write the value out in full",
                )
                return None, issues
            anchor = getattr(event, "anchor", None)
            if anchor is not None:
                report(
                    "yaml-anchor",
                    f"anchor &{anchor} is not allowed",
                    event,
                    hint="remove the anchor; write repeated values out in full",
                )
            tag = getattr(event, "tag", None)
            if tag is not None and tag != "!" and kind is not yaml.MappingEndEvent:
                report(
                    "yaml-tag",
                    f"tag {tag} is not allowed",
                    event,
                    found=tag,
                    hint="remove the tag; quote the value if it must stay a string",
                )
            if kind is yaml.ScalarEvent:
                value: Any = event.value
                plain = not event.style and event.implicit[0]
                if plain and value in _NULLS:
                    value = None
                in_mapping = bool(stack) and isinstance(stack[-1][0], dict)
                key = stack[-1][2] if in_mapping else None
                path = attach(value, event)
                if in_mapping and key is None and plain and value in _BOOLEANS:
                    # A key: YAML 1.1 readers make `on:` the key True, not the string "on".
                    report(
                        "implicit-boolean",
                        f"unquoted key {value} is a boolean to YAML 1.1 readers",
                        event,
                        path=(*stack[-1][1], value),
                        found=value,
                        hint=f'quote the key: "{value}":',
                    )
                # Raw characters were refused with the file; only escapes bring them here.
                if event.style == '"':
                    escaped(value, event, path, key)
                if plain and path is not None and path != () and value in _BOOLEANS:
                    report(
                        "implicit-boolean",
                        f"unquoted {value} is a boolean to YAML 1.1 readers",
                        event,
                        path=path,
                        found=value,
                        hint=f'quote it: "{value}"',
                    )
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if len(stack) >= MAX_DEPTH:
                    report(
                        "nesting-too-deep",
                        f"nesting deeper than {MAX_DEPTH} levels",
                        event,
                        expected=f"at most {MAX_DEPTH} levels",
                    )
                    return None, issues
                container: Any = {} if kind is yaml.MappingStartEvent else []
                path = attach(container, event)
                stack.append(
                    [container, path if path is not None else ("<dropped>",), None, (0, 0), {}]
                )
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                stack.pop()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = " ".join(p for p in (err.context, err.problem) if p)
        issues.append(_issue(file, "yaml-syntax", problem or "invalid YAML", line, column))
        return None, issues
    except yaml.YAMLError as err:  # pragma: no cover - libyaml reports marks for all we know
        issues.append(_issue(file, "yaml-syntax", str(err)))
        return None, issues
    if not root_set:
        issues.append(
            _issue(
                file,
                "file-empty",
                "the file holds no YAML document",
                hint="fill it from the template: eventledger new event",
            )
        )
        return None, issues
    return doc, issues


class _Drop:
    """Marks a key whose value is to be read and thrown away (a duplicate or a bad key)."""


_DROP: Any = _Drop()


def load(
    raw: bytes, file: str, *, max_bytes: int = MAX_BYTES, positions: bool = True
) -> tuple[Document | None, list[Issue]]:
    """Read one record file from its bytes. Never raises on bad data."""
    text, issues = decode(raw, file, max_bytes=max_bytes)
    if text is None:
        return None, issues
    doc, more = parse(text, file, positions, decoded=True)
    return doc, issues + more


_SHORT_ESCAPES = {"\\": "\\\\", '"': '\\"'}


def _escape(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    # Invisible characters are written as escapes: in a record they are invisible to a
    # reviewer, so the file must show them.
    return escape_char(char) if is_invisible(char) else char


def double_quoted(text: str) -> str:
    """text as a YAML double-quoted scalar that reads back as text, invisible characters escaped."""
    return '"' + "".join(_escape(c) for c in text) + '"'
