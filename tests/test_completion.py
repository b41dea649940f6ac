"""The pure rules of progress, without an app."""

from datetime import datetime, timedelta

import pytest

from lms import completion as rules


@pytest.mark.parametrize(
    ("fractions", "pass_mark", "percent", "passed", "pending"),
    [
        ([1, 1, 1, 1], 80, 100.0, True, False),
        ([1, 1, 1, 0], 80, 75.0, False, False),
        ([1, 1, 1, 0], 75, 75.0, True, False),
        ([1, 0.5, 0, 1], 60, 62.5, True, False),
        ([1, None], 50, 50.0, False, True),
        ([], 80, 0.0, False, False),
    ],
)
def test_quiz_result(fractions, pass_mark, percent, passed, pending):
    result = rules.quiz_result(fractions, pass_mark)
    assert (result.percent, result.is_passed, result.needs_grading) == (percent, passed, pending)


@pytest.mark.parametrize(
    ("max_attempts", "used", "left", "can_start"),
    [(0, 5, None, True), (3, 0, 3, True), (3, 2, 1, True), (3, 3, 0, False), (1, 4, 0, False)],
)
def test_attempts(max_attempts, used, left, can_start):
    assert rules.attempts_left(max_attempts, used) == left
    assert rules.can_start_attempt(max_attempts, used) is can_start


@pytest.mark.parametrize(
    ("policy", "is_final", "expected"),
    [
        ("immediate", False, (True, True, True)),
        ("after_final", False, (True, False, False)),
        ("after_final", True, (True, True, True)),
        ("score", True, (False, False, False)),
    ],
)
def test_review_view(policy, is_final, expected):
    view = rules.review_view(policy, is_final)
    assert (view.shows_marks, view.shows_correct, view.shows_feedback) == expected


def test_deadline_and_grace():
    start = datetime(2026, 11, 29, 9, 0)
    end = rules.deadline(start, 30)
    assert end == start + timedelta(minutes=30)
    assert rules.deadline(start, 0) is None
    assert not rules.is_past(end, end + rules.DEADLINE_GRACE)
    assert rules.is_past(end, end + rules.DEADLINE_GRACE + timedelta(seconds=1))
    assert not rules.is_past(None, end + timedelta(days=1))


@pytest.mark.parametrize(
    ("required", "done", "complete"),
    [({1, 2}, {1, 2, 3}, True), ({1, 2}, {1}, False), (set(), set(), True)],
)
def test_is_complete(required, done, complete):
    assert rules.is_complete(required, done) is complete


def test_course_percent_is_the_mean_of_best_quiz_results():
    assert rules.course_percent([80.0, 100.0]) == 90.0
    assert rules.course_percent([]) is None


def test_locked_until_every_required_course_is_complete():
    assert rules.is_locked({1, 2}, {1})
    assert not rules.is_locked({1, 2}, {1, 2, 5})
    assert not rules.is_locked(set(), set())


@pytest.mark.parametrize(
    ("assigned", "requires", "expected"),
    [
        ([3], {3: [2], 2: [1]}, [1, 2, 3]),
        ([1, 3], {3: [1]}, [1, 3]),
        ([2], {2: [1], 1: [2]}, [1, 2]),  # a cycle in the data does not loop forever
        ([5], {}, [5]),
    ],
)
def test_tracks_come_after_their_prerequisites(assigned, requires, expected):
    assert rules.with_prerequisites(assigned, requires) == expected


@pytest.mark.parametrize(
    ("method", "percents", "grade"),
    [
        ("highest", [50.0, 90.0, 70.0], 90.0),
        ("last", [50.0, 90.0, 70.0], 70.0),
        ("first", [50.0, 90.0, 70.0], 50.0),
        ("average", [50.0, 90.0, 70.0], 70.0),
        ("average", [100.0, 50.0], 75.0),
        ("highest", [], None),
    ],
)
def test_quiz_grade_by_method(method, percents, grade):
    assert rules.quiz_grade(method, percents) == grade


@pytest.mark.parametrize(
    ("latest_cycle", "stands", "renewing", "expected"),
    [
        (None, False, False, (1, False)),
        (1, True, False, (1, True)),
        (1, False, False, (2, False)),  # stale: a material change, a revocation or expiry
        (2, True, True, (3, True)),  # in the renewal window the old record still counts
    ],
)
def test_current_cycle(latest_cycle, stands, renewing, expected):
    assert rules.current_cycle(latest_cycle, stands, renewing) == expected
