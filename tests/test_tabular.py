"""Tabular exports: typed CSV that Excel and the csv module read back, streamed in flat memory."""

import csv
import io
import math
import re
import tempfile
import tracemalloc
import zipfile
from datetime import date, datetime, timedelta, timezone
from xml.etree import ElementTree

import pytest

from lms import tabular
from lms.tabular import (
    BOM,
    SCHEMA_VERSION,
    Column,
    csv_chunks,
    csv_value,
    export_filename,
    schema_markdown,
    write_xlsx,
)

NS = {"x": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
MB = 1024 * 1024

COLUMNS = [
    Column("name", "姓名"),
    Column("attempts", "Attempts", "int"),
    Column("percent", "Percent", "float"),
    Column("due", "Due", "date"),
    Column("completed_at", "Completed at", "datetime"),
    Column("is_passed", "Passed", "bool"),
]
ROWS = [
    {
        "name": "张三",
        "attempts": 3,
        "percent": 0.1 + 0.2,
        "due": date(2026, 1, 2),
        "completed_at": datetime(2026, 1, 2, 3, 4, 5, 678),
        "is_passed": True,
    },
    ('Li, "Lee"\n王', None, 85.0, None, None, False),
    ("", 0, 87.456, date(2026, 12, 31), datetime(2026, 12, 31, 23, 59, 59), None),
]


def read_csv(text: str) -> list[list[str]]:
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text.removeprefix(BOM), newline="")))


def test_csv_of_mixed_types_reads_back_exactly():
    text = "".join(csv_chunks(COLUMNS, ROWS))
    assert read_csv(text) == [
        ["姓名", "Attempts", "Percent", "Due", "Completed at", "Passed"],
        ["张三", "3", "0.3", "2026-01-02", "2026-01-02T03:04:05", "true"],
        ['Li, "Lee"\n王', "", "85", "", "", "false"],
        ["", "0", "87.46", "2026-12-31", "2026-12-31T23:59:59", ""],
    ]


def test_csv_bytes_read_back_with_utf8_sig():
    data = "".join(csv_chunks(COLUMNS, ROWS)).encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[1][0] == "张三"


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("text", "培训", "培训"),
        ("text", 12, "12"),
        ("text", '=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("text", "+86 138", "'+86 138"),
        ("text", "-5", "'-5"),
        ("text", "@SUM(A1)", "'@SUM(A1)"),
        ("text", "a=b", "a=b"),
        ("int", 7, "7"),
        ("int", 3.0, "3"),
        ("float", 80.0, "80"),
        ("float", 87.5, "87.5"),
        ("float", 87.456, "87.46"),
        ("float", 1 / 3, "0.33"),
        ("float", -0.001, "0"),
        ("float", 1234567.891, "1234567.89"),
        ("float", math.nan, ""),
        ("date", date(2026, 11, 29), "2026-11-29"),
        ("date", datetime(2026, 11, 29, 23, 0), "2026-11-29"),
        ("datetime", datetime(2026, 11, 29, 8, 15, 0, 999999), "2026-11-29T08:15:00"),
        (
            "datetime",
            datetime(2026, 11, 29, 8, 15, tzinfo=timezone(timedelta(hours=8))),
            "2026-11-29T00:15:00",
        ),
        ("datetime", date(2026, 11, 29), "2026-11-29T00:00:00"),
        ("bool", True, "true"),
        ("bool", False, "false"),
        *[(kind, None, "") for kind in ("text", "int", "float", "date", "datetime", "bool")],
    ],
)
def test_csv_value(kind, value, expected):
    assert csv_value(Column("c", "C", kind), value) == expected


def test_csv_is_yielded_in_chunks_header_first():
    rows = ((f"n{i}",) for i in range(2500))
    chunks = list(csv_chunks([Column("n", "N")], rows, chunk_rows=1000))
    assert chunks[0] == BOM + "N\r\n"
    assert [c.count("\r\n") for c in chunks[1:]] == [1000, 1000, 500]


def test_empty_export_is_the_header_alone():
    assert list(csv_chunks(COLUMNS, [])) == [
        BOM + "姓名,Attempts,Percent,Due,Completed at,Passed\r\n"
    ]


def test_rows_must_match_the_columns():
    with pytest.raises(ValueError, match="shorter|longer"):
        list(csv_chunks(COLUMNS, [("only one",)]))
    with pytest.raises(KeyError):
        list(csv_chunks(COLUMNS, [{"name": "x"}]))


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown column kind"):
        Column("x", "X", "money")


NOTE = "备注" * 20 + "x" * 100
LONG_COLUMNS = [Column("name", "姓名"), Column("n", "N", "int"), Column("note", "Note")]


def many_rows(count: int):
    """Rows made one at a time, about 150 characters each."""
    return ((f"学员{i:06d}", i, NOTE) for i in range(count))


def test_csv_streams_100000_rows_in_flat_memory():
    tracemalloc.start()
    try:
        total = lines = 0
        for chunk in csv_chunks(LONG_COLUMNS, many_rows(100_000)):
            total += len(chunk.encode("utf-8"))
            lines += chunk.count("\r\n")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == 100_001
    # The whole file is several times the bound, so holding it would fail the test.
    assert total > 20 * MB
    assert peak < 10 * MB


# XLSX -------------------------------------------------------------------------------------------


def xlsx_parts(columns, rows) -> tuple[ElementTree.Element, ElementTree.Element, set[str]]:
    buffer = io.BytesIO()
    write_xlsx(columns, rows, buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        sheet = ElementTree.fromstring(archive.read("xl/worksheets/sheet1.xml"))
        styles = ElementTree.fromstring(archive.read("xl/styles.xml"))
        return sheet, styles, set(archive.namelist())


def cells(sheet) -> dict[str, ElementTree.Element]:
    return {c.get("r"): c for c in sheet.iterfind(".//x:sheetData/x:row/x:c", NS)}


def number_format(styles, cell) -> str:
    """The number format code of a cell's style ('' for General)."""
    xf = styles.findall("x:cellXfs/x:xf", NS)[int(cell.get("s", 0))]
    codes = {f.get("numFmtId"): f.get("formatCode") for f in styles.iterfind(".//x:numFmt", NS)}
    return codes.get(xf.get("numFmtId"), "")


def is_bold(styles, cell) -> bool:
    xf = styles.findall("x:cellXfs/x:xf", NS)[int(cell.get("s", 0))]
    font = styles.findall("x:fonts/x:font", NS)[int(xf.get("fontId"))]
    return font.find("x:b", NS) is not None


def test_xlsx_keeps_numbers_numbers_and_dates_dates():
    sheet, styles, names = xlsx_parts(COLUMNS, ROWS)
    grid = cells(sheet)
    # No shared strings: constant_memory writes text inline, and numbers are never text.
    assert "xl/sharedStrings.xml" not in names
    assert all(grid[ref].get("t") != "s" for ref in grid)
    for ref, expected in {"B2": 3, "C2": 0.3, "C3": 85, "C4": 87.46, "B4": 0}.items():
        assert grid[ref].get("t") is None
        assert float(grid[ref].find("x:v", NS).text) == expected
    assert number_format(styles, grid["C2"]) == "0.00"
    # Excel's serial day numbers count from 1899-12-30.
    assert grid["D2"].find("x:v", NS).text == "46024"
    assert number_format(styles, grid["D2"]) == "yyyy-mm-dd"
    serial = float(grid["E2"].find("x:v", NS).text)
    assert serial == pytest.approx(46024 + (3 * 3600 + 4 * 60 + 5) / 86400)
    assert number_format(styles, grid["E2"]) == "yyyy-mm-dd hh:mm:ss"
    assert (grid["F2"].get("t"), grid["F2"].find("x:v", NS).text) == ("b", "1")
    assert (grid["F3"].get("t"), grid["F3"].find("x:v", NS).text) == ("b", "0")
    assert grid["A2"].get("t") == "inlineStr"
    assert grid["A2"].find("x:is/x:t", NS).text == "张三"
    # None writes no cell at all.
    assert "B3" not in grid
    assert "D3" not in grid


def test_xlsx_header_is_bold_frozen_filtered_and_sized():
    sheet, styles, _names = xlsx_parts(COLUMNS, ROWS)
    grid = cells(sheet)
    assert [grid[f"{c}1"].find("x:is/x:t", NS).text for c in "ABCDEF"] == [c.title for c in COLUMNS]
    assert all(is_bold(styles, grid[f"{c}1"]) for c in "ABCDEF")
    assert not is_bold(styles, grid["A2"])
    pane = sheet.find(".//x:pane", NS)
    assert (pane.get("state"), pane.get("ySplit")) == ("frozen", "1")
    assert sheet.find("x:autoFilter", NS).get("ref") == "A1:F4"
    # Neighbouring columns of one width share a <col min= max=> element.
    widths = [
        float(c.get("width"))
        for c in sheet.iterfind("x:cols/x:col", NS)
        for _ in range(int(c.get("min")), int(c.get("max")) + 1)
    ]
    assert len(widths) == len(COLUMNS)
    assert widths[4] > 19  # a datetime shows whole


def test_xlsx_text_that_looks_like_a_formula_stays_text():
    sheet, _styles, _names = xlsx_parts([Column("t", "T")], [("=1+1",)])
    cell = cells(sheet)["A2"]
    assert cell.get("t") == "inlineStr"
    assert cell.find("x:f", NS) is None
    assert cell.find("x:is/x:t", NS).text == "=1+1"


def test_column_width_counts_chinese_double():
    assert tabular.display_width("培训记录") == 8
    assert tabular.column_width(Column("x", "完成日期和时间记录表", "text")) == 22
    assert tabular.column_width(Column("x", "X", "datetime")) == 20
    assert tabular.column_width(Column("x", "x" * 200)) == 60


def test_xlsx_refuses_more_rows_than_excel_holds(monkeypatch):
    monkeypatch.setattr(tabular, "XLSX_MAX_ROWS", 3)
    with pytest.raises(ValueError, match="more rows"):
        write_xlsx([Column("n", "N", "int")], [(i,) for i in range(5)], io.BytesIO())


def test_xlsx_writes_rows_in_flat_memory():
    tracemalloc.start()
    try:
        with tempfile.TemporaryFile() as target:
            write_xlsx(LONG_COLUMNS, many_rows(20_000), target)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Without constant_memory XlsxWriter keeps every cell until close: about 12 MB here.
    assert peak < 2 * MB


# Names and schemas ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stem", "extension", "expected"),
    [
        ("completions", "csv", "completions-2026-11-29.csv"),
        ("completions", ".xlsx", "completions-2026-11-29.xlsx"),
        ("quiz attempts/kyc", "csv", "quiz-attempts-kyc-2026-11-29.csv"),
        ("完成记录", "csv", "完成记录-2026-11-29.csv"),
        ("../..", "csv", "export-2026-11-29.csv"),
    ],
)
def test_export_filename(stem, extension, expected):
    assert export_filename(stem, extension, date(2026, 11, 29)) == expected


def test_schema_markdown_lists_every_column_with_its_type():
    text = schema_markdown("completions", [*COLUMNS, Column("note", "A | B")])
    lines = text.splitlines()
    assert lines[0] == f"### `completions` (schema version {SCHEMA_VERSION})"
    assert lines[2] == "| Column | Title | Type |"
    assert "| `percent` | Percent | number, at most 2 decimals |" in lines
    assert "| `due` | Due | date, `YYYY-MM-DD` |" in lines
    assert "| `note` | A \\| B | text |" in lines
    table = [line for line in lines if line.startswith("| `")]
    assert len(table) == len(COLUMNS) + 1
    assert all(len(re.findall(r"(?<!\\)\|", line)) == 4 for line in table)


def test_the_readme_documents_the_current_export_schema():
    from pathlib import Path

    from lms.exports import RECORDS

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert schema_markdown("completions", RECORDS) in readme


# Lines written from parts (exports.records_csv) -------------------------------------------------


def test_csv_cells_are_the_cells_of_a_csv_line():
    for row in ROWS:
        line = "".join(csv_chunks(COLUMNS, [row])).removeprefix(tabular.csv_header(COLUMNS))
        assert tabular.csv_cells(COLUMNS, row) + "\r\n" == line
    # Alone, an empty cell is still empty: the csv module writes a lone one as `""`.
    assert tabular.csv_cells([Column("t", "T")], ("",)) == ""
    assert tabular.csv_cells([Column("t", "T")], ("a,b",)) == '"a,b"'


@pytest.mark.parametrize("position", ["alone", "first", "middle", "last"])
def test_plain_text_is_exactly_the_text_written_as_it_is(position):
    column = [Column("t", "T")]
    for code in [*range(128), 0x3000, 0x738B, 0xFEFF]:
        c = chr(code)
        text = {"alone": c, "first": c + "ab", "middle": "a" + c + "b", "last": "ab" + c}[position]
        cell = tabular.csv_cells(column, (text,))
        assert bool(tabular.csv_plain_text(text)) == (cell == text), repr(text)


def test_a_cell_cache_encodes_each_value_once_and_holds_a_bounded_number():
    cache = tabular.CellCache(Column("p", "P", "float"), limit=3)
    assert [cache[v] for v in (87.456, None, 80.0, 87.456, 1 / 3, 0.5)] == [
        "87.46",
        "",
        "80",
        "87.46",
        "0.33",
        "0.5",
    ]
    assert len(cache) == 3
