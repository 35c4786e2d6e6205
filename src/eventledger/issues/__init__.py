"""Issues: every problem found is a value, never an exception."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace

from eventledger.issues.catalog import Severity, lookup

PathPart = str | int
RecordPath = tuple[PathPart, ...]


@dataclass(frozen=True, order=True)
class Issue:
    """One problem at one place: file (repo-relative, POSIX), line and column (1-based, 0 = unknown)."""

    file: str
    line: int
    column: int
    code: str
    message: str
    path: RecordPath = ()
    expected: str | None = None
    found: str | None = None
    hint: str | None = None
    escalated: bool = False  # reported as an error: an option named by the catalog asked so

    @property
    def severity(self) -> Severity:
        return Severity.ERROR if self.escalated else lookup(self.code).severity

    @property
    def path_text(self) -> str:
        return format_path(self.path)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        del data["escalated"]  # the severity says it
        data["severity"] = str(self.severity)
        data["path"] = self.path_text
        return data


def format_path(path: RecordPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass
class IssueList:
    """Issues collected from every layer; one broken file never hides the errors in another."""

    items: list[Issue] = field(default_factory=list)

    def add(self, issue: Issue) -> None:
        lookup(issue.code)  # an unknown code is a programming error, not a data problem
        self.items.append(issue)

    def extend(self, issues: Iterable[Issue]) -> None:
        for issue in issues:
            self.add(issue)

    def escalate(self, option: str) -> None:
        """Report as errors the warnings whose catalog entry names option (escalated_by)."""
        self.items = [
            replace(i, escalated=True) if lookup(i.code).escalated_by == option else i
            for i in self.items
        ]

    def __iter__(self) -> Iterator[Issue]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def sorted(self) -> list[Issue]:
        return sorted(set(self.items))

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.items if i.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.items if i.severity is Severity.WARNING]


class IssuesError(Exception):
    """Work that cannot continue, with the data problems that stopped it (if any), so every
    caller can show them the same way."""

    def __init__(self, message: str, issues: list[Issue] | None = None, checked: int = 0) -> None:
        super().__init__(message)
        self.issues = issues or []
        self.checked = checked  # how many records (or files) were checked to find the issues
