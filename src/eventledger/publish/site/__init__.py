"""The evidence browser: a static site and a SQLite copy of a release, built from plain rows."""

from eventledger.publish.site.model import Sentence, SiteInput
from eventledger.publish.site.render import render_site
from eventledger.publish.site.sqlite import sqlite_bytes

__all__ = ["Sentence", "SiteInput", "render_site", "sqlite_bytes"]
