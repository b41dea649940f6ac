"""Pure rules of assignment: due dates, validity and standings, on a controlled calendar."""

from datetime import date, timedelta

import pytest

from lms.compliance import Rule, Status, add_months, due_on, expires_on, standing, strictest

HIRED = date(2026, 3, 1)
ASSIGNED = date(2026, 6, 1)


@pytest.mark.parametrize(
    ("rule", "due"),
    [
        (Rule(due_date=date(2026, 12, 31)), date(2026, 12, 31)),
        (Rule(due_days=30, due_from="hire", assigned_on=ASSIGNED), date(2026, 3, 31)),
        (Rule(due_days=30, due_from="assignment", assigned_on=ASSIGNED), date(2026, 7, 1)),
        (Rule(assigned_on=ASSIGNED), None),
    ],
)
def test_due_dates(rule, due):
    assert due_on(rule, HIRED) == due


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 11, 15), 12, date(2027, 11, 15)),
        (date(2026, 12, 1), 3, date(2027, 3, 1)),
        # Centuries are leap years only every fourth one.
        (date(2099, 12, 31), 2, date(2100, 2, 28)),
        (date(1999, 12, 31), 2, date(2000, 2, 29)),
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


def test_the_strictest_rule_is_mandatory_then_due_first():
    optional = Rule(is_mandatory=False, due_date=date(2026, 7, 1))
    late = Rule(due_date=date(2026, 12, 1))
    early = Rule(due_date=date(2026, 9, 1))
    undated = Rule()
    assert strictest([optional, late, undated, early], HIRED) == early
    assert strictest([optional, undated], HIRED) == undated
    assert strictest([], HIRED) is None


DUE = Rule(due_date=date(2026, 12, 31))
YEARLY = Rule(due_date=date(2026, 12, 31), valid_months=12, window_days=30)


@pytest.mark.parametrize(
    ("rule", "completed", "started", "today", "status", "due", "next_change"),
    [
        (DUE, None, False, date(2026, 11, 1), Status.NOT_STARTED, DUE.due_date, date(2026, 12, 17)),
        (DUE, None, True, date(2026, 11, 1), Status.IN_PROGRESS, DUE.due_date, date(2026, 12, 17)),
        (DUE, None, True, date(2026, 12, 20), Status.DUE_SOON, DUE.due_date, date(2027, 1, 1)),
        (DUE, None, False, date(2027, 1, 1), Status.OVERDUE, DUE.due_date, None),
        (DUE, date(2026, 12, 1), True, date(2030, 1, 1), Status.COMPLETE, None, None),
        (
            YEARLY,
            date(2026, 12, 1),
            True,
            date(2027, 6, 1),
            Status.COMPLETE,
            None,
            date(2027, 11, 1),
        ),
        (
            YEARLY,
            date(2026, 12, 1),
            True,
            date(2027, 11, 5),
            Status.RENEWAL_DUE,
            date(2027, 12, 1),
            date(2027, 12, 1),
        ),
        (
            YEARLY,
            date(2026, 12, 1),
            True,
            date(2027, 12, 2),
            Status.EXPIRED,
            date(2027, 12, 1),
            None,
        ),
    ],
)
def test_standing_on_a_given_day(rule, completed, started, today, status, due, next_change):
    result = standing(rule, HIRED, completed, started, today)
    assert (result.status, result.due, result.next_change) == (status, due, next_change)


@pytest.mark.parametrize(
    ("completed", "renew_on", "expires"),
    [
        (date(2026, 3, 10), "12-31", date(2026, 12, 31)),
        (date(2026, 12, 31), "12-31", date(2027, 12, 31)),
        (date(2027, 3, 1), "02-29", date(2028, 2, 29)),
        (date(2026, 1, 1), "02-29", date(2026, 2, 28)),
    ],
)
def test_valid_until_a_fixed_date_each_year(completed, renew_on, expires):
    assert expires_on(completed, Rule(renew_on=renew_on)) == expires
    yearly = Rule(renew_on=renew_on, window_days=30)
    after = expires + timedelta(days=1)
    assert standing(yearly, HIRED, completed, True, after).status == Status.EXPIRED
