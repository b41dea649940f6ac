"""Moodle's quiz statistics report, computed from plain attempt values.

The definitions follow docs.moodle.org/dev/Quiz_statistics_calculations and Moodle's
question/classes/statistics/questions/calculator.php, with every question worth the same
(a mark is the fraction earned, in [0, 1]):

- an attempt's score is 100 x sum(fractions) / number of questions; the quiz mean, median and
  standard deviation are taken over those scores;
- facility index F = 100 x mean fraction;
- SD = 100 x sample standard deviation (n - 1) of the fraction;
- discrimination index = 100 x Pearson correlation between the question's fraction and the
  score on the rest of the quiz (the other questions' fractions summed);
- discriminative efficiency = 100 x C / Cmax, where C is that covariance and Cmax the
  covariance had the attempts ranked the same on both (each list sorted on its own).

Which attempts are analysed: "all" treats every finished attempt as independent (as Moodle's
"all attempts" option); "first" keeps each user's first finished attempt, Moodle's default,
because later attempts build on feedback and break the assumptions of item analysis.

A question missing from an attempt counts as unanswered with fraction 0, Moodle's way of
treating omitted items.
"""

from __future__ import annotations

import math
import statistics as stats_lib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from lms.gift import Question

Which = Literal["first", "all"]

NOT_ENOUGH_DATA = "not enough data"
NEGATIVE_DISCRIMINATION = "negative discrimination"
LOW_DISCRIMINATION = "low discrimination"
TOO_EASY = "too easy"

# Thresholds in percent, as the report shows them (a correlation of 0.2 is 20).
LOW_DISCRIMINATION_BELOW = 20.0
TOO_EASY_ABOVE = 90.0

# Partial marks summed as floats (e.g. 3 x 1/3 on a matching question) may fall a hair short.
_FULL_CREDIT = 1.0 - 1e-9


@dataclass(frozen=True)
class AttemptRow:
    """One finished attempt: the fraction earned and the response given per question key."""

    user_id: int
    number: int
    fractions: dict[str, float]
    responses: dict[str, str]


@dataclass(frozen=True)
class ResponseCount:
    """How many analysed attempts gave one response, and whether it earned full credit."""

    response: str
    count: int
    percent: float
    is_correct: bool


@dataclass(frozen=True)
class QuestionStats:
    """One question's statistics, in percent; None where too few attempts define them."""

    key: str
    attempts: int
    facility: float | None
    sd: float | None
    discrimination: float | None
    discriminative_efficiency: float | None
    responses: tuple[ResponseCount, ...]


@dataclass(frozen=True)
class QuizStats:
    """Scores of the analysed attempts (percent) and each question's statistics."""

    attempts: int
    mean: float | None
    median: float | None
    sd: float | None
    questions: tuple[QuestionStats, ...]


def quiz_statistics(
    rows: Sequence[AttemptRow], question_keys: Sequence[str], which: Which = "all"
) -> QuizStats:
    """The statistics report of the attempts chosen by `which` ("first" or "all")."""
    keys = list(question_keys)
    if len(set(keys)) != len(keys):
        raise ValueError("question keys must be unique")
    chosen = select_attempts(rows, which)
    marks = [[row.fractions.get(key, 0.0) for key in keys] for row in chosen]
    scores = [100 * math.fsum(row) / len(keys) for row in marks] if keys else []
    questions = tuple(_question_stats(key, i, chosen, marks) for i, key in enumerate(keys))
    return QuizStats(
        attempts=len(chosen),
        mean=stats_lib.fmean(scores) if scores else None,
        median=stats_lib.median(scores) if scores else None,
        sd=stats_lib.stdev(scores) if len(scores) > 1 else None,
        questions=questions,
    )


def select_attempts(rows: Iterable[AttemptRow], which: Which) -> list[AttemptRow]:
    """All rows, or each user's lowest-numbered row when `which` is "first"."""
    if which == "all":
        return list(rows)
    if which != "first":
        raise ValueError(f"which must be 'first' or 'all', not {which!r}")
    first: dict[int, AttemptRow] = {}
    for row in rows:
        # The lowest number, not number == 1: an abandoned attempt 1 is not among the rows.
        if row.user_id not in first or row.number < first[row.user_id].number:
            first[row.user_id] = row
    return list(first.values())


def review_reasons(stats: QuestionStats, min_attempts: int = 5) -> list[str]:
    """Why a trainer should look at this question again; empty when it looks fine."""
    if stats.attempts < min_attempts:
        # Too few attempts make every figure noise; say so rather than judge the question.
        return [NOT_ENOUGH_DATA]
    reasons = []
    # None means the scores do not vary (everyone right or wrong): facility tells that story.
    if stats.discrimination is not None:
        if stats.discrimination < 0:
            reasons.append(NEGATIVE_DISCRIMINATION)
        elif stats.discrimination < LOW_DISCRIMINATION_BELOW:
            reasons.append(LOW_DISCRIMINATION)
    if stats.facility is not None and stats.facility > TOO_EASY_ABOVE:
        reasons.append(TOO_EASY)
    return reasons


def random_guess_score(question: Question) -> float | None:
    """Moodle's expected score (percent) of a learner answering at random; None if undefined."""
    match question.qtype:
        case "truefalse":
            return 50.0
        case "multichoice":
            # Moodle averages every choice's grade, negative ones included.
            weights = [choice.weight for choice in question.choices]
            return stats_lib.fmean(weights) if weights else None
        case "matching":
            # Extra wrong answers (empty left side) are offered too; equal texts show once.
            offered = {pair.right for pair in question.pairs}
            return 100 / len(offered) if offered else None
        case "shortanswer":
            stars = [c.weight for c in question.choices if c.text.strip() == "*"]
            return stars[0] if stars else 0.0
        case "numerical":
            any_number = [n.weight for n in question.numbers if n.is_catch_all]
            return any_number[0] if any_number else 0.0
        case _:
            # Multiple responses (Moodle gives up too), essays and descriptions.
            return None


def _question_stats(
    key: str, index: int, rows: Sequence[AttemptRow], marks: Sequence[Sequence[float]]
) -> QuestionStats:
    mine = [row[index] for row in marks]
    # Summed afresh rather than total - mine, so equal rests stay exactly equal.
    rest = [math.fsum(row[:index]) + math.fsum(row[index + 1 :]) for row in marks]
    discrimination, efficiency = _discrimination(mine, rest)
    return QuestionStats(
        key=key,
        attempts=len(mine),
        facility=100 * stats_lib.fmean(mine) if mine else None,
        sd=100 * stats_lib.stdev(mine) if len(mine) > 1 else None,
        discrimination=discrimination,
        discriminative_efficiency=efficiency,
        responses=_response_counts(key, rows),
    )


def _discrimination(
    mine: Sequence[float], rest: Sequence[float]
) -> tuple[float | None, float | None]:
    """Discrimination index and discriminative efficiency, both in percent."""
    if len(mine) < 2:
        return None, None
    # stats_lib.variance is exact, so scores that never vary give exactly 0, not float dust.
    variance_mine, variance_rest = stats_lib.variance(mine), stats_lib.variance(rest)
    if not variance_mine or not variance_rest:
        return None, None
    covariance = stats_lib.covariance(mine, rest)
    index = 100 * covariance / math.sqrt(variance_mine * variance_rest)
    best_covariance = stats_lib.covariance(sorted(mine), sorted(rest))
    efficiency = 100 * covariance / best_covariance if best_covariance > 0 else None
    return index, efficiency


def _response_counts(key: str, rows: Sequence[AttemptRow]) -> tuple[ResponseCount, ...]:
    """Responses by how often they were given, most frequent first."""
    counts: Counter[str] = Counter()
    correct: dict[str, bool] = {}
    for row in rows:
        response = " ".join(row.responses.get(key, "").split())
        counts[response] += 1
        # One response, two marks happens after a regrade or with a lossy display string;
        # claim full credit only when every attempt giving it earned full credit.
        full = row.fractions.get(key, 0.0) >= _FULL_CREDIT
        correct[response] = correct.get(response, True) and full
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(
        ResponseCount(response, count, 100 * count / len(rows), correct[response])
        for response, count in ordered
    )
