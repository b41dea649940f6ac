"""HR exports as (columns, rows) that a view streams: rows are generated, never all in memory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from . import requirements, xapi
from .extensions import db
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
    """Every completion record, oldest first: typed values, streamed."""
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
