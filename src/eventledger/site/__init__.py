"""The evidence browser: a static site and a SQLite copy of a release, built from plain rows."""

from eventledger.site.model import Sentence, SiteInput
from eventledger.site.render import render_site
from eventledger.site.sqlite import sqlite_bytes

__all__ = ["Sentence", "SiteInput", "render_site", "sqlite_bytes"]
