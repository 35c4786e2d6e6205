"""Every field type and what it becomes in each projection, side by side.

A Table Schema field type is read from YAML, typed in pandas and Pandera, stored in
Arrow/Parquet, described in the record JSON Schema, shown in the template, written to
and read from a CSV cell, and typed in the spreadsheet. Those projections live here, one
row per type (as Catalyst's PUDL keeps its per-type maps in one metadata module), so a
new type is one entry in TYPES and a test over every type proves the projections agree.

pandas, Pandera and pyarrow are imported inside the functions that need them: commands
that only read JSON (diff, verify's checksums) must not pay for them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eventledger.model.patterns import ISO_DAY

# Integer columns are 64-bit in every table format we publish (Int64, Arrow int64).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Numbers as JSON writes them: no '+', no leading zeros. YAML 1.1 readers take 0211 as
# octal (137) and some take +12 as text, so a record that writes them means different
# numbers to different tools; each reader of a record must see the same value.
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_NUM = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
LIST_DELIMITER = ","

Parsed = tuple[Any, str | None]  # (typed value, issue code when the text is not of the type)


def _parse_string(value: Any) -> Parsed:
    return (value, None) if isinstance(value, str) else (None, "wrong-type")


def _parse_integer(value: Any) -> Parsed:
    if not isinstance(value, str) or not _INT.fullmatch(value):
        return None, "wrong-type"
    number = int(value)
    return (number, None) if INT64_MIN <= number <= INT64_MAX else (None, "out-of-range")


def _parse_number(value: Any) -> Parsed:
    if not isinstance(value, str) or not _NUM.fullmatch(value):
        return None, "wrong-type"
    real = float(value)
    return (real, None) if math.isfinite(real) else (None, "out-of-range")


def _parse_date(value: Any) -> Parsed:
    if not isinstance(value, str):
        return None, "wrong-type"
    if not ISO_DAY.fullmatch(value):
        return None, "invalid-date"
    try:
        return dt.date.fromisoformat(value), None
    except ValueError:
        return None, "invalid-date"


def _parse_list(value: Any) -> Parsed:
    if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
        return None, "wrong-type"
    return list(value), None


def _pandas_string() -> Any:
    import pandas as pd

    return pd.StringDtype()


def _pandera_date() -> Any:
    from pandera.engines import pandas_engine

    return pandas_engine.Date


def _arrow(name: str) -> Callable[[], Any]:
    def make() -> Any:
        import pyarrow as pa

        return {
            "string": pa.string,
            "int64": pa.int64,
            "float64": pa.float64,
            "date32": pa.date32,
        }[name]()

    return make


def _arrow_list() -> Any:
    import pyarrow as pa

    return pa.list_(pa.string())


@dataclass(frozen=True)
class FieldType:
    name: str
    expected: str  # what a contributor must write, in messages
    parse: Callable[[Any], Parsed]  # a scalar or list from the strict YAML reader -> typed value
    pandas_dtype: str  # the dtype of the column a table holds ("object": Python objects)
    pandera_dtype: Callable[[], Any]
    arrow_type: Callable[[], Any]
    json_type: dict[str, Any]  # the record JSON Schema's type keywords
    placeholder: str  # the value the template shows
    to_cell: Callable[[Any, str], str]  # (value, list delimiter) -> CSV text
    from_cell: Callable[[str, str], Any]  # (CSV text, list delimiter) -> value
    spreadsheet: str  # how the xlsx types a cell: "text", "number" or "date"


TYPES: dict[str, FieldType] = {
    t.name: t
    for t in (
        FieldType(
            name="string",
            expected="text",
            parse=_parse_string,
            pandas_dtype="string",
            pandera_dtype=_pandas_string,
            arrow_type=_arrow("string"),
            json_type={"type": "string"},
            placeholder="",
            to_cell=lambda v, _d: str(v),
            from_cell=lambda t, _d: t,
            spreadsheet="text",
        ),
        FieldType(
            name="integer",
            expected="a whole number between -2**63 and 2**63 - 1, without '+' or leading zeros",
            parse=_parse_integer,
            pandas_dtype="Int64",
            pandera_dtype=lambda: "Int64",
            arrow_type=_arrow("int64"),
            json_type={"type": "integer"},
            placeholder="",
            to_cell=lambda v, _d: str(v),
            from_cell=lambda t, _d: int(t),
            spreadsheet="number",
        ),
        FieldType(
            name="number",
            expected="a finite number such as -12.5, without '+' or leading zeros",
            parse=_parse_number,
            pandas_dtype="Float64",
            pandera_dtype=lambda: "Float64",
            arrow_type=_arrow("float64"),
            json_type={"type": "number"},
            placeholder="",
            # repr gives the shortest text that reads back as the same float
            to_cell=lambda v, _d: repr(float(v)),
            from_cell=lambda t, _d: float(t),
            spreadsheet="number",
        ),
        FieldType(
            name="date",
            expected="a date YYYY-MM-DD",
            parse=_parse_date,
            pandas_dtype="object",  # datetime.date objects: pandas has no day-only dtype
            pandera_dtype=_pandera_date,
            arrow_type=_arrow("date32"),
            json_type={"type": "string", "format": "date", "pattern": f"^{ISO_DAY.pattern}$"},
            placeholder='""',
            to_cell=lambda v, _d: str(v.isoformat()),
            from_cell=lambda t, _d: dt.date.fromisoformat(t),
            spreadsheet="date",
        ),
        FieldType(
            name="list",
            expected="a list of text, e.g. [a, b]",
            parse=_parse_list,
            pandas_dtype="object",
            pandera_dtype=lambda: object,
            arrow_type=_arrow_list,
            json_type={"type": "array"},
            placeholder="[]",
            to_cell=lambda v, d: d.join(v),
            from_cell=lambda t, d: t.split(d),
            spreadsheet="text",
        ),
    )
}
