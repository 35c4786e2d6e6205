"""Reading a JSON file that anyone could have written: the one way the tool does it.

A datapackage.json, a release manifest or a package descriptor comes from a pull request
or a download. Whatever its bytes (not UTF-8, not JSON, nested a million levels deep,
larger than any real one), reading it gives a value or a JsonFileError naming the reason
and, where JSON can say it, the line: never an exception the caller did not expect.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

# No JSON file the tool reads whole is near this; a larger one is refused before it is read.
# A release's full manifest is read as a stream instead (publish/manifest_stream.py).
MAX_JSON_BYTES = 256 * 1024**2
# A symbolic link is not followed, and a FIFO in a file's place does not block the open.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


class JsonFileError(ValueError):
    """A JSON file that cannot be read; line and column are 0 when unknown."""

    def __init__(self, reason: str, line: int = 0, column: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.column = column


def read_json(path: Path, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The value in the JSON file at path (a regular file; a symbolic link is not followed)."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as err:
        raise JsonFileError(f"cannot read it: {err.strerror or err}") from err
    return read_json_from(fd, max_bytes=max_bytes)


def read_json_from(fd: int, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The value in the JSON file open for reading at fd (which this closes), as read_json."""
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise JsonFileError("it is not a regular file")
        if info.st_size > max_bytes:
            raise JsonFileError(f"it is {info.st_size:,} bytes, more than {max_bytes:,}")
        try:
            raw = handle.read()
        except OSError as err:
            raise JsonFileError(f"cannot read it: {err.strerror or err}") from err
    return loads(raw)


def loads(raw: bytes) -> Any:
    """The value in a JSON file's bytes, as read_json reads them."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise JsonFileError(f"byte {err.start} is not UTF-8") from err
    except json.JSONDecodeError as err:
        raise JsonFileError(f"not valid JSON: {err.msg}", err.lineno, err.colno) from err
    except RecursionError as err:
        raise JsonFileError("not valid JSON: nested too deeply") from err
    except ValueError as err:  # json's int() refusing a number (the only other ValueError)
        raise JsonFileError(long_number()) from err


def long_number() -> str:
    """Why json refuses valid JSON that holds an integer of more digits than Python's int()
    converts (sys.get_int_max_str_digits, against quadratic time): a bare ValueError."""
    return f"a number of more than {sys.get_int_max_str_digits():,} digits, more than Python reads"
