"""Which pages a pager links: every one while they are few, a logarithmic few beyond.

A pager on each of the events table's static pages once linked every page: 500 pages of
links on each of 500 pages at 100,000 events, and 5,000 on each of 5,000 (25 million links,
over a gigabyte) at a million. Beyond FULL pages a pager links the first and the last page,
two on either side, and the pages 10, 100, 1,000 ... away either way: a few dozen links at
most, and any page a few clicks from any other (tests/test_site.py walks them).
"""

from __future__ import annotations

FULL = 50  # up to this many pages, every one is linked (10,000 events of the events table)
NEAR = 2


def pager_links(pages: int, number: int) -> list[int | None]:
    """The page numbers the pager of page number (of pages) links, in order; None where
    numbers are left out between two links."""
    if pages <= FULL:
        return list(range(1, pages + 1))
    shown = {1, pages, *range(max(1, number - NEAR), min(pages, number + NEAR) + 1)}
    step = 10
    while step < pages:
        shown.update(n for n in (number - step, number + step) if 1 <= n <= pages)
        step *= 10
    links: list[int | None] = []
    before = 0
    for n in sorted(shown):
        if n > before + 1:
            links.append(None)
        links.append(n)
        before = n
    return links
