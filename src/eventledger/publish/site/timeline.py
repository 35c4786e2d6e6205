"""The timeline's geometry, computed at build time so the page needs no script to show it.

Axis: a broken, weighted year axis. The corpus runs from 1945 to 2023, but nearly all of its
day-precise events fall in two weeks of 2019 and 2023; on one linear axis those would be one
pixel apart and every decade-long interval would hide them. So each year that some event
overlaps gets a width growing with the logarithm of the number of events lying inside it
(a year with one event is narrow, 2019 is wide enough to tell its days apart), and each run
of years no event touches shrinks to a short, marked break. Within a year the scale is
linear, so lengths inside a year stay comparable and a year-precision event is a bar as wide
as its year. Marks are packed into rows (greedy, by start), so overlapping intervals never
cover each other and a point (a day) is drawn as a dot, anything longer as a bar.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

# Fixed colours per PLOVER type (from cooperation to conflict), dark enough for 3:1 contrast
# against the white page, so a reader learns them once for every release.
PALETTE = {
    "AGREE": "#1b7837",
    "CONSULT": "#2166ac",
    "SUPPORT": "#4d7a0f",
    "CONCEDE": "#01665e",
    "COOPERATE": "#2a7f78",
    "AID": "#762a83",
    "RETREAT": "#8c510a",
    "REQUEST": "#5e3c99",
    "ACCUSE": "#a84f05",
    "REJECT": "#c51b7d",
    "THREATEN": "#b8432f",
    "PROTEST": "#a50026",
    "SANCTION": "#7f3b08",
    "MOBILIZE": "#543005",
    "COERCE": "#b2182b",
    "ASSAULT": "#67001f",
}
OTHER = "#555555"
MIN_YEAR, PER_LOG, GAP = 16.0, 44.0, 22.0  # px: a year with one event, growth, a break
MAX_WIDTH = 2400.0  # px of axis; wider inputs are scaled down to fit
LEFT, TOP, ROW, RADIUS = 12.0, 40.0, 12.0, 4.0


class Span(NamedTuple):  # one per dated event: a named tuple is made in one C call
    event_id: str
    title: str
    label: str  # the date as shown in the table
    event_type: str
    start: dt.date
    end: dt.date
    precision: str
    draft: bool = False


@dataclass(frozen=True)
class TimelineMark:
    event_id: str
    title: str
    label: str
    colour: str
    event_type: str
    x: float
    y: float
    width: float  # 0 for a point
    draft: bool


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Timeline:
    width: float
    height: float
    axis_y: float
    ticks: list[Tick]
    breaks: list[Tick]  # label names the years left out
    marks: list[TimelineMark]
    legend: list[tuple[str, str]]


def _days(year: int) -> int:
    return 366 if dt.date(year, 12, 31).timetuple().tm_yday == 366 else 365


def layout(spans: Iterable[Span]) -> Timeline:
    items = sorted(spans, key=lambda s: (s.start, s.end, s.event_id))
    if not items:
        return Timeline(2 * LEFT, TOP + 2 * ROW, TOP, [], [], [], [])
    first = min(s.start.year for s in items)
    last = max(s.end.year for s in items)
    touched = [False] * (last - first + 1)
    inside = [0] * (last - first + 1)
    for s in items:
        for y in range(s.start.year, s.end.year + 1):
            touched[y - first] = True
        if s.start.year == s.end.year:
            inside[s.start.year - first] += 1
    widths = [
        MIN_YEAR + PER_LOG * math.log2(1 + n) if t else 0.0
        for t, n in zip(touched, inside, strict=True)
    ]
    gaps = sum(1 for i in range(len(touched)) if not touched[i] and (i == 0 or touched[i - 1]))
    scale = min(1.0, (MAX_WIDTH - GAP * gaps) / max(sum(widths), 1.0))
    widths = [w * scale for w in widths]
    total = sum(widths) + GAP * gaps
    offsets: list[float] = []
    ticks: list[Tick] = []
    breaks: list[Tick] = []
    x = LEFT
    last_label = -1e9
    i = 0
    while i < len(touched):
        if touched[i]:
            offsets.append(x)
            if x - last_label >= 34:
                ticks.append(Tick(x, str(first + i)))
                last_label = x
            x += widths[i]
            i += 1
            continue
        j = i
        while j < len(touched) and not touched[j]:
            offsets.append(x)
            j += 1
        years = str(first + i) if j - i == 1 else f"{first + i}–{first + j - 1}"
        breaks.append(Tick(x + GAP / 2, years))
        x += GAP
        i = j

    def at(day: dt.date, inclusive_end: bool = False) -> float:
        k = day.year - first
        doy = day.timetuple().tm_yday - (0 if inclusive_end else 1)
        return offsets[k] + widths[k] * doy / _days(day.year)

    lanes: list[tuple[float, int]] = []  # (x where the lane is free again, lane number)
    marks: list[TimelineMark] = []
    rows = 0
    for s in items:
        x0 = at(s.start)
        point = s.precision == "day" and s.start == s.end
        x1 = x0 if point else max(at(s.end, inclusive_end=True), x0 + 2.0)
        lo, hi = x0 - RADIUS - 1, max(x1, x0 + RADIUS) + 2
        if lanes and lanes[0][0] <= lo:
            _, lane = heapq.heappop(lanes)
        else:
            lane, rows = rows, rows + 1
        heapq.heappush(lanes, (hi, lane))
        colour = PALETTE.get(s.event_type, OTHER)
        marks.append(
            TimelineMark(
                s.event_id,
                s.title,
                s.label,
                colour,
                s.event_type,
                round(x0, 2),
                TOP + ROW * lane + ROW / 2,
                0.0 if point else round(x1 - x0, 2),
                s.draft,
            )
        )
    order = {t: k for k, t in enumerate(PALETTE)}  # the legend runs from cooperation to conflict
    types = sorted({s.event_type for s in items}, key=lambda t: (order.get(t, len(order)), t))
    legend = [(t, PALETTE.get(t, OTHER)) for t in types]
    return Timeline(
        width=round(total + 2 * LEFT, 2),
        height=TOP + ROW * rows + 8,
        axis_y=TOP - 14,
        ticks=[Tick(round(t.x, 2), t.label) for t in ticks],
        breaks=[Tick(round(b.x, 2), b.label) for b in breaks],
        marks=marks,
        legend=legend,
    )


# Above this many marks the picture stops being readable (100k marks are 37 MB of SVG that a
# browser takes seconds to lay out), so the page draws counts instead: per year, per type.
MAX_MARKS = 2000
BAND_WIDTH, BAND_GAP, BAND_HEIGHT = 14.0, 4.0, 220.0


@dataclass(frozen=True)
class Band:
    """One type's share of one year: `count` events whose interval touches the year."""

    year: int
    event_type: str
    type_index: int  # the position of the type in the table's filter, for the link
    count: int
    colour: str
    x: float
    y: float
    height: float


@dataclass(frozen=True)
class Bands:
    width: float
    height: float
    axis_y: float
    ticks: list[Tick]
    bands: list[Band]
    legend: list[tuple[str, str]]
    total: int
    peak: int  # the most events touching one year: the scale of the columns


def bands(spans: Iterable[Span], types: list[str]) -> Bands:
    """Counts of events per year and type as stacked columns, one per year from the first to
    the last (a year counts every event whose interval touches it, as the table's year filter
    does, so a column's link shows exactly the events it counts)."""
    counts: dict[tuple[int, str], int] = {}
    total = 0
    for s in spans:
        total += 1
        for y in range(s.start.year, s.end.year + 1):
            counts[(y, s.event_type)] = counts.get((y, s.event_type), 0) + 1
    order = {t: k for k, t in enumerate(PALETTE)}
    present = sorted({t for _, t in counts}, key=lambda t: (order.get(t, len(order)), t))
    legend = [(t, PALETTE.get(t, OTHER)) for t in present]
    if not counts:
        return Bands(2 * LEFT, TOP + 2 * ROW, TOP, [], [], legend, 0, 0)
    first = min(y for y, _ in counts)
    last = max(y for y, _ in counts)
    per_year: dict[int, int] = {}
    for (y, _), c in counts.items():
        per_year[y] = per_year.get(y, 0) + c
    peak = max(per_year.values())
    base = TOP + BAND_HEIGHT
    type_index = {t: k for k, t in enumerate(types)}
    out: list[Band] = []
    ticks: list[Tick] = []
    for y in range(first, last + 1):
        x = LEFT + (y - first) * (BAND_WIDTH + BAND_GAP)
        if y % 10 == 0 or y == first:
            ticks.append(Tick(round(x, 2), str(y)))
        top = base
        for t in present:
            c = counts.get((y, t), 0)
            if not c:
                continue
            h = BAND_HEIGHT * c / peak
            top -= h
            colour = PALETTE.get(t, OTHER)
            out.append(
                Band(
                    y, t, type_index.get(t, -1), c, colour, round(x, 2), round(top, 2), round(h, 2)
                )
            )
    width = LEFT * 2 + (last - first + 1) * (BAND_WIDTH + BAND_GAP)
    return Bands(round(width, 2), base + 24, base, ticks, out, legend, total, peak)
