"""Streaming tabular exports: typed columns written as CSV chunks or a constant-memory XLSX.

An export is a function returning `(columns, rows)`; rows are mappings keyed by `Column.key` or
sequences in column order, produced lazily so that nothing holds the whole table.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from itertools import islice
from typing import IO, Any

import xlsxwriter

# Bump when a column of an export is renamed, removed, retyped or reordered: consumers pin it.
SCHEMA_VERSION = "1"

# Excel reads a CSV without a byte order mark in the machine's legacy code page (GBK on Chinese
# Windows), which garbles UTF-8 Chinese; with the BOM it reads UTF-8. Python's csv module and
# pandas read it back with encoding="utf-8-sig".
BOM = "\ufeff"
CHUNK_ROWS = 1000
# Excel's last row, counting the header: past it XlsxWriter drops cells without an error.
XLSX_MAX_ROWS = 1_048_576
# A cell starting with one of these is run as a formula by Excel (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

Row = Mapping[str, Any] | Sequence[Any]


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: str = "text"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r} for {self.key!r}")


# Values -----------------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    """A naive UTC datetime, as the app stores them; an aware one is converted to UTC first."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=0)


def _as_date(value: date) -> date:
    return _utc(value).date() if isinstance(value, datetime) else value


def _as_datetime(value: date) -> datetime:
    return _utc(value) if isinstance(value, datetime) else datetime.combine(value, time())


def _as_float(value: float) -> float | None:
    # Two decimals is the precision of every score and percentage the app computes; rounding
    # hides binary noise such as 0.30000000000000004. NaN and infinities are no data.
    number = float(value)
    return round(number, 2) if math.isfinite(number) else None


def _csv_text(value: Any) -> str:
    text = str(value)
    # A leading quote keeps a learner's "=HYPERLINK(...)" a text cell when HR opens the file.
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _csv_float(value: float) -> str:
    number = _as_float(value)
    if number is None:
        return ""
    text = f"{number:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


_CSV: dict[str, Callable[[Any], str]] = {
    "text": _csv_text,
    "int": lambda value: str(int(value)),
    "float": _csv_float,
    "date": lambda value: _as_date(value).isoformat(),
    "datetime": lambda value: _as_datetime(value).isoformat(),
    "bool": lambda value: "true" if value else "false",
}
KINDS = frozenset(_CSV)

# kind → (value for Excel, worksheet method, number format)
_XLSX: dict[str, tuple[Callable[[Any], Any], str, str | None]] = {
    "text": (str, "write_string", None),
    "int": (int, "write_number", None),
    "float": (_as_float, "write_number", "0.00"),
    "date": (_as_date, "write_datetime", "yyyy-mm-dd"),
    "datetime": (_as_datetime, "write_datetime", "yyyy-mm-dd hh:mm:ss"),
    "bool": (bool, "write_boolean", None),
}
# The narrowest column that shows a value of the kind whole, in Excel's character widths.
_MIN_WIDTH = {"text": 12, "int": 8, "float": 10, "date": 12, "datetime": 20, "bool": 8}


def _cells(columns: Sequence[Column], row: Row) -> Iterable[tuple[Column, Any]]:
    """Pair each column with its value; a sequence row must have exactly one per column."""
    if isinstance(row, Mapping):
        return ((column, row[column.key]) for column in columns)
    return zip(columns, row, strict=True)


# CSV --------------------------------------------------------------------------------------------


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate(0)
    return text


def csv_value(column: Column, value: Any) -> str:
    """One value as CSV text: ISO dates, true/false, at most two decimals, None as empty."""
    return "" if value is None else _CSV[column.kind](value)


def _csv_row(columns: Sequence[Column]) -> Callable[[Row], list[str]]:
    """A row's values as CSV text, with each column's converter looked up once, not per cell."""
    keys = [column.key for column in columns]
    converters = [_CSV[column.kind] for column in columns]

    def texts(row: Row) -> list[str]:
        values = [row[key] for key in keys] if isinstance(row, Mapping) else row
        return [
            "" if value is None else convert(value)
            for convert, value in zip(converters, values, strict=True)
        ]

    return texts


def csv_header(columns: Sequence[Column]) -> str:
    """The start of every CSV export: the BOM and the line of column titles."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(column.title for column in columns)
    return BOM + buffer.getvalue()


def csv_chunks(
    columns: Sequence[Column], rows: Iterable[Row], chunk_rows: int = CHUNK_ROWS
) -> Iterator[str]:
    """The CSV text: the BOM and header at once, then a chunk every `chunk_rows` rows."""
    texts = _csv_row(columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield csv_header(columns)
    rows = iter(rows)
    while chunk := list(islice(rows, chunk_rows)):
        writer.writerows(map(texts, chunk))
        yield _drain(buffer)


# An export that writes its lines itself, from parts encoded once (see exports.records_csv), uses
# these to write exactly what csv_chunks writes.


def csv_cells(columns: Sequence[Column], row: Row) -> str:
    """The row's cells as they stand in a line of `csv_chunks`, joined by commas, no line end."""
    buffer = io.StringIO()
    # An empty last cell: a lone empty cell would be written `""`, which it is not within a line.
    csv.writer(buffer).writerow([*_csv_row(columns)(row), ""])
    return buffer.getvalue().removesuffix(",\r\n")


# Text whose cell is the text itself: it neither starts like a formula nor holds the delimiter,
# the quote or a line break. A regular expression, for the rows of a long export: no Python call
# per cell; anything else goes through csv_cells.
csv_plain_text = re.compile(
    "[^" + re.escape("".join(FORMULA_PREFIXES)) + ',"\r\n][^,"\r\n]*'
).fullmatch


class CellCache(dict):
    """A column's cells by value, each encoded once: `cache[value]`, for values that repeat.

    Holds at most `limit` values: past it, values are encoded every time. Values equal as keys
    share a cell (1 and 1.0): a column's values should be of one type.
    """

    def __init__(self, column: Column, limit: int = 10_000):
        super().__init__()
        self.columns, self.limit = (column,), limit

    def __missing__(self, value: Any) -> str:
        cell = csv_cells(self.columns, (value,))
        if len(self) < self.limit:
            self[value] = cell
        return cell


# XLSX -------------------------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Characters as Excel sizes them: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def column_width(column: Column) -> int:
    """Wide enough for the title and a typical value of the column's kind."""
    return min(60, max(display_width(column.title) + 2, _MIN_WIDTH[column.kind]))


def _writers(workbook: Any, sheet: Any, columns: Sequence[Column]) -> list[tuple]:
    """Size each column and pick its (convert, worksheet method, cell format)."""
    formats = {
        number_format: workbook.add_format({"num_format": number_format})
        for _convert, _method, number_format in _XLSX.values()
        if number_format
    }
    writers = []
    for index, column in enumerate(columns):
        convert, method, number_format = _XLSX[column.kind]
        writers.append((convert, getattr(sheet, method), formats.get(number_format or "")))
        sheet.set_column(index, index, column_width(column))
    return writers


def write_xlsx(
    columns: Sequence[Column],
    rows: Iterable[Row],
    fileobj: IO[bytes],
    sheet_name: str | None = None,
) -> None:
    """Write the rows as one worksheet, row by row, with a bold frozen header and a filter."""
    # constant_memory flushes each row to a temporary file once the next begins, so memory stays
    # flat however many rows; the zip is assembled into fileobj on close.
    with xlsxwriter.Workbook(fileobj, {"constant_memory": True}) as workbook:
        sheet = workbook.add_worksheet(sheet_name)
        writers = _writers(workbook, sheet, columns)
        bold = workbook.add_format({"bold": True})
        for index, column in enumerate(columns):
            sheet.write_string(0, index, column.title, bold)
        sheet.freeze_panes(1, 0)
        last = 0
        for last, row in enumerate(rows, 1):
            if last >= XLSX_MAX_ROWS:
                raise ValueError(f"more rows than an Excel sheet holds ({XLSX_MAX_ROWS - 1})")
            for index, (_column, value) in enumerate(_cells(columns, row)):
                convert, write, cell_format = writers[index]
                value = None if value is None else convert(value)
                if value is not None:
                    write(last, index, value, cell_format)
        if columns:
            sheet.autofilter(0, 0, last, len(columns) - 1)


# Names and schemas ------------------------------------------------------------------------------


def export_filename(stem: str, extension: str, today: date) -> str:
    """A dated download name such as `completions-2026-11-29.csv`."""
    # \w keeps Chinese; separators and spaces would break the Content-Disposition or a path.
    safe = re.sub(r"[^\w.-]+", "-", stem).strip("-.") or "export"
    return f"{safe}-{today.isoformat()}.{extension.lstrip('.')}"


_TYPE_NOTES = {
    "text": "text",
    "int": "integer",
    "float": "number, at most 2 decimals",
    "date": "date, `YYYY-MM-DD`",
    "datetime": "date and time in UTC, `YYYY-MM-DDTHH:MM:SS`",
    "bool": "`true` / `false`",
}


def _cell_md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def schema_markdown(name: str, columns: Sequence[Column]) -> str:
    """The versioned column schema of an export as a Markdown section for the README."""
    lines = [
        f"### `{name}` (schema version {SCHEMA_VERSION})",
        "",
        "| Column | Title | Type |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{c.key}` | {_cell_md(c.title)} | {_TYPE_NOTES[c.kind]} |" for c in columns]
    return "\n".join(lines) + "\n"
