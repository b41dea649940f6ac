"""Grading one response, question type by question type."""

import pytest

from lms.gift import Question, parse_gift
from lms.grading import Score, correct_response, feedback_for, grade


def one(source: str) -> Question:
    [question] = parse_gift(source)
    return question


MULTICHOICE = one("Q {~wrong#No ~%50%half#Half =right#Yes ~%-50%bad#Ouch}")
MULTIRESPONSE = one("Q {~%50%a#A ~%50%b#B ~%-100%c#C ~d}")
TRUE = one("Q {T#You picked false#You picked true}")
FALSE = one("Q {F}")
SHORT = one("Capital? {=Paris#Right =%50%Paris France#Just Paris =%0%*#No}")
WILDCARD = one(r"Q {=*ing =run\*#Literal star}")
CHINESE = one("首都？ {=北京 =%50%北京市}")
BEST_WINS = one("Q {=%50%a*#Some =ab#All}")
PI = one("Pi? {#3.1415:0.0005}")
EDGES = one("Q {#=1.1:0.2 =%50%0.3:0.15}")  # in floats 1.1 - 0.2 > 0.9 and 0.3 + 0.15 < 0.45
RANGE = one("Q {#1..5}")
GRANT = one("Born? {#=1822:0#Right =%50%1822:2#Close}")
CATCH_ALL = one("Q {#3:2#Fine ~#Completely wrong}")
NEGATIVE = one("Q {#-3}")
BIG = one("Q {#1000}")
MATCHING = one("Q {=a -> 1 =b -> 2 =c -> 3 = -> 4}")
ESSAY = one("Q {}")
DESCRIPTION = one("Read this.")


@pytest.mark.parametrize(
    ("question", "response", "fraction"),
    [
        (MULTICHOICE, 0, 0.0),
        (MULTICHOICE, 1, 0.5),
        (MULTICHOICE, 2, 1.0),
        (MULTICHOICE, 3, 0.0),  # -50% is clamped to 0
        (MULTICHOICE, None, 0.0),
        (MULTICHOICE, 4, 0.0),
        (MULTICHOICE, -1, 0.0),
        (MULTICHOICE, True, 0.0),
        (MULTICHOICE, "2", 0.0),
        (MULTIRESPONSE, [0, 1], 1.0),
        (MULTIRESPONSE, {1, 0}, 1.0),
        (MULTIRESPONSE, [0], 0.5),
        (MULTIRESPONSE, [0, 0], 0.5),
        (MULTIRESPONSE, [0, 3], 0.5),
        (MULTIRESPONSE, [0, 1, 3], 1.0),
        (MULTIRESPONSE, [0, 1, 2], 0.0),
        (MULTIRESPONSE, [0, 2], 0.0),  # -50% is clamped to 0
        (MULTIRESPONSE, [2], 0.0),
        (MULTIRESPONSE, [], 0.0),
        (MULTIRESPONSE, None, 0.0),
        (MULTIRESPONSE, [0, 9, -1], 0.5),
        (MULTIRESPONSE, "01", 0.0),
        (TRUE, True, 1.0),
        (TRUE, False, 0.0),
        (TRUE, None, 0.0),
        (TRUE, 1, 0.0),
        (FALSE, False, 1.0),
        (FALSE, True, 0.0),
    ],
)
def test_choice_questions(question, response, fraction):
    assert grade(question, response) == fraction


@pytest.mark.parametrize(
    ("question", "response", "fraction"),
    [
        (SHORT, "Paris", 1.0),
        (SHORT, "  paris ", 1.0),
        (SHORT, "PARIS", 1.0),
        (SHORT, "paris   france", 0.5),
        (SHORT, "Paris\tFrance", 0.5),
        (SHORT, "Ｐａｒｉｓ", 1.0),  # full-width letters
        (SHORT, "Paris\u3000France", 0.5),  # full-width space
        (SHORT, "London", 0.0),  # only the 0% wildcard matches
        (SHORT, "Pari", 0.0),
        (SHORT, "", 0.0),
        (SHORT, "   ", 0.0),
        (SHORT, None, 0.0),
        (SHORT, 42, 0.0),
        (WILDCARD, "running", 1.0),
        (WILDCARD, "ing", 1.0),
        (WILDCARD, "Sing a song", 0.0),
        (WILDCARD, "run*", 1.0),
        (WILDCARD, "runs", 0.0),
        (WILDCARD, "run", 0.0),
        (CHINESE, "北京", 1.0),
        (CHINESE, " 北京\u3000", 1.0),
        (CHINESE, "北京市", 0.5),
        (CHINESE, "上海", 0.0),
        (BEST_WINS, "ab", 1.0),
        (BEST_WINS, "abc", 0.5),
        (BEST_WINS, "b", 0.0),
    ],
)
def test_short_answers(question, response, fraction):
    assert grade(question, response) == fraction


@pytest.mark.parametrize(
    ("question", "response", "fraction"),
    [
        (PI, "3.1415", 1.0),
        (PI, "3.141", 1.0),  # the edges of the tolerance are in
        (PI, "3.142", 1.0),
        (PI, "3.1409", 0.0),
        (PI, "3.1421", 0.0),
        (PI, 3.1415, 1.0),
        (PI, " 3.1415 ", 1.0),
        (PI, "31415e-4", 1.0),
        (PI, "３.１４１５", 1.0),  # full-width digits
        (PI, "3,1415", 0.0),
        (PI, "pi", 0.0),
        (PI, "", 0.0),
        (PI, None, 0.0),
        (PI, True, 0.0),
        (PI, float("nan"), 0.0),
        (EDGES, "0.9", 1.0),
        (EDGES, "1.3", 1.0),
        (EDGES, "0.45", 0.5),
        (EDGES, "0.15", 0.5),
        (EDGES, "0.1499", 0.0),
        (RANGE, "1", 1.0),
        (RANGE, "5", 1.0),
        (RANGE, 3, 1.0),
        (RANGE, "0.999", 0.0),
        (RANGE, "5.001", 0.0),
        (GRANT, "1822", 1.0),
        (GRANT, "1820", 0.5),
        (GRANT, "1824", 0.5),
        (GRANT, "1819.9", 0.0),
        (GRANT, "1825", 0.0),
        (CATCH_ALL, "4", 1.0),
        (CATCH_ALL, "10", 0.0),
        (NEGATIVE, "-3", 1.0),
        (NEGATIVE, "3", 0.0),
        (NEGATIVE, "+3", 0.0),
        (BIG, "1e3", 1.0),
        (BIG, "1000.0", 1.0),
        (BIG, "2415", 0.0),
        (BIG, "1 000", 0.0),
    ],
)
def test_numbers(question, response, fraction):
    assert grade(question, response) == fraction


@pytest.mark.parametrize(
    ("response", "fraction"),
    [
        ({0: "1", 1: "2", 2: "3"}, 1.0),
        ({0: "1", 1: "3", 2: "2"}, pytest.approx(1 / 3)),
        ({0: "2", 1: "3", 2: "1"}, 0.0),
        ({0: "1", 1: "2"}, pytest.approx(2 / 3)),
        ({0: "4", 1: "4", 2: "4"}, 0.0),
        ({"0": "1", "1": "2", "2": "3"}, 1.0),  # keys as JSON leaves them
        ({0: " 1 "}, pytest.approx(1 / 3)),
        ({3: "4"}, 0.0),
        ({}, 0.0),
        (None, 0.0),
        ([("0", "1")], 0.0),
    ],
)
def test_matching(response, fraction):
    assert grade(MATCHING, response) == fraction


@pytest.mark.parametrize("response", [None, "", "A long answer", 1])
def test_essays_and_descriptions_need_no_grade(response):
    assert grade(ESSAY, response) is None
    assert grade(DESCRIPTION, response) is None


@pytest.mark.parametrize(
    ("question", "key"),
    [
        (MULTICHOICE, 2),
        (MULTIRESPONSE, [0, 1]),
        (TRUE, True),
        (FALSE, False),
        (SHORT, "Paris"),
        (BEST_WINS, "ab"),
        (PI, "3.1415"),
        (one("Q {#3.141..3.142}"), "3.1415"),
        (GRANT, "1822"),
        (CATCH_ALL, "3"),
        (NEGATIVE, "-3"),
        (MATCHING, {0: "1", 1: "2", 2: "3"}),
        (ESSAY, None),
        (DESCRIPTION, None),
    ],
)
def test_correct_response(question, key):
    assert correct_response(question) == key


FILE = """
Q1 {~a =b ~c}

Q2 {~%50%a ~%50%b ~%-100%c}

Q3 {T}

Q4 {FALSE}

Q5 {=%50%x =yes}

Q6 {#=%50%2 =2.5:0.1 ~#no}

Q7 {#0.1..0.7}

Q8 {=a -> 1 =b -> 2 = -> 3}
"""


@pytest.mark.parametrize("question", parse_gift(FILE), ids=lambda q: q.text)
def test_correct_response_earns_full_marks(question):
    assert grade(question, correct_response(question)) == 1.0


@pytest.mark.parametrize(
    ("question", "response", "feedback"),
    [
        (MULTICHOICE, 0, "No"),
        (MULTICHOICE, 2, "Yes"),
        (MULTICHOICE, None, ""),
        (MULTIRESPONSE, [1, 0, 3], "A\nB"),
        (MULTIRESPONSE, [2], "C"),
        (MULTIRESPONSE, [], ""),
        (TRUE, True, "You picked true"),
        (TRUE, False, "You picked false"),
        (TRUE, None, ""),
        (FALSE, True, ""),
        (SHORT, "paris", "Right"),
        (SHORT, "Paris France", "Just Paris"),
        (SHORT, "Rome", "No"),
        (SHORT, "", ""),
        (BEST_WINS, "ab", "All"),
        (BEST_WINS, "abc", "Some"),
        (WILDCARD, "run*", "Literal star"),
        (GRANT, "1822", "Right"),
        (GRANT, "1823", "Close"),
        (GRANT, "1900", ""),
        (CATCH_ALL, "3", "Fine"),
        (CATCH_ALL, "300", "Completely wrong"),
        (CATCH_ALL, "three", ""),
        (MATCHING, {0: "1"}, ""),
        (ESSAY, "text", ""),
        (DESCRIPTION, None, ""),
    ],
)
def test_feedback_for(question, response, feedback):
    assert feedback_for(question, response) == feedback


@pytest.mark.parametrize(
    ("score", "percent"),
    [
        (Score(3, 4), 75.0),
        (Score(0, 4), 0.0),
        (Score(2.5, 2.5), 100.0),
        (Score(0, 0), 0.0),
    ],
)
def test_score_percent(score, percent):
    assert score.percent == percent


def test_scores_add_up():
    fractions = [1.0, 0.5, 0.0]
    total = sum((Score(f, 1) for f in fractions), Score(0, 0))
    assert total == Score(1.5, 3)
    assert total.percent == 50.0
