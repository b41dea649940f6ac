"""Pure rules of assignment: due dates, validity, and where a person stands on a requirement."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import NamedTuple

DUE_SOON_DAYS = 14


class Status(StrEnum):
    COMPLETE = "complete"
    RENEWAL_DUE = "renewal_due"
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Rule:
    """What an assignment asks of one person for one course."""

    is_mandatory: bool = True
    due_date: date | None = None
    due_days: int | None = None
    due_from: str = "assignment"
    valid_months: int | None = None
    # Or valid until a fixed calendar date each year, as "MM-DD" (e.g. "12-31").
    renew_on: str | None = None
    window_days: int = 30
    assigned_on: date | None = None


def due_on(rule: Rule, hire_date: date | None) -> date | None:
    """The first due date: fixed, or N days after the hire date or the assignment."""
    if rule.due_date is not None:
        return rule.due_date
    start = hire_date if rule.due_from == "hire" else rule.assigned_on
    if rule.due_days is None or start is None:
        return None
    return start + timedelta(days=rule.due_days)


def add_months(day: date, months: int) -> date:
    """The same day N months later, or the month's last day (31 January + 1 month = 28/29 Feb)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, _month_days(year, month)))


def expires_on(completed_on: date | None, rule: Rule) -> date | None:
    """When a completion stops counting: N months on, or the next fixed date of the year."""
    if completed_on is None:
        return None
    if rule.renew_on:
        month, day = (int(part) for part in rule.renew_on.split("-"))
        this_year = _calendar_day(completed_on.year, month, day)
        return (
            this_year
            if this_year > completed_on
            else _calendar_day(completed_on.year + 1, month, day)
        )
    return add_months(completed_on, rule.valid_months) if rule.valid_months else None


def _calendar_day(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, _month_days(year, month)))


def _month_days(year: int, month: int) -> int:
    # Not calendar.monthrange, which works out the month's first weekday too: a matrix page
    # asks this for hundreds of records.
    return calendar.mdays[month] + (month == 2 and calendar.isleap(year))


def strictest(rules: Iterable[Rule], hire_date: date | None) -> Rule | None:
    """Of several assignments of one course, the one that counts: mandatory, then due first."""

    def key(rule: Rule):
        due = due_on(rule, hire_date)
        return (not rule.is_mandatory, due is None, due or date.max, -(rule.valid_months or 0))

    ordered = sorted(rules, key=key)
    return ordered[0] if ordered else None


class Standing(NamedTuple):
    """Where a person stands on one requirement, and when that changes next. A named tuple: a
    matrix page makes a thousand, and each worker keeps tens of thousands."""

    status: Status
    due: date | None
    expires: date | None
    next_change: date | None


def standing(
    rule: Rule,
    hire_date: date | None,
    completed_on: date | None,
    is_started: bool,
    today: date,
) -> Standing:
    """The status of a requirement on a given day, from the last completion that counts."""
    expires = expires_on(completed_on, rule)
    if completed_on is not None and (expires is None or today < expires):
        renew_from = expires - timedelta(days=rule.window_days) if expires else None
        if renew_from is not None and today >= renew_from:
            return Standing(Status.RENEWAL_DUE, expires, expires, expires)
        return Standing(Status.COMPLETE, None, expires, renew_from)
    due = expires if completed_on is not None else due_on(rule, hire_date)
    if due is not None and today > due:
        return Standing(Status.EXPIRED if completed_on else Status.OVERDUE, due, expires, None)
    if due is not None and today >= due - timedelta(days=DUE_SOON_DAYS):
        return Standing(Status.DUE_SOON, due, expires, due + timedelta(days=1))
    status = Status.IN_PROGRESS if is_started else Status.NOT_STARTED
    soon = due - timedelta(days=DUE_SOON_DAYS) if due else None
    return Standing(status, due, expires, soon)
