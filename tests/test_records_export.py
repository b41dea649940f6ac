"""HR's export of every completion record: the CSV, written line by line by exports.records_csv,
reads exactly as the generic writer writes the typed rows, in date order, in a fixed few queries.
"""

import csv
import io
import random
import zipfile
from datetime import datetime, timedelta
from xml.etree import ElementTree

import pytest
from sqlalchemy import insert, select

from lms import exports, tabular
from lms.extensions import db
from lms.models import Completion, Course, Role, User
from lms.tabular import BOM, csv_value

ROWS = 2_500  # two full chunks of tabular.CHUNK_ROWS and a part
PERCENTS = [None, 87.455, 1 / 3, 100.0, 0.0, 59.995, 80.0, 99.999, -0.0, 12.5]
ODD_CODES = ["=1+1", "A,B", 'C"D', "", "-5", "@SUM(A1)", "line\nbreak", " spaced"]


@pytest.fixture
def records(app, load_courses):
    """Forty people, some with names and posts that need quoting or look like formulas, and
    2,500 completions in random date order: ties to the microsecond, fractions of a second just
    under the next one, scores that round, certificate codes a spreadsheet would run."""
    load_courses()
    courses = db.session.scalars(select(Course).order_by(Course.id)).all()
    courses[0].title_zh = "+反洗钱, 基础"
    odd = [
        ('=HYPERLINK("http://x")', "-001", "北京,第一支行", 'Dept "A"', None),
        ("王\n小明", None, "@branch", "\tdep", "credit_officer"),
        ("李四", "E002", "", "", "customer_manager"),
    ]
    people = [
        User(
            username=f"p{n}",
            name=name,
            employee_no=number,
            branch=branch,
            department=department,
            job_role=job_role,
            password_hash="!",
        )
        for n, (name, number, branch, department, job_role) in enumerate(
            odd
            + [
                (f"员工{n}", f"E{n:03d}", f"第{n % 4}支行", "个人金融部", None)
                for n in range(3, 40)
            ]
        )
    ]
    db.session.add_all(people)
    db.session.flush()
    rng = random.Random(7)
    start = datetime(2025, 1, 1)
    slots = [(p.id, c.id, cycle) for cycle in range(1, 22) for p in people for c in courses]
    rng.shuffle(slots)
    codes = iter(ODD_CODES)
    rows = [
        {
            "user_id": user_id,
            "course_id": course_id,
            "cycle": cycle,
            "completed_at": start
            + timedelta(
                hours=rng.randrange(1500),
                seconds=rng.choice([0, 59]),
                microseconds=rng.choice([0, 0, 1, 500_000, 999_999]),
            ),
            "percent": rng.choice(PERCENTS),
            "course_version": rng.randrange(1, 4),
            "certificate_code": next(codes, f"C{n:05d}-{rng.randrange(10**6):06d}"),
            "source": "platform",
        }
        for n, (user_id, course_id, cycle) in enumerate(slots[:ROWS])
    ]
    db.session.execute(insert(Completion), rows)
    db.session.commit()


def expected_rows() -> list[list[str]]:
    """Each completion as the export should write it, formatted here from the ORM's objects."""
    completions = db.session.scalars(
        select(Completion).order_by(Completion.completed_at, Completion.id)
    ).all()
    return [
        [
            csv_value(column, value)
            for column, value in zip(
                exports.RECORDS,
                (
                    c.user.employee_no,
                    c.user.name,
                    c.user.branch,
                    c.user.department,
                    c.user.job_role,
                    c.course.slug,
                    c.course.title_zh,
                    c.completed_at,
                    c.percent,
                    c.course_version,
                    c.cycle,
                    c.certificate_code,
                ),
                strict=True,
            )
        ]
        for c in completions
    ]


def read(text: str) -> list[list[str]]:
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text.removeprefix(BOM), newline="")))


def test_the_csv_is_every_record_in_date_order_as_the_generic_writer_writes_it(app, records):
    text = "".join(exports.records_csv())
    assert text == "".join(tabular.csv_chunks(*exports.records()))
    table = read(text)
    assert table[0] == [column.title for column in exports.RECORDS]
    assert table[1:] == expected_rows()
    assert len(table) == ROWS + 1


def test_cells_that_need_it_are_quoted_or_kept_from_running_as_formulas(app, records):
    table = read("".join(exports.records_csv()))
    by_number = {row[0]: row for row in table[1:]}
    row = by_number["'-001"]
    assert row[1:4] == ['\'=HYPERLINK("http://x")', "北京,第一支行", 'Dept "A"']
    assert row[4] == ""
    names = {row[1] for row in table[1:]}
    assert "王\n小明" in names
    assert {row[6] for row in table[1:]} >= {"'+反洗钱, 基础"}
    codes = {row[11] for row in table[1:]}
    assert {"'=1+1", "A,B", 'C"D', "", "'-5", "'@SUM(A1)", "line\nbreak", " spaced"} <= codes
    # A fraction of a second is dropped, never rounded up into the next second or minute.
    times = {row[7] for row in table[1:]}
    assert all(len(t) == 19 and t[10] == "T" for t in times)
    assert any(t.endswith(":00:59") for t in times)
    # Two decimals of the binary value, as Python rounds it: 59.995 is 59.99499…
    assert {row[8] for row in table[1:]} == {"", "87.45", "0.33", "100", "0", "59.99", "80", "12.5"}


def test_the_csv_costs_the_same_queries_whatever_the_rows(app, records, count_queries):
    # People and courses once each (no entities, no roles); the completions are read on the
    # driver's own cursor, which SQLAlchemy's events do not see.
    with count_queries() as queries:
        lines = sum(chunk.count("\r\n") for chunk in exports.records_csv())
    assert lines >= ROWS + 1
    assert queries.count == 2


def test_a_person_added_as_the_export_starts_is_in_it(app, records):
    chunks = exports.records_csv()
    assert next(chunks).startswith(BOM + "employee_id,")
    # The people are read: on PostgreSQL, someone may be added before the completions are.
    late = User(username="late", name="迟到", employee_no="L001", password_hash="!")
    db.session.add(late)
    db.session.flush()
    course = db.session.scalar(select(Course).order_by(Course.id))
    db.session.add(
        Completion(
            user_id=late.id,
            course_id=course.id,
            completed_at=datetime(2000, 1, 2, 3, 4, 5),
            percent=90.0,
        )
    )
    db.session.flush()
    first = read(BOM + "".join(chunks))[0]
    assert first[:2] == ["L001", "迟到"]
    assert first[7:9] == ["2000-01-02T03:04:05", "90"]
    db.session.rollback()


def test_hr_downloads_the_csv_and_the_xlsx(app, make_user, records):
    hr = app.test_client(user=make_user("hr", roles={Role.HR}))
    reply = hr.get("/reports/records.csv")
    assert reply.status_code == 200
    assert reply.mimetype == "text/csv"
    assert 'filename="completions-' in reply.headers["Content-Disposition"]
    assert read(reply.get_data(as_text=True))[1:] == expected_rows()

    xlsx = hr.get("/reports/records.xlsx")
    assert xlsx.status_code == 200
    ns = {"x": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(io.BytesIO(xlsx.data)) as archive:
        sheet = ElementTree.fromstring(archive.read("xl/worksheets/sheet1.xml"))
    rows = sheet.findall(".//x:sheetData/x:row", ns)
    assert len(rows) == ROWS + 1
    first = {c.get("r"): c for c in rows[1].iterfind("x:c", ns)}
    expected = expected_rows()[0]
    assert first["B2"].find("x:is/x:t", ns).text == expected[1].lstrip("'")
    # The date is a date, not text: a serial day number that Excel formats.
    assert first["H2"].get("t") is None
    assert float(first["H2"].find("x:v", ns).text) > 45_000
