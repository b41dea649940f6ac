"""Quiz statistics, checked against figures worked out by hand with Moodle's definitions."""

import math
import statistics
from dataclasses import replace

import pytest

import lms.statistics as quiz_stats
from lms.gift import NumericAnswer, Question, parse_gift
from lms.statistics import (
    LOW_DISCRIMINATION,
    NEGATIVE_DISCRIMINATION,
    NOT_ENOUGH_DATA,
    TOO_EASY,
    AttemptRow,
    QuestionStats,
    ResponseCount,
    quiz_statistics,
    random_guess_score,
    review_reasons,
    select_attempts,
)

KEYS = ["capital", "organelle", "sky"]


def row(user_id: int, marks: tuple[float, ...], answers: tuple[str, ...]) -> AttemptRow:
    """A first attempt with one mark and one response per question of KEYS."""
    marks_by_key = dict(zip(KEYS, marks, strict=True))
    return AttemptRow(user_id, 1, marks_by_key, dict(zip(KEYS, answers, strict=True)))


# Five attempts on three questions: a single choice, a short answer with 50% partial credit
# for "cell", and a true/false that the weaker learners get right.
#
#          capital  organelle  sky   total  score %
#   u1     1        0.5        1     2.5    83.33
#   u2     1        0.5        1     2.5    83.33
#   u3     1        0.5        0     1.5    50
#   u4     0        0          1     1      33.33
#   u5     0        0          1     1      33.33
FIVE = [
    row(1, (1, 0.5, 1), ("Paris", "cell", "true")),
    row(2, (1, 0.5, 1), ("Paris", "cell", "true")),
    row(3, (1, 0.5, 0), ("Paris", "cell", "false")),
    row(4, (0, 0, 1), ("Lyon", "", "true")),
    row(5, (0, 0, 1), ("Lyon", "nucleus", "true")),
]


def test_quiz_scores_by_hand():
    # Totals 2.5 2.5 1.5 1 1: mean 8.5 / 5 = 1.7, i.e. 1.7 / 3 = 56.67%; median 1.5 = 50%.
    # Deviations from 1.7: .8 .8 -.2 -.7 -.7; squares sum .64+.64+.04+.49+.49 = 2.3;
    # variance 2.3 / 4 = .575; SD sqrt(.575) = .7583 marks = 100 x .7583 / 3 = 25.28%.
    result = quiz_statistics(FIVE, KEYS)

    assert result.attempts == 5
    assert result.mean == pytest.approx(100 * 1.7 / 3)
    assert result.median == pytest.approx(50)
    assert result.sd == pytest.approx(100 * math.sqrt(0.575) / 3)
    assert result.sd == pytest.approx(25.276, abs=1e-3)


def test_facility_sd_discrimination_by_hand():
    capital, organelle, sky = quiz_statistics(FIVE, KEYS).questions

    # capital: x = 1 1 1 0 0, mean .6, deviations .4 .4 .4 -.6 -.6, squares sum 1.2.
    #   SD sqrt(1.2 / 4) = sqrt(.3) = .5477.
    #   rest = organelle + sky = 1.5 1.5 .5 1 1, mean 1.1, deviations .4 .4 -.6 -.1 -.1,
    #   squares sum .16+.16+.36+.01+.01 = .70.
    #   cross products .16+.16-.24+.06+.06 = .20; r = .20 / sqrt(1.2 x .70) = 1/sqrt(21) = .2182.
    #   Cmax pairs the sorted deviations: (-.6)(-.6) + (-.6)(-.1) + .4(-.1) + .4(.4) + .4(.4)
    #   = .36+.06-.04+.16+.16 = .70; efficiency .20 / .70 = 2/7.
    assert capital.key == "capital"
    assert capital.attempts == 5
    assert capital.facility == pytest.approx(60)
    assert capital.sd == pytest.approx(100 * math.sqrt(0.3))
    assert capital.discrimination == pytest.approx(100 / math.sqrt(21))
    assert capital.discrimination == pytest.approx(21.82, abs=1e-2)
    assert capital.discriminative_efficiency == pytest.approx(100 * 2 / 7)

    # organelle: x = .5 .5 .5 0 0, mean .3, deviations .2 .2 .2 -.3 -.3, squares sum .30.
    #   SD sqrt(.30 / 4) = sqrt(.075) = .2739.
    #   rest = 2 2 1 1 1, mean 1.4, deviations .6 .6 -.4 -.4 -.4, squares sum 1.2.
    #   cross products .12+.12-.08+.12+.12 = .40; r = .40 / sqrt(.30 x 1.2) = .40 / .60 = 2/3.
    #   The sorted pairing is this very pairing, so Cmax = .40 and efficiency is 100%.
    assert organelle.facility == pytest.approx(30)
    assert organelle.sd == pytest.approx(100 * math.sqrt(0.075))
    assert organelle.discrimination == pytest.approx(200 / 3)
    assert organelle.discriminative_efficiency == pytest.approx(100)

    # sky: x = 1 1 0 1 1, mean .8, deviations .2 .2 -.8 .2 .2, squares sum .8.
    #   SD sqrt(.8 / 4) = sqrt(.2) = .4472.
    #   rest = 1.5 1.5 1.5 0 0, mean .9, deviations .6 .6 .6 -.9 -.9, squares sum 2.7.
    #   cross products .12+.12-.48-.18-.18 = -.60; r = -.60 / sqrt(.8 x 2.7) = -1/sqrt(6).
    #   Cmax = (-.8)(-.9) + .2(-.9) + .2(.6) x 3 = .72-.18+.36 = .90; efficiency -.6/.9 = -2/3.
    assert sky.facility == pytest.approx(80)
    assert sky.sd == pytest.approx(100 * math.sqrt(0.2))
    assert sky.discrimination == pytest.approx(-100 / math.sqrt(6))
    assert sky.discrimination == pytest.approx(-40.82, abs=1e-2)
    assert sky.discriminative_efficiency == pytest.approx(-200 / 3)


def test_discrimination_agrees_with_the_stdlib_correlation():
    questions = quiz_statistics(FIVE, KEYS).questions
    for index, question in enumerate(questions):
        mine = [r.fractions[question.key] for r in FIVE]
        rest = [sum(r.fractions.values()) - r.fractions[question.key] for r in FIVE]
        expected = 100 * statistics.correlation(mine, rest)
        assert question.discrimination == pytest.approx(expected), KEYS[index]


def test_response_spread_counts_percents_and_credit():
    capital, organelle, sky = quiz_statistics(FIVE, KEYS).questions

    assert capital.responses == (
        ResponseCount("Paris", 3, pytest.approx(60), True),
        ResponseCount("Lyon", 2, pytest.approx(40), False),
    )
    # Partial credit is not "correct"; unanswered shows as "" and ties sort by text.
    assert organelle.responses == (
        ResponseCount("cell", 3, pytest.approx(60), False),
        ResponseCount("", 1, pytest.approx(20), False),
        ResponseCount("nucleus", 1, pytest.approx(20), False),
    )
    assert sky.responses == (
        ResponseCount("true", 4, pytest.approx(80), True),
        ResponseCount("false", 1, pytest.approx(20), False),
    )


def test_responses_are_keyed_with_whitespace_collapsed():
    rows = [
        AttemptRow(1, 1, {"m": 1.0}, {"m": "Canada → Ottawa;  Italy → Rome"}),
        AttemptRow(2, 1, {"m": 1.0}, {"m": " Canada → Ottawa; Italy → Rome "}),
    ]
    (question,) = quiz_statistics(rows, ["m"]).questions
    assert question.responses == (ResponseCount("Canada → Ottawa; Italy → Rome", 2, 100.0, True),)


def test_partial_marks_summing_to_one_count_as_full_credit():
    third = 1 / 3
    rows = [AttemptRow(1, 1, {"m": third + third + third - 1e-12}, {"m": "all three"})]
    (question,) = quiz_statistics(rows, ["m"]).questions
    assert question.responses[0].is_correct


def test_a_response_is_correct_only_if_it_always_earned_full_credit():
    rows = [
        AttemptRow(1, 1, {"q": 1.0}, {"q": "42"}),
        AttemptRow(2, 1, {"q": 0.0}, {"q": "42"}),
    ]
    (question,) = quiz_statistics(rows, ["q"]).questions
    assert question.responses == (ResponseCount("42", 2, 100.0, False),)


def test_no_attempts():
    result = quiz_statistics([], KEYS)

    assert (result.attempts, result.mean, result.median, result.sd) == (0, None, None, None)
    for question in result.questions:
        assert question == QuestionStats(question.key, 0, None, None, None, None, ())
    assert [q.key for q in result.questions] == KEYS


def test_one_attempt():
    result = quiz_statistics(FIVE[:1], KEYS)

    # 2.5 of 3 marks; a single score has no spread and no correlation.
    assert result.attempts == 1
    assert result.mean == pytest.approx(250 / 3)
    assert result.median == pytest.approx(250 / 3)
    assert result.sd is None
    capital = result.questions[0]
    assert capital.facility == pytest.approx(100)
    assert (capital.sd, capital.discrimination, capital.discriminative_efficiency) == (
        None,
        None,
        None,
    )
    assert capital.responses == (ResponseCount("Paris", 1, 100.0, True),)


def test_question_everyone_got_right_has_no_discrimination():
    rows = [replace(r, fractions={**r.fractions, "sky": 1.0}) for r in FIVE]
    sky = quiz_statistics(rows, KEYS).questions[2]

    assert sky.facility == pytest.approx(100)
    assert sky.sd == 0
    assert sky.discrimination is None
    assert sky.discriminative_efficiency is None
    assert review_reasons(sky) == [TOO_EASY]


def test_constant_rest_of_quiz_has_no_discrimination():
    # The other question is always 0.1: float sums that could leave dust must still give None.
    rows = [AttemptRow(u, 1, {"a": u % 2, "b": 0.1}, {}) for u in range(6)]
    a = quiz_statistics(rows, ["a", "b"]).questions[0]
    assert a.discrimination is None


def test_missing_question_counts_as_unanswered_zero():
    rows = [AttemptRow(1, 1, {"a": 1.0}, {"a": "x"}), AttemptRow(2, 1, {"a": 1.0, "b": 1.0}, {})]
    result = quiz_statistics(rows, ["a", "b"])

    assert result.mean == pytest.approx(75)
    b = result.questions[1]
    assert b.facility == pytest.approx(50)
    assert b.responses == (ResponseCount("", 2, 100.0, False),)


def test_questions_follow_the_given_keys():
    result = quiz_statistics(FIVE, ["sky", "capital"])
    assert [q.key for q in result.questions] == ["sky", "capital"]
    # Score is now out of two questions: u1 has 2 of 2.
    assert result.median == pytest.approx(50)


def test_no_questions():
    result = quiz_statistics(FIVE, [])
    assert (result.attempts, result.mean, result.questions) == (5, None, ())


def test_duplicate_keys_are_refused():
    with pytest.raises(ValueError, match="unique"):
        quiz_statistics(FIVE, ["sky", "sky"])


# User 1 failed then passed, user 2 passed then failed; rows arrive in any order.
RETRIED = [
    AttemptRow(1, 2, {"q": 1.0}, {"q": "right"}),
    AttemptRow(2, 1, {"q": 1.0}, {"q": "right"}),
    AttemptRow(1, 1, {"q": 0.0}, {"q": "wrong"}),
    AttemptRow(2, 2, {"q": 0.0}, {"q": "wrong"}),
    AttemptRow(3, 3, {"q": 1.0}, {"q": "right"}),
]


def test_first_attempts_keep_each_users_lowest_number():
    chosen = select_attempts(RETRIED, "first")
    assert sorted((r.user_id, r.number) for r in chosen) == [(1, 1), (2, 1), (3, 3)]

    result = quiz_statistics(RETRIED, ["q"], which="first")
    assert result.attempts == 3
    assert result.questions[0].facility == pytest.approx(200 / 3)


def test_all_attempts_are_independent_and_the_default():
    result = quiz_statistics(RETRIED, ["q"])
    assert result == quiz_statistics(RETRIED, ["q"], which="all")
    assert result.attempts == 5
    assert result.questions[0].facility == pytest.approx(60)
    assert result.questions[0].responses == (
        ResponseCount("right", 3, pytest.approx(60), True),
        ResponseCount("wrong", 2, pytest.approx(40), False),
    )


def test_unknown_which_is_refused():
    with pytest.raises(ValueError, match="which"):
        quiz_statistics(RETRIED, ["q"], which="last")  # type: ignore[arg-type]


def stats(
    attempts: int = 10, facility: float | None = 50.0, discrimination: float | None = None
) -> QuestionStats:
    """Question statistics with just the figures review_reasons reads."""
    return QuestionStats("q", attempts, facility, 10.0, discrimination, None, ())


@pytest.mark.parametrize(
    ("question", "reasons"),
    [
        (stats(discrimination=45.0), []),
        (stats(discrimination=20.0), []),
        (stats(discrimination=19.9), [LOW_DISCRIMINATION]),
        (stats(discrimination=0.0), [LOW_DISCRIMINATION]),
        (stats(discrimination=-5.0), [NEGATIVE_DISCRIMINATION]),
        (stats(facility=90.0, discrimination=30.0), []),
        (stats(facility=95.0, discrimination=30.0), [TOO_EASY]),
        (stats(facility=95.0, discrimination=10.0), [LOW_DISCRIMINATION, TOO_EASY]),
        # Zero variance is not low discrimination once there are enough attempts.
        (stats(facility=0.0), []),
        (stats(attempts=4, discrimination=-50.0), [NOT_ENOUGH_DATA]),
        (stats(attempts=0, facility=None), [NOT_ENOUGH_DATA]),
    ],
)
def test_review_reasons(question, reasons):
    assert review_reasons(question) == reasons


def test_review_reasons_minimum_is_a_parameter():
    assert review_reasons(stats(attempts=4, discrimination=50.0), min_attempts=3) == []
    assert review_reasons(stats(attempts=10, discrimination=50.0), min_attempts=11) == [
        NOT_ENOUGH_DATA
    ]


def test_review_of_the_hand_computed_quiz():
    capital, organelle, sky = quiz_statistics(FIVE, KEYS).questions
    assert [review_reasons(q) for q in (capital, organelle, sky)] == [
        [],
        [],
        [NEGATIVE_DISCRIMINATION],
    ]
    assert review_reasons(sky, min_attempts=6) == [NOT_ENOUGH_DATA]


GUESSABLE = """
::mc:: Capital? {=Paris ~Lyon ~Nice ~Lille}

::penalty:: Pick {=A ~%-50%B ~C ~D}

::tf:: The sky is blue {T}

::match:: Match {=Canada -> Ottawa =Italy -> Rome =Japan -> Tokyo = -> Paris}

::same:: Match {=Lion -> Animal =Oak -> Plant =Cat -> Animal}

::star:: Name it {=cell =%50%*}

::typed:: Name it {=cell}

::number:: Pi? {#3.14:0.01}

::multi:: Pick two {~%50%A ~%50%B ~%-100%C}

::essay:: Why? {}
"""


def test_random_guess_scores_follow_moodle():
    guesses = {q.name: random_guess_score(q) for q in parse_gift(GUESSABLE)}

    assert guesses == {
        "mc": pytest.approx(25),  # (100 + 0 + 0 + 0) / 4
        "penalty": pytest.approx(12.5),  # (100 - 50 + 0 + 0) / 4
        "tf": 50,
        "match": pytest.approx(25),  # four answers offered, the extra one included
        "same": pytest.approx(50),  # "Animal" is offered once
        "star": 50,  # the `*` answer matches anything
        "typed": 0,
        "number": 0,
        "multi": None,
        "essay": None,
    }


def test_random_guess_score_of_a_catch_all_number():
    question = Question(
        "numerical", "Pi?", numbers=(NumericAnswer(3.14, 0.01), NumericAnswer(0, math.inf, 10))
    )
    assert random_guess_score(question) == 10


def test_the_stdlib_statistics_module_is_used_not_this_one():
    assert quiz_stats.stats_lib is statistics
    assert quiz_stats.stats_lib.__file__ != quiz_stats.__file__
