"""Text patterns the tool applies in more than one place, defined once."""

from __future__ import annotations

import re

# Semantic versions as Data Package versions and release manifests use them: no leading
# zeros, so 01.2.0 and 1.2.0 can never name two releases.
SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
# A calendar day as records write it (checked for existence by datetime, not here).
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The day an event id starts with, when it names one: 2019-04-25-kim-putin-talks.
ID_DAY_PREFIX = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}-")
# A Data Package name (Frictionless: lower-case letters, digits, '.', '_', '-'), which also
# names files of a build: starting and ending with a letter or digit, so it can be neither
# '.', '..' nor a hidden file, and holding no '/' that could lead out of build/.
PACKAGE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?")
