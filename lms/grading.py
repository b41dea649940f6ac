"""Marks one question's response by Moodle's rules; essays are left to a human."""

import math
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .gift import Choice, NumericAnswer, Question

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_WILDCARD = re.compile(r"(\\\*|\*)")


@dataclass(frozen=True)
class Score:
    """Points earned out of points available, e.g. question fractions summed over a quiz."""

    points: float
    out_of: float

    @property
    def percent(self) -> float:
        """Points as a percentage of out_of (0 when nothing was available)."""
        return 100.0 * self.points / self.out_of if self.out_of else 0.0

    def __add__(self, other: "Score") -> "Score":
        return Score(self.points + other.points, self.out_of + other.out_of)


def grade(question: Question, response: Any) -> float | None:
    """The fraction of the mark earned, in [0, 1]; None when a human must mark it."""
    if question.qtype in ("essay", "description"):
        return None
    return min(1.0, max(0.0, _GRADERS[question.qtype](question, response)))


def correct_response(question: Question) -> Any:
    """A response that earns full marks, shaped like the responses grade() takes."""
    return _KEYS[question.qtype](question)


def feedback_for(question: Question, response: Any) -> str:
    """The per-answer feedback the response earns ("" if none)."""
    return _FEEDBACK[question.qtype](question, response)


# ---------------------------------------------------------------------------------------------
# Which answers a response picks


def _index(response: Any, size: int) -> int | None:
    # bool is an int subclass, but True is not a choice number.
    valid = isinstance(response, int) and not isinstance(response, bool)
    return response if valid and 0 <= response < size else None


def _picked(question: Question, response: Any) -> Choice | None:
    index = _index(response, len(question.choices))
    return None if index is None else question.choices[index]


def _picked_many(question: Question, response: Any) -> list[Choice]:
    if not isinstance(response, Iterable) or isinstance(response, str | bytes):
        return []
    indexes = {_index(item, len(question.choices)) for item in response} - {None}
    return [question.choices[i] for i in sorted(indexes)]


def _picked_truth(question: Question, response: Any) -> Choice | None:
    if not isinstance(response, bool):
        return None
    wanted = "true" if response else "false"
    return next(c for c in question.choices if c.text == wanted)


def _normalized(text: str) -> str:
    # NFKC makes full-width letters, digits and spaces (typed with Chinese input) plain ASCII.
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _answer_pattern(answer: str) -> re.Pattern[str]:
    """Moodle's short-answer pattern: `*` matches any run of characters, `\\*` a star."""
    parts = _WILDCARD.split(_normalized(answer))
    regex = "".join(_wildcard_part(part) for part in parts)
    return re.compile(regex, re.DOTALL)


def _wildcard_part(part: str) -> str:
    if part == "*":
        return ".*"
    return re.escape("*" if part == "\\*" else part)


def _best(candidates: Iterable[Choice] | Iterable[NumericAnswer]) -> Any:
    # max() keeps the first of equal weights, so the author's order breaks ties.
    return max(candidates, key=lambda answer: answer.weight, default=None)


def _matched_answer(question: Question, response: Any) -> Choice | None:
    if not isinstance(response, str) or not _normalized(response):
        return None
    typed = _normalized(response)
    return _best(c for c in question.choices if _answer_pattern(c.text).fullmatch(typed))


def _learner_number(response: Any) -> float | None:
    if isinstance(response, int | float) and not isinstance(response, bool):
        return float(response) if math.isfinite(response) else None
    if not isinstance(response, str):
        return None
    text = unicodedata.normalize("NFKC", response).strip()
    return float(text) if _NUMBER.fullmatch(text) else None


def _accepts(answer: NumericAnswer, value: float) -> bool:
    if answer.is_catch_all:
        return True
    # A little slack, as Moodle adds, so that 3.1415 +- 0.0005 still accepts 3.141 and 3.142.
    slack = 1e-12 * max(1.0, abs(answer.value), answer.tolerance)
    return answer.low - slack <= value <= answer.high + slack


def _matched_number(question: Question, response: Any) -> NumericAnswer | None:
    value = _learner_number(response)
    if value is None:
        return None
    return _best(n for n in question.numbers if _accepts(n, value))


def _matching_answer(response: Any, index: int) -> str | None:
    # Responses that went through JSON have their int keys turned into strings.
    if not isinstance(response, dict):
        return None
    chosen = response.get(index, response.get(str(index)))
    return chosen.strip() if isinstance(chosen, str) else None


# ---------------------------------------------------------------------------------------------
# Grades


def _weight(answer: Choice | NumericAnswer | None) -> float:
    return 0.0 if answer is None else answer.weight / 100


def _grade_multiresponse(question: Question, response: Any) -> float:
    return sum(c.weight for c in _picked_many(question, response)) / 100


def _grade_matching(question: Question, response: Any) -> float:
    asked = [(i, p) for i, p in enumerate(question.pairs) if p.left]
    right = sum(1 for i, p in asked if _matching_answer(response, i) == p.right)
    return right / len(asked) if asked else 0.0


_GRADERS: dict[str, Callable[[Question, Any], float]] = {
    "multichoice": lambda q, r: _weight(_picked(q, r)),
    "multiresponse": _grade_multiresponse,
    "truefalse": lambda q, r: _weight(_picked_truth(q, r)),
    "shortanswer": lambda q, r: _weight(_matched_answer(q, r)),
    "numerical": lambda q, r: _weight(_matched_number(q, r)),
    "matching": _grade_matching,
}


# ---------------------------------------------------------------------------------------------
# Keys


def _key_multichoice(question: Question) -> int:
    best = _best(question.choices)
    return question.choices.index(best)


def _key_multiresponse(question: Question) -> list[int]:
    return [i for i, c in enumerate(question.choices) if c.weight > 0]


def _key_truefalse(question: Question) -> bool:
    return next(c.text == "true" for c in question.choices if c.weight == 100)


def _key_shortanswer(question: Question) -> str:
    return _best(question.choices).text


def _key_numerical(question: Question) -> str:
    best = _best(n for n in question.numbers if not n.is_catch_all)
    # 15 digits hide the float noise of a range's midpoint (3.141..3.142 shows as 3.1415).
    return f"{best.value:.15g}"


def _key_matching(question: Question) -> dict[int, str]:
    return {i: p.right for i, p in enumerate(question.pairs) if p.left}


_KEYS: dict[str, Callable[[Question], Any]] = {
    "multichoice": _key_multichoice,
    "multiresponse": _key_multiresponse,
    "truefalse": _key_truefalse,
    "shortanswer": _key_shortanswer,
    "numerical": _key_numerical,
    "matching": _key_matching,
    "essay": lambda q: None,
    "description": lambda q: None,
}


# ---------------------------------------------------------------------------------------------
# Feedback


def _feedback(answer: Choice | NumericAnswer | None) -> str:
    return "" if answer is None else answer.feedback


def _feedback_multiresponse(question: Question, response: Any) -> str:
    return "\n".join(c.feedback for c in _picked_many(question, response) if c.feedback)


_FEEDBACK: dict[str, Callable[[Question, Any], str]] = {
    "multichoice": lambda q, r: _feedback(_picked(q, r)),
    "multiresponse": _feedback_multiresponse,
    "truefalse": lambda q, r: _feedback(_picked_truth(q, r)),
    "shortanswer": lambda q, r: _feedback(_matched_answer(q, r)),
    "numerical": lambda q, r: _feedback(_matched_number(q, r)),
    "matching": lambda q, r: "",
    "essay": lambda q, r: "",
    "description": lambda q, r: "",
}
