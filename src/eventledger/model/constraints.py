"""Which issue each constraint of a Table Schema field becomes when a value breaks it.

Apart from model/pandera_schema.py, which imports Pandera: reporting a failure needs only
this (check/table_report.py). field_constraints() is the one list of a field's checked
constraints in their order: Pandera's checks are built from it (model/pandera_schema.py) and
so is the pandas-free proof that rows pass them (check/table_proof.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from eventledger.model.schema import FieldSpec, Schema

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


def field_constraints(spec: FieldSpec, schema: Schema) -> tuple[str, ...]:
    """The constraints a field's column is checked for, beyond its type, required and unique,
    in the order its checks run. A codelist comes after the pattern, so a value of the wrong
    shape is reported as that, once."""
    present = {
        "vocabulary": schema.terms(spec) is not None,
        "pattern": spec.pattern is not None,
        "codelist": spec.codelist is not None,
        "minimum": spec.minimum is not None,
        "maximum": spec.maximum is not None,
        "minLength": spec.min_length is not None,
        "maxLength": spec.max_length is not None,
    }
    return tuple(name for name, there in present.items() if there)
