"""HR exports as (columns, rows) that a view streams: rows are generated, never all in memory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from sqlalchemy import String, case, func, select, type_coerce
from sqlalchemy.orm import selectinload

from . import requirements, tabular, xapi
from .extensions import begin_transaction, db
from .models import Attempt, AttemptState, Completion, Course, Item, User
from .tabular import Column

BATCH = 500

PERSON = [
    Column("employee_no", "employee_id"),
    Column("name", "name"),
    Column("branch", "branch"),
    Column("department", "department"),
    Column("job_role", "job_role"),
]

RECORDS = [
    *PERSON,
    Column("course", "course"),
    Column("course_title", "course_title"),
    Column("completed_at", "completed_at", "datetime"),
    Column("percent", "score_percent", "float"),
    Column("course_version", "course_version", "int"),
    Column("cycle", "cycle", "int"),
    Column("certificate_code", "certificate_code"),
]


def _person(user: User) -> tuple:
    return (user.employee_no, user.name, user.branch, user.department, user.job_role)


_completion = Completion.__table__
_user = User.__table__
_course = Course.__table__


def records() -> tuple[list[Column], Iterator[tuple]]:
    """Every completion record, oldest first: typed values, streamed (the XLSX export).

    The CSV export writes the same lines faster with `records_csv`.
    """
    query = (
        select(
            _user.c.employee_no,
            _user.c.name,
            _user.c.branch,
            _user.c.department,
            _user.c.job_role,
            _course.c.slug,
            _course.c.title_zh,
            _completion.c.completed_at,
            _completion.c.percent,
            _completion.c.course_version,
            _completion.c.cycle,
            _completion.c.certificate_code,
        )
        .join(_user, _user.c.id == _completion.c.user_id)
        .join(_course, _course.c.id == _completion.c.course_id)
        .order_by(_completion.c.completed_at, _completion.c.id)
        # Plain columns, no entities; a server-side cursor on PostgreSQL.
        .execution_options(yield_per=1000)
    )

    def rows():
        yield from db.session.execute(query)

    return RECORDS, rows()


def _iso_datetime(column, dialect: str):
    """The column as the CSV writes a datetime (`2026-11-29T08:15:00`), rendered by the database;
    None where this database is not known."""
    if dialect == "postgresql":
        return func.to_char(column, 'YYYY-MM-DD"T"HH24:MI:SS')
    if dialect == "sqlite":
        # Stored as text, 'YYYY-MM-DD HH:MM:SS.ffffff' from SQLAlchemy: the cut drops the
        # fraction as Python does, with no trip through a julian day number (strftime, 10 %
        # slower); a shorter form (a bare date) goes through strftime.
        stored = type_coerce(column, String)
        return case(
            (
                func.length(stored) >= 19,
                func.substr(stored, 1, 10) + "T" + func.substr(stored, 12, 8),
            ),
            else_=func.strftime("%Y-%m-%dT%H:%M:%S", stored),
        )
    return None


class _Cells(dict):
    """The CSV cells of a table's rows by id (`query` selects the id, then `columns`): all read up
    front, and a row added since read when first asked for."""

    def __init__(self, columns: list[Column], query):
        super().__init__()
        self.columns, self.query = columns, query
        self.update(self._read(query))

    def _read(self, query):
        return (
            (key, tabular.csv_cells(self.columns, values))
            for key, *values in db.session.execute(query)
        )

    def __missing__(self, key):
        ((_key, cells),) = self._read(self.query.where(self.query.selected_columns[0] == key))
        self[key] = cells
        return cells


def records_csv(chunk_rows: int = tabular.CHUNK_ROWS) -> Iterator[str]:
    """The records export as CSV: the text `tabular.csv_chunks(*records())` writes, 20 times faster.

    HR downloads half a million rows. Each line is put together from parts encoded once: a
    person's five cells and a course's two (read up front: a few MB for 10,000 staff), each
    distinct score; the database renders the date and time, and the version and cycle are
    integers, written as they are. The completions are read alone, in the order of their index
    (completed_at, id): joined to the people, SQLite reads them at half the rate.
    """
    dialect = db.session.get_bind().dialect.name
    completed_at = _iso_datetime(_completion.c.completed_at, dialect)
    if completed_at is None:
        yield from tabular.csv_chunks(*records())
        return
    people = _Cells(
        RECORDS[:5],
        select(
            _user.c.id,
            _user.c.employee_no,
            _user.c.name,
            _user.c.branch,
            _user.c.department,
            _user.c.job_role,
        ),
    )
    courses = _Cells(RECORDS[5:7], select(_course.c.id, _course.c.slug, _course.c.title_zh))
    percents = tabular.CellCache(RECORDS[8])
    plain = tabular.csv_plain_text

    def code_cell(code: str) -> str:
        return tabular.csv_cells(RECORDS[11:], (code,))

    query = select(
        _completion.c.user_id,
        _completion.c.course_id,
        func.coalesce(completed_at, ""),
        _completion.c.percent,
        _completion.c.course_version,
        _completion.c.cycle,
        _completion.c.certificate_code,
    ).order_by(_completion.c.completed_at, _completion.c.id)
    yield tabular.csv_header(RECORDS)
    for part in _driver_rows(query, chunk_rows):
        yield "".join(
            [
                f"{people[user]},{courses[course]},{when},{percents[percent]},{version},{cycle},"
                f"{code if plain(code) else code_cell(code)}\r\n"
                for user, course, when, percent, version, cycle, code in part
            ]
        )


def _driver_rows(query, chunk_rows: int) -> Iterator[list[tuple]]:
    """The query's rows as the database driver returns them, in lists of `chunk_rows`: plain
    tuples, not SQLAlchemy's result rows, which cost the records CSV a tenth of its rate or more.
    In the session's transaction; on PostgreSQL a server-side cursor sends a chunk at a time.
    (SQLAlchemy's before/after_cursor_execute events do not see this statement.)"""
    connection = db.session.connection()
    # The statement binds constants only: inlined, whatever the driver's parameter style. The
    # empty parameters make psycopg read `%%` (how a literal % is written for it) back as `%`.
    sql = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    driver = connection.connection.driver_connection
    server_side = connection.dialect.name == "postgresql"
    if server_side:
        begin_transaction(connection)  # a server-side cursor lives in a transaction
    cursor = driver.cursor(name="lms_export") if server_side else driver.cursor()
    try:
        cursor.execute(sql, ())
        while part := cursor.fetchmany(chunk_rows):
            yield part
    finally:
        cursor.close()


def matrix(filters: requirements.Filters, today: date) -> tuple[list[Column], Iterator[tuple]]:
    """The matrix as on screen: a person a row, a status and due date a course."""
    cat = requirements.catalogue()
    courses = requirements.columns(cat, filters)
    columns = PERSON + [
        column
        for course in courses
        for column in (
            Column(f"{course.slug}_status", f"{course.slug}.status"),
            Column(f"{course.slug}_due", f"{course.slug}.due", "date"),
        )
    ]
    ids = db.session.scalars(requirements.people(filters).with_only_columns(User.id)).all()

    def rows():
        # A batch at a time: each costs the same few queries, whatever the number of people.
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            users = db.session.scalars(select(User).where(User.id.in_(batch))).all()
            users.sort(key=lambda u: batch.index(u.id))
            for row in requirements.rows_for(users, cat, today):
                if filters.status and not requirements.matching(
                    [row], filters.status, {c.id for c in courses}
                ):
                    continue
                cells = [row.cells.get(c.id) for c in courses]
                yield (
                    *_person(row.user),
                    *[v for s in cells for v in ((s.status, s.due) if s else (None, None))],
                )

    return columns, rows()


def statements(base_url: str) -> Iterator[dict]:
    """xAPI statements of every finished attempt and every completion."""
    attempts = (
        select(Attempt)
        .where(Attempt.state == AttemptState.FINISHED)
        .options(selectinload(Attempt.user), selectinload(Attempt.item).selectinload(Item.course))
        .order_by(Attempt.id)
        .execution_options(yield_per=500)
    )
    for attempt in db.session.scalars(attempts):
        item = attempt.item
        yield from xapi.attempt_statements(attempt, attempt.user, item, item.course, base_url)
    completions = (
        select(Completion)
        .options(selectinload(Completion.user), selectinload(Completion.course))
        .order_by(Completion.id)
        .execution_options(yield_per=500)
    )
    for completion in db.session.scalars(completions):
        yield xapi.completion_statement(completion, completion.user, completion.course, base_url)


OVERDUE = [
    *PERSON,
    Column("course", "course"),
    Column("course_title", "course_title"),
    Column("due", "due", "date"),
    Column("status", "status"),
]


def overdue(today: date) -> tuple[list[Column], Iterator[tuple]]:
    """The overdue list as on screen."""
    rows = (
        (*_person(user), course.slug, course.title_zh, standing.due, standing.status)
        for user, course, standing in requirements.late(today)
    )
    return OVERDUE, rows
