"""The one way to pause Python's garbage collector around work that makes no cycles.

Reading records, re-checking a few of them and rendering the site each allocate millions of
objects that stay alive, or die by reference count, while the collector's full passes walk
all of them and free nothing: a sixth to a quarter of those runs at 100k events.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def paused(*, freeze: bool = False) -> Iterator[None]:
    """No collection inside; then, with freeze, what is alive is moved where later
    collections do not scan it (it stays for the rest of the run). The collector is
    switched on again only if it was on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()
