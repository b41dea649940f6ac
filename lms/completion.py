"""Pure rules of progress: quiz results, review, attempts, course completion, locking."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

# A request in flight when the clock runs out still counts: the browser submits at zero.
DEADLINE_GRACE = timedelta(seconds=5)


@dataclass(frozen=True)
class QuizResult:
    points: float
    out_of: float
    percent: float
    is_passed: bool
    needs_grading: bool


def quiz_result(fractions: Sequence[float | None], pass_mark: float) -> QuizResult:
    """Sum question fractions; None is a question awaiting a grader, counted 0 until graded."""
    points = sum(f for f in fractions if f is not None)
    out_of = float(len(fractions))
    percent = round(100 * points / out_of, 2) if out_of else 0.0
    pending = any(f is None for f in fractions)
    return QuizResult(points, out_of, percent, not pending and percent >= pass_mark, pending)


def attempts_left(max_attempts: int, used: int) -> int | None:
    """Attempts still allowed; None when unlimited."""
    return None if max_attempts == 0 else max(0, max_attempts - used)


def can_start_attempt(max_attempts: int, used: int) -> bool:
    return max_attempts == 0 or used < max_attempts


@dataclass(frozen=True)
class ReviewView:
    shows_marks: bool
    shows_correct: bool
    shows_feedback: bool


def review_view(policy: str, is_final: bool) -> ReviewView:
    """What a finished attempt may show; `is_final` once passed or no attempt is left."""
    if policy == "immediate":
        return ReviewView(True, True, True)
    if policy == "after_final":
        return ReviewView(True, is_final, is_final)
    return ReviewView(False, False, False)


def deadline(started_at: datetime, time_limit_minutes: int) -> datetime | None:
    return started_at + timedelta(minutes=time_limit_minutes) if time_limit_minutes else None


def is_past(deadline_at: datetime | None, now: datetime) -> bool:
    return deadline_at is not None and now > deadline_at + DEADLINE_GRACE


def is_complete(required: Iterable[int], done: Iterable[int]) -> bool:
    """A course is complete when every required item is done."""
    return set(required) <= set(done)


def progress_percent(done: int, total: int) -> int:
    return round(100 * done / total) if total else 0


def quiz_grade(method: str, percents: Sequence[float]) -> float | None:
    """The quiz's grade from the finished attempts' percents, in the order they were taken."""
    if not percents:
        return None
    if method == "last":
        return percents[-1]
    if method == "first":
        return percents[0]
    if method == "average":
        return round(sum(percents) / len(percents), 2)
    return max(percents)


def course_percent(best_quiz_percents: Sequence[float]) -> float | None:
    """A course's score: the mean of its required quizzes' best passing results."""
    if not best_quiz_percents:
        return None
    return round(sum(best_quiz_percents) / len(best_quiz_percents), 2)


def is_locked(required_course_ids: Iterable[int], completed_course_ids: Iterable[int]) -> bool:
    return not set(required_course_ids) <= set(completed_course_ids)


def with_prerequisites(assigned: Sequence[int], requires: dict[int, list[int]]) -> list[int]:
    """Assigned tracks and, before each, the tracks it requires (transitively), each once."""
    ordered: list[int] = []

    def visit(track_id: int, path: frozenset[int]) -> None:
        if track_id in ordered or track_id in path:
            return
        for required in requires.get(track_id, []):
            visit(required, path | {track_id})
        ordered.append(track_id)

    for track_id in assigned:
        visit(track_id, frozenset())
    return ordered


def current_cycle(latest_cycle: int | None, stands: bool, renewing: bool) -> tuple[int, bool]:
    """The cycle a learner works in for a course, and whether their latest completion counts.

    A completion stops standing when a material change, a revocation or its expiry makes it
    stale: the learner is assigned the course again in the next cycle, and the old record stays
    as it was. In the renewal window before expiry it still counts while the next cycle begins.
    """
    if latest_cycle is None:
        return 1, False
    if stands and not renewing:
        return latest_cycle, True
    return latest_cycle + 1, stands
