"""The staff roster from HR: parse the CSV (pure), plan it against the people we have, apply it.

The file is the authority on each person it lists: their post, branch, manager and whether they
work here. Accounts are matched by employee number; the platform's own accounts (admin, trainers
without one) are never touched.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from types import MappingProxyType

from sqlalchemy import select

from . import audit
from .extensions import db
from .models import JOB_ROLE_NAMES, JobRole, Role, User

COLUMNS = (
    "employee_id",
    "name",
    "email",
    "branch",
    "department",
    "job_role",
    "level",
    "hire_date",
    "manager_id",
)
CHINESE_COLUMNS = dict(
    zip(
        ("工号", "姓名", "邮箱", "支行", "部门", "岗位", "职级", "入职日期", "直属上级"),
        COLUMNS,
        strict=True,
    )
)
REQUIRED = ("employee_id", "name", "job_role")
# The User columns' sizes: PostgreSQL refuses a longer value where SQLite would keep it.
MAX_LENGTHS = {
    "employee_id": 40,
    "name": 120,
    "email": 200,
    "branch": 120,
    "department": 120,
    "level": 40,
}
JOB_ROLES = {str(role): str(role) for role in JobRole} | {
    names["zh"]: str(role) for role, names in JOB_ROLE_NAMES.items()
}
EMAIL = re.compile(r"[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# The fields a roster sets on a person, by column, apart from the manager link.
PLAIN_FIELDS = ("name", "email", "branch", "department", "job_role", "level", "hire_date")
AUDIT_ACTION = "staff_import"

Error = tuple[int, str, str]


class RosterError(ValueError):
    """Everything wrong with a roster, as (line, column, message); column "" is the whole line."""

    def __init__(self, errors: Iterable[Error]) -> None:
        self.errors = sorted(errors, key=lambda error: error[0])
        super().__init__("\n".join(format_error(*error) for error in self.errors))


def format_error(line: int, column: str, message: str) -> str:
    """`line L, column C: message`, or `line L: message` for a problem of the whole line."""
    return f"line {line}, column {column}: {message}" if column else f"line {line}: {message}"


@dataclass(frozen=True)
class StaffRow:
    """One person as the roster gives them; empty text for an empty optional cell."""

    line: int
    employee_no: str
    name: str
    email: str
    branch: str
    department: str
    job_role: str
    level: str
    hire_date: date | None
    manager_no: str
    # The header as written (column -> label), so later checks name columns as the file does.
    labels: Mapping[str, str] = field(
        default_factory=lambda: {c: c for c in COLUMNS}, compare=False, repr=False
    )

    @property
    def username(self) -> str:
        return self.employee_no.lower()


def decode_roster(data: bytes) -> str:
    """The text of a roster file: UTF-8, with or without the byte-order mark Excel writes."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        # Excel's plain "CSV" is the Windows code page (GBK in China), the usual cause.
        message = "not UTF-8 text: in Excel, save as 'CSV UTF-8 (comma delimited)'"
        raise RosterError([(line, "", message)]) from None


def parse_roster(text: str, known: Collection[str] | None = None) -> list[StaffRow]:
    """The people of a roster CSV, or a RosterError listing every problem in it.

    With `known` (the employee numbers already on the platform) a manager must be in the file or
    among them; without it, plan_import checks the managers against the database.
    """
    records = _records(text.removeprefix("\ufeff"))
    if not records:
        raise RosterError([(1, "", "the file is empty")])
    (header_line, header), body = records[0], records[1:]
    columns, errors = _read_header(header_line, header)
    if errors:
        raise RosterError(errors)
    labels = MappingProxyType({c: header[i].strip() for c, i in columns.items()})
    rows = [(line, _values(cells, columns)) for line, cells in body]
    errors = [e for line, cells in body for e in _stray_cells(line, cells, columns)]
    errors += [e for line, values in rows for e in _field_errors(line, values, labels)]
    errors += _duplicate_errors(rows, labels)
    errors += _manager_errors(rows, labels, known)
    if not rows:
        errors.append((header_line, "", "the file has no staff rows"))
    if errors:
        # In reading order: by line, then by column as the header places them.
        place = {label: i for i, label in enumerate(h.strip() for h in header)}
        raise RosterError(sorted(errors, key=lambda e: (e[0], place.get(e[1], -1))))
    return [_row(line, values, labels) for line, values in rows]


def _records(text: str) -> list[tuple[int, list[str]]]:
    """Non-blank CSV records with the line each starts on (a quoted cell may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    records, end = [], 0
    try:
        for cells in reader:
            start, end = end + 1, reader.line_num
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
    except csv.Error as e:
        raise RosterError([(reader.line_num, "", f"not valid CSV: {e}")]) from None
    return records


def _read_header(line: int, header: list[str]) -> tuple[dict[str, int], list[Error]]:
    """Column -> position; English and Chinese names in any order, each exactly once."""
    columns: dict[str, int] = {}
    errors: list[Error] = []
    for index, label in enumerate(header):
        name = label.strip()
        if not name:
            continue
        column = CHINESE_COLUMNS.get(name, name.lower())
        if column not in COLUMNS:
            errors.append((line, name, "unknown column"))
        elif column in columns:
            errors.append((line, name, "the column appears twice"))
        else:
            columns[column] = index
    is_chinese = any(label.strip() in CHINESE_COLUMNS for label in header)
    names = {column: chinese for chinese, column in CHINESE_COLUMNS.items()} if is_chinese else {}
    errors += [(line, names.get(c, c), "missing column") for c in COLUMNS if c not in columns]
    return columns, errors


def _values(cells: list[str], columns: Mapping[str, int]) -> dict[str, str]:
    """The cells by column, stripped; a short row (as some tools write) reads as empty cells."""
    return {c: cells[i].strip() if i < len(cells) else "" for c, i in columns.items()}


def _stray_cells(line: int, cells: list[str], columns: Mapping[str, int]) -> list[Error]:
    """Values outside every named column: a shifted row would otherwise lose them silently."""
    named = set(columns.values())
    return [
        (line, "", f"value {cell.strip()!r} in column {i + 1}, which the header does not name")
        for i, cell in enumerate(cells)
        if i not in named and cell.strip()
    ]


def _field_errors(line: int, values: Mapping[str, str], labels: Mapping[str, str]) -> list[Error]:
    return [
        (line, labels[column], problem)
        for column, value in values.items()
        if (problem := field_problem(column, value))
    ]


def field_problem(column: str, value: str) -> str | None:
    """What is wrong with one cell, or None."""
    if not value:
        return "must not be empty" if column in REQUIRED else None
    if column in MAX_LENGTHS and len(value) > MAX_LENGTHS[column]:
        return f"longer than {MAX_LENGTHS[column]} characters"
    if column == "job_role" and _job_role(value) is None:
        return f"unknown job role {value!r} (a code such as customer_manager, or 客户经理)"
    if column == "hire_date" and _date(value) is None:
        return f"{value!r} is not a date as YYYY-MM-DD"
    if column == "email" and not EMAIL.fullmatch(value):
        return f"{value!r} is not an email address"
    return None


def _job_role(value: str) -> str | None:
    return JOB_ROLES.get(value) or JOB_ROLES.get(value.lower())


def _date(value: str) -> date | None:
    # date.fromisoformat alone also takes 20240105 and 2024-W01-1, which HR never means.
    if not ISO_DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _duplicate_errors(
    rows: Sequence[tuple[int, Mapping[str, str]]], labels: Mapping[str, str]
) -> list[Error]:
    # Compared as usernames: E001 and e001 would be two people with one login.
    first: dict[str, int] = {}
    errors = []
    for line, values in rows:
        number = values["employee_id"]
        if number and number.lower() in first:
            message = f"{number} is already on line {first[number.lower()]}"
            errors.append((line, labels["employee_id"], message))
        first.setdefault(number.lower(), line)
    return errors


def _manager_errors(
    rows: Sequence[tuple[int, Mapping[str, str]]],
    labels: Mapping[str, str],
    known: Collection[str] | None,
) -> list[Error]:
    in_file = {values["employee_id"] for _line, values in rows}
    errors = []
    for line, values in rows:
        manager = values["manager_id"]
        if manager and manager == values["employee_id"]:
            errors.append((line, labels["manager_id"], "a person cannot be their own manager"))
        elif manager and known is not None and manager not in in_file and manager not in known:
            errors.append((line, labels["manager_id"], _unknown_manager(manager)))
    return errors


def _unknown_manager(number: str) -> str:
    return f"no one has the employee_id {number!r}, in the file or on the platform"


def _row(line: int, values: Mapping[str, str], labels: Mapping[str, str]) -> StaffRow:
    return StaffRow(
        line=line,
        employee_no=values["employee_id"],
        name=values["name"],
        email=values["email"],
        branch=values["branch"],
        department=values["department"],
        job_role=_job_role(values["job_role"]) or "",
        level=values["level"],
        hire_date=_date(values["hire_date"]),
        manager_no=values["manager_id"],
        labels=labels,
    )


@dataclass(frozen=True)
class Change:
    """One field of a person that the import changes, both values as text."""

    field: str
    old: str
    new: str


@dataclass(frozen=True)
class StaffUpdate:
    user_id: int
    row: StaffRow
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Departure:
    user_id: int
    employee_no: str
    name: str


@dataclass(frozen=True)
class ImportSummary:
    created: int
    updated: int
    unchanged: int
    deactivated: int

    def __str__(self) -> str:
        return (
            f"created {self.created}, updated {self.updated}, "
            f"unchanged {self.unchanged}, deactivated {self.deactivated}"
        )


@dataclass(frozen=True)
class ImportPlan:
    """What an import would do; nothing of it is written until apply_import."""

    to_create: tuple[StaffRow, ...]
    to_update: tuple[StaffUpdate, ...]
    unchanged: tuple[StaffRow, ...]
    to_deactivate: tuple[Departure, ...]
    full: bool

    @property
    def summary(self) -> ImportSummary:
        return ImportSummary(
            len(self.to_create), len(self.to_update), len(self.unchanged), len(self.to_deactivate)
        )


def prepare_import(text: str, full: bool) -> ImportPlan:
    """Parse and plan a roster in one pass, so the file's problems are all reported at once."""
    known = set(db.session.scalars(select(User.employee_no).where(User.employee_no.is_not(None))))
    return plan_import(parse_roster(text, known), full)


def plan_import(rows: Sequence[StaffRow], full: bool) -> ImportPlan:
    """Compare the rows with the people on the platform; RosterError if they cannot be applied."""
    users = db.session.scalars(select(User)).all()
    by_number = {u.employee_no: u for u in users if u.employee_no is not None}
    errors = _reference_errors(rows, by_number) + _username_errors(rows, users, by_number)
    if errors:
        raise RosterError(errors)
    by_id = {u.id: u for u in users}
    to_create, to_update, unchanged = [], [], []
    for row in rows:
        user = by_number.get(row.employee_no)
        if user is None:
            to_create.append(row)
        elif changes := _changes(user, row, by_number, by_id):
            to_update.append(StaffUpdate(user.id, row, changes))
        else:
            unchanged.append(row)
    departures = _departures(rows, by_number) if full else ()
    return ImportPlan(tuple(to_create), tuple(to_update), tuple(unchanged), departures, full)


def _departures(rows: Sequence[StaffRow], by_number: Mapping[str, User]) -> tuple[Departure, ...]:
    """Active people with an employee number the full roster no longer lists.

    Administrators are left alone: a roster from HR must not lock the platform's admins out.
    """
    in_file = {row.employee_no for row in rows}
    return tuple(
        Departure(user.id, number, user.name)
        for number, user in sorted(by_number.items())
        if number not in in_file and user.is_active and not user.has_role(Role.ADMIN)
    )


def _reference_errors(rows: Sequence[StaffRow], by_number: Mapping[str, User]) -> list[Error]:
    in_file = {row.employee_no for row in rows}
    return [
        (row.line, row.labels["manager_id"], _unknown_manager(row.manager_no))
        for row in rows
        if row.manager_no and row.manager_no not in in_file and row.manager_no not in by_number
    ]


def _username_errors(
    rows: Sequence[StaffRow], users: Sequence[User], by_number: Mapping[str, User]
) -> list[Error]:
    # A new person's login is their employee number; an account may already have that name.
    taken = {u.username for u in users}
    return [
        (row.line, row.labels["employee_id"], f"the username {row.username!r} is already taken")
        for row in rows
        if row.employee_no not in by_number and row.username in taken
    ]


def _changes(
    user: User, row: StaffRow, by_number: Mapping[str, User], by_id: Mapping[int, User]
) -> tuple[Change, ...]:
    changes = [
        Change(name, _text(getattr(user, name)), _text(getattr(row, name)))
        for name in PLAIN_FIELDS
        if getattr(user, name) != getattr(row, name)
    ]
    manager = by_number.get(row.manager_no)
    # A manager who is new in this file has no account yet, so the link changes too.
    if user.manager_id != (manager.id if manager else None) or (row.manager_no and not manager):
        old = by_id.get(user.manager_id) if user.manager_id else None
        changes.append(Change("manager_id", _number(old), row.manager_no))
    if not user.is_active:
        changes.append(Change("is_active", "no", "yes"))
    return tuple(changes)


def _text(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def _number(user: User | None) -> str:
    """How a manager is named in a roster: employee number, else username."""
    if user is None:
        return ""
    return user.employee_no or user.username


def apply_import(plan: ImportPlan, actor: User | None, now: datetime) -> ImportSummary:
    """Write the plan and its audit entry in the session; the caller commits, all or nothing."""
    created = {row.employee_no: _new_user(row, now) for row in plan.to_create}
    db.session.add_all(created.values())
    for update in plan.to_update:
        user = db.session.get_one(User, update.user_id)
        _assign(user, update.row)
        user.is_active = True
    db.session.flush()
    _link_managers([*plan.to_create, *(u.row for u in plan.to_update)])
    for departure in plan.to_deactivate:
        db.session.get_one(User, departure.user_id).is_active = False
    summary = plan.summary
    details = asdict(summary) | {"full": plan.full}
    audit.record(actor, AUDIT_ACTION, "roster", details, now)
    return summary


def _new_user(row: StaffRow, now: datetime) -> User:
    user = User(username=row.username, employee_no=row.employee_no, created_at=now)
    _assign(user, row)
    # Unusable, like Django's "!" passwords: werkzeug never matches a hash it cannot parse, and
    # hashing thousands of random passwords nobody will ever know would take minutes.
    user.password_hash = "!" + secrets.token_hex(16)
    user.set_roles({Role.LEARNER.value})
    return user


def _assign(user: User, row: StaffRow) -> None:
    for name in PLAIN_FIELDS:
        setattr(user, name, getattr(row, name))


def _link_managers(rows: Sequence[StaffRow]) -> None:
    """Point each person at their manager's account, which may be new in this import."""
    query = select(User.employee_no, User.id).where(User.employee_no.is_not(None))
    ids = {number: user_id for number, user_id in db.session.execute(query)}
    for row in rows:
        user = db.session.get_one(User, ids[row.employee_no])
        user.manager_id = ids[row.manager_no] if row.manager_no else None


def describe(plan: ImportPlan) -> list[str]:
    """The plan as lines for the command line: who is created, updated (how) and deactivated."""
    lines = [f"create {row.employee_no} {row.name}" for row in plan.to_create]
    lines += [
        f"update {u.row.employee_no} {u.row.name}: "
        + "; ".join(f"{c.field} {c.old or '-'} -> {c.new or '-'}" for c in u.changes)
        for u in plan.to_update
    ]
    lines += [f"deactivate {d.employee_no} {d.name}" for d in plan.to_deactivate]
    return lines
