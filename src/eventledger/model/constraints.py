"""Which issue each constraint of a Table Schema field becomes when a value breaks it.

Apart from model/pandera_schema.py, which imports Pandera: reporting a failure needs only
this (check/table_report.py).
"""

from __future__ import annotations

# Which issue code a failed constraint becomes.
CONSTRAINT_CODES = {
    "required": "missing-field",
    "unique": "duplicate-id",
    "primaryKey": "duplicate-participant",
    "vocabulary": "not-in-vocabulary",
    "pattern": "bad-format",
    "codelist": "not-in-codelist",
    "minimum": "out-of-range",
    "maximum": "out-of-range",
    "minLength": "bad-length",
    "maxLength": "bad-length",
    "type": "wrong-type",
}
