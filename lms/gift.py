"""Moodle GIFT quiz format: parse a file into Questions and write Questions back.

Question types are decided as Moodle's importer decides them (question/format/gift/format.php);
what makes a question valid follows Moodle's question editing forms.
"""

import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, TypeVar

QTYPES = (
    "multichoice",
    "multiresponse",
    "truefalse",
    "shortanswer",
    "numerical",
    "matching",
    "essay",
    "description",
)
TEXT_FORMATS = ("moodle", "markdown", "html", "plain")
BLANK = "_____"

_TRUE_FALSE = {"T": True, "TRUE": True, "F": False, "FALSE": False}
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_FORMAT_TAG = re.compile(r"\[([A-Za-z]+)\]")
_WEIGHT_TAG = re.compile(r"%([^%]*)%")

# Escaped characters become private-use placeholders while a question is cut up, so that no
# splitting step can mistake them for syntax; they turn back into characters at the very end.
_ESCAPABLE = "\\:#={}~n"
_ESCAPE_SEQUENCE = re.compile(r"\\([\\:#={}~n])")
_PLACEHOLDER = {c: chr(0xE000 + i) for i, c in enumerate(_ESCAPABLE)}
_UNHIDE = str.maketrans({p: "\n" if c == "n" else c for c, p in _PLACEHOLDER.items()})
# A backslash is doubled when what follows it in the output would make an escape sequence.
_LONE_BACKSLASH = re.compile(r"\\(?=[\\:#={}~n\n]|\Z)")

_NAME_CONTROLS = ":#={}~"
_TEXT_CONTROLS = "{}"
_BLOCK_CONTROLS = "=~#{}"


@dataclass(frozen=True)
class Choice:
    """An option of a multichoice, multiresponse or truefalse question, or a short answer."""

    text: str
    weight: float
    feedback: str = ""


@dataclass(frozen=True)
class NumericAnswer:
    """An accepted interval of a numerical question; infinite tolerance is Moodle's `*` answer."""

    value: float
    tolerance: float
    weight: float = 100.0
    feedback: str = ""
    is_range: bool = False

    @property
    def low(self) -> float:
        """Smallest accepted value."""
        return self.value - self.tolerance

    @property
    def high(self) -> float:
        """Largest accepted value."""
        return self.value + self.tolerance

    @property
    def is_catch_all(self) -> bool:
        """True for the `~#feedback` answer that matches any number."""
        return math.isinf(self.tolerance)


@dataclass(frozen=True)
class Pair:
    """A matching sub-question; an empty left side is an extra wrong answer."""

    left: str
    right: str


@dataclass(frozen=True)
class Question:
    """One GIFT question, with escapes resolved."""

    qtype: str
    text: str
    name: str = ""
    category: str = ""
    text_format: str = "moodle"
    choices: tuple[Choice, ...] = ()
    numbers: tuple[NumericAnswer, ...] = ()
    pairs: tuple[Pair, ...] = ()
    general_feedback: str = ""
    line: int = field(default=0, compare=False)


class GiftError(ValueError):
    """Everything wrong with a GIFT text, as (line, message) pairs."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        self.errors = sorted(errors, key=lambda error: error[0])
        super().__init__("\n".join(f"line {line}: {message}" for line, message in self.errors))


class _Invalid(Exception):
    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__(problems)
        self.problems = problems

    @classmethod
    def at(cls, line: int, message: str) -> "_Invalid":
        return cls([(line, message)])


@dataclass(frozen=True)
class _Source:
    text: str  # one question, escapes hidden
    line: int

    def line_at(self, position: int) -> int:
        return self.line + self.text.count("\n", 0, position)


_Item = tuple[str, str, int]  # (mark that opened it, its text, its position in the source)
_T = TypeVar("_T")


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_gift(text: str) -> list[Question]:
    """Parse a GIFT file; raise GiftError listing every problem found."""
    parser = _Parser()
    for line, lines in _blocks(text):
        parser.block(line, lines)
    if parser.errors:
        raise GiftError(parser.errors)
    return parser.questions


def _blocks(text: str) -> Iterator[tuple[int, list[str]]]:
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start, block = 1, []
    for number, line in enumerate(lines, 1):
        if line.strip():
            start = start if block else number
            block.append(line)
        elif block:
            yield start, block
            block = []
    if block:
        yield start, block


class _Parser:
    def __init__(self) -> None:
        self.questions: list[Question] = []
        self.errors: list[tuple[int, str]] = []
        self.category = ""
        self.names: dict[str, int] = {}

    def block(self, line: int, lines: list[str]) -> None:
        # Comment lines are blanked rather than dropped so that line numbers stay true.
        lines = ["" if raw.strip().startswith("//") else raw for raw in lines]
        skip = next((i for i, raw in enumerate(lines) if raw.strip()), None)
        if skip is None:
            return
        head = lines[skip].strip()
        if head.startswith("$CATEGORY:"):
            self.category = _unhide(_hide(head.removeprefix("$CATEGORY:"))).strip()
            self.block(line + skip + 1, lines[skip + 1 :])
            return
        self.question(_Source(_hide("\n".join(lines[skip:]).strip()), line + skip))

    def question(self, source: _Source) -> None:
        try:
            name, start = _split_name(source)
            self.claim(name, source.line)
            self.questions.append(_read_question(source, start, name, self.category))
        except _Invalid as invalid:
            self.errors.extend(invalid.problems)

    def claim(self, name: str, line: int) -> None:
        if name in self.names:
            first = self.names[name]
            self.errors.append((line, f"the name '{name}' is already used on line {first}"))
        elif name:
            self.names[name] = line


def _hide(text: str) -> str:
    return _ESCAPE_SEQUENCE.sub(lambda match: _PLACEHOLDER[match.group(1)], text)


def _unhide(text: str) -> str:
    return text.translate(_UNHIDE)


def _split_name(source: _Source) -> tuple[str, int]:
    if not source.text.startswith("::"):
        return "", 0
    end = source.text.find("::", 2)
    if end < 0:
        raise _Invalid.at(source.line, "the question name has no closing '::'")
    name = _unhide(source.text[2:end]).strip()
    if not name:
        raise _Invalid.at(source.line, "the question name between '::' and '::' is empty")
    return name, end + 2


def _read_question(source: _Source, start: int, name: str, category: str) -> Question:
    block = _find_block(source, start)
    head = {"name": name, "category": category, "line": source.line}
    if block is None:
        text_format, text = _question_text(source, start, source.text[start:])
        return _checked(Question("description", text, text_format=text_format, **head), source.line)
    opening, closing = block
    after = source.text[closing + 1 :]
    at_end = not after.strip()
    raw_text = source.text[start:opening] + ("" if at_end else BLANK + after)
    text_format, text = _question_text(source, start, raw_text)
    inner, general = _split_general_feedback(source.text[opening + 1 : closing])
    answers = _read_answers(source, opening + 1, inner, at_end)
    question = Question(
        text=text, text_format=text_format, general_feedback=general, **answers, **head
    )
    return _checked(question, source.line_at(opening))


def _find_block(source: _Source, start: int) -> tuple[int, int] | None:
    text = source.text
    opening, closing = text.find("{", start), text.find("}", start)
    if opening < 0 and closing < 0:
        return None
    if closing < 0:
        raise _Invalid.at(source.line_at(opening), "'{' is never closed: add '}' after the answers")
    if opening < 0 or closing < opening:
        message = "'}' has no '{' before it (write \\} for a literal brace)"
        raise _Invalid.at(source.line_at(closing), message)
    _refuse_brace(source, opening + 1, closing, _nested_brace_message(source, opening))
    _refuse_brace(source, closing + 1, len(text), "a second answer block: a question has one {...}")
    return opening, closing


def _nested_brace_message(source: _Source, opening: int) -> str:
    first = source.line_at(opening)
    return f"'{{' inside the answer block opened on line {first}: is its '}}' missing?"


def _refuse_brace(source: _Source, start: int, end: int, message: str) -> None:
    found = [i for i in (source.text.find(b, start, end) for b in "{}") if i >= 0]
    if found:
        tip = " (separate questions with a blank line; write \\{ or \\} for a literal brace)"
        raise _Invalid.at(source.line_at(min(found)), message + tip)


def _question_text(source: _Source, start: int, raw: str) -> tuple[str, str]:
    text = raw.strip()
    match = _FORMAT_TAG.match(text)
    if not match:
        return "moodle", _unhide(text).strip()
    if match.group(1) not in TEXT_FORMATS:
        line = source.line_at(start + len(raw) - len(raw.lstrip()))
        raise _Invalid.at(line, _unknown_format_message(match.group(1)))
    return match.group(1), _unhide(text[match.end() :]).strip()


def _unknown_format_message(tag: str) -> str:
    known = ", ".join(f"[{name}]" for name in TEXT_FORMATS)
    return f"unknown text format [{tag}]: use one of {known} (write [moodle][{tag}] to keep it)"


def _split_general_feedback(inner: str) -> tuple[str, str]:
    cut = inner.rfind("####")
    if cut < 0:
        return inner, ""
    return inner[:cut], _field(inner[cut + 4 :])


def _field(raw: str) -> str:
    """An answer or feedback text: trimmed, Moodle's [format] prefix dropped, escapes resolved."""
    text = raw.strip()
    match = _FORMAT_TAG.match(text)
    if match and match.group(1) in TEXT_FORMATS:
        text = text[match.end() :]
    return _unhide(text).strip()


def _answer_kind(inner: str) -> str:
    text = inner.strip()
    if not text:
        return "essay"
    if text.startswith("#"):
        return "numerical"
    if "~" in text:
        # As in Moodle: without an '=' answer, several choices may be right.
        return "multichoice" if "=" in text else "multiresponse"
    if "=" in text and "->" in text:
        return "matching"
    if text.split("#", 1)[0].strip() in _TRUE_FALSE:
        return "truefalse"
    return "shortanswer"


def _read_answers(source: _Source, offset: int, inner: str, at_end: bool) -> dict[str, Any]:
    kind = _answer_kind(inner)
    if kind == "essay" and not at_end:
        message = "empty answer block {} in the middle of the text: an essay's {} goes at the end"
        raise _Invalid.at(source.line_at(offset), message)
    return _READERS[kind](source, offset, inner, kind)


def _read_essay(source: _Source, offset: int, inner: str, kind: str) -> dict[str, Any]:
    return {"qtype": "essay"}


def _read_choices(source: _Source, offset: int, inner: str, kind: str) -> dict[str, Any]:
    items = _items(inner, offset, "~=", "~")
    choices = _each(items, lambda item: _choice(source, item, 100.0 if item[0] == "=" else 0.0))
    return {"qtype": kind, "choices": choices}


def _read_short_answers(source: _Source, offset: int, inner: str, kind: str) -> dict[str, Any]:
    items = _items(inner, offset, "=", "=")
    return {"qtype": kind, "choices": _each(items, lambda item: _choice(source, item, 100.0))}


def _read_true_false(source: _Source, offset: int, inner: str, kind: str) -> dict[str, Any]:
    head, wrong, right = (inner.split("#", 2) + ["", ""])[:3]
    is_true = _TRUE_FALSE[head.strip()]
    wrong, right = _field(wrong), _field(right)
    true = Choice("true", 100.0 if is_true else 0.0, right if is_true else wrong)
    false = Choice("false", 0.0 if is_true else 100.0, wrong if is_true else right)
    return {"qtype": kind, "choices": (true, false)}


def _read_pairs(source: _Source, offset: int, inner: str, kind: str) -> dict[str, Any]:
    items = _items(inner, offset, "=", "=")
    return {"qtype": kind, "pairs": _each(items, lambda item: _pair(source, item))}


def _read_numbers(source: _Source, offset: int, inner: str, kind: str) -> dict[str, Any]:
    start = inner.index("#") + 1
    body, tilde = inner[start:], inner.find("~", start)
    if tilde >= 0:
        body = inner[start:tilde]
    items = _items(body, offset + start, "=", "=")
    if not items:
        message = "a numerical question needs a number after '#'"
        raise _Invalid.at(source.line_at(offset), message)
    numbers = _each(items, lambda item: _number(source, item))
    if tilde >= 0:
        feedback = _field(inner[tilde:].partition("#")[2])
        numbers += (NumericAnswer(0.0, math.inf, 0.0, feedback),)
    return {"qtype": kind, "numbers": numbers}


_Reader = Callable[[_Source, int, str, str], dict[str, Any]]
_READERS: dict[str, _Reader] = {
    "essay": _read_essay,
    "multichoice": _read_choices,
    "multiresponse": _read_choices,
    "shortanswer": _read_short_answers,
    "truefalse": _read_true_false,
    "matching": _read_pairs,
    "numerical": _read_numbers,
}


def _items(inner: str, offset: int, marks: str, default: str) -> list[_Item]:
    cuts = [i for i, char in enumerate(inner) if char in marks]
    lead = inner[: cuts[0]] if cuts else inner
    items = []
    if lead.strip():
        items.append((default, lead, offset + len(lead) - len(lead.lstrip())))
    for start, end in pairwise([*cuts, len(inner)]):
        items.append((inner[start], inner[start + 1 : end], offset + start))
    return items


def _each(items: list[_Item], read: Callable[[_Item], _T]) -> tuple[_T, ...]:
    """Read every item, reporting the problems of all of them rather than only the first."""
    results, problems = [], []
    for item in items:
        try:
            results.append(read(item))
        except _Invalid as invalid:
            problems.extend(invalid.problems)
    if problems:
        raise _Invalid(problems)
    return tuple(results)


def _choice(source: _Source, item: _Item, default: float) -> Choice:
    mark, raw, position = item
    line = source.line_at(position)
    weight, rest = _weight(raw, default, line)
    text, _, feedback = rest.partition("#")
    if not _field(text):
        raise _Invalid.at(line, f"an answer after '{mark}' is empty")
    return Choice(_field(text), weight, _field(feedback))


def _weight(raw: str, default: float, line: int) -> tuple[float, str]:
    text = raw.lstrip()
    match = _WEIGHT_TAG.match(text)
    if not match:
        return default, text
    written = _unhide(match.group(1)).strip()
    if not _NUMBER.fullmatch(written):
        raise _Invalid.at(line, f"the weight %{written}% is not a number")
    if not -100 <= float(written) <= 100:
        raise _Invalid.at(line, f"the weight %{written}% is outside -100% to 100%")
    return float(written), text[match.end() :]


def _pair(source: _Source, item: _Item) -> Pair:
    _, raw, position = item
    left, arrow, right = raw.partition("->")
    if not arrow:
        message = f"the matching pair '{_unhide(raw).strip()}' has no '->'"
        raise _Invalid.at(source.line_at(position), message)
    return Pair(_field(left), _unhide(right).strip())


def _number(source: _Source, item: _Item) -> NumericAnswer:
    _, raw, position = item
    line = source.line_at(position)
    weight, rest = _weight(raw, 100.0, line)
    spec, _, feedback = rest.partition("#")
    value, tolerance, is_range = _numeric_spec(spec.strip(), line)
    return NumericAnswer(value, tolerance, weight, _field(feedback), is_range)


def _numeric_spec(spec: str, line: int) -> tuple[float, float, bool]:
    """Read `value`, `value:tolerance` or `low..high` (Moodle tries `..` first)."""
    if ".." in spec[1:]:
        low, high = (_float(part, line) for part in spec.split("..", 1))
        if low > high:
            raise _Invalid.at(line, f"the range {spec} ends below its start")
        middle = (low + high) / 2
        return middle, high - middle, True
    if ":" in spec[1:]:
        value, tolerance = (_float(part, line) for part in spec.split(":", 1))
        if tolerance < 0:
            raise _Invalid.at(line, f"the tolerance in {spec} is negative")
        return value, tolerance, False
    return _float(spec, line), 0.0, False


def _float(written: str, line: int) -> float:
    text = written.strip()
    if not text:
        raise _Invalid.at(line, "a number is missing")
    if not _NUMBER.fullmatch(text):
        raise _Invalid.at(line, f"'{_unhide(text)}' is not a number")
    return float(text)


def _checked(question: Question, line: int) -> Question:
    problems = _problems(question)
    if problems:
        raise _Invalid([(line, message) for message in problems])
    return question


# ---------------------------------------------------------------------------------------------
# Validity: Moodle's editing-form rules, shared by the parser and the writer


def _problems(question: Question) -> list[str]:
    if question.qtype not in QTYPES:
        return [f"unknown question type '{question.qtype}'"]
    found = _misplaced(question)
    if question.text_format not in TEXT_FORMATS:
        found.append(_unknown_format_message(question.text_format))
    if not question.text:
        found.append("the question has no text")
    return found + _CHECKS[question.qtype](question)


_HOLDS = {
    "multichoice": "choices",
    "multiresponse": "choices",
    "truefalse": "choices",
    "shortanswer": "choices",
    "numerical": "numbers",
    "matching": "pairs",
}


def _misplaced(question: Question) -> list[str]:
    wrong = [
        name
        for name in ("choices", "numbers", "pairs")
        if getattr(question, name) and _HOLDS.get(question.qtype) != name
    ]
    return [f"{name} do not belong in a question of type {question.qtype}" for name in wrong]


def _weights_outside(weights: Iterable[float], low: float) -> list[str]:
    bad = sorted({w for w in weights if not low <= w <= 100})
    return [f"the weight {_num(w)}% is outside {_num(low)}% to 100%" for w in bad]


def _check_multichoice(question: Question) -> list[str]:
    found = _weights_outside((c.weight for c in question.choices), -100)
    if len(question.choices) < 2:
        found.append("a multiple-choice question needs at least 2 choices")
    if not any(c.weight == 100 for c in question.choices):
        found.append("no choice is worth 100%: mark the right answer with '='")
    return found


def _check_multiresponse(question: Question) -> list[str]:
    found = _weights_outside((c.weight for c in question.choices), -100)
    if len(question.choices) < 2:
        found.append("a multiple-choice question needs at least 2 choices")
    total = sum(c.weight for c in question.choices if c.weight > 0)
    if total == 0:
        found.append("no choice is right: mark the right answer with '=', or weights like ~%50%")
    elif round(total / 100, 2) != 1:  # Moodle's own rounding, so 3 x 33.333% passes
        found.append(f"the positive weights add up to {_num(total)}%, not 100%")
    return found


def _check_truefalse(question: Question) -> list[str]:
    shape = [(c.text, c.weight) for c in question.choices]
    if shape in ([("true", 100), ("false", 0)], [("true", 0), ("false", 100)]):
        return []
    return ["a true/false question needs choices 'true' and 'false', one of them worth 100%"]


def _check_shortanswer(question: Question) -> list[str]:
    found = _weights_outside((c.weight for c in question.choices), 0)
    if not question.choices:
        found.append("a short-answer question needs at least one answer")
    elif not any(c.weight == 100 for c in question.choices):
        found.append("no answer is worth 100%")
    return found


def _check_numerical(question: Question) -> list[str]:
    numbers = [n for n in question.numbers if not n.is_catch_all]
    found = _weights_outside((n.weight for n in question.numbers), 0)
    found += [f"the tolerance {_num(n.tolerance)} is negative" for n in numbers if n.tolerance < 0]
    if not numbers:
        found.append("a numerical question needs at least one number")
    elif not any(n.weight == 100 for n in numbers):
        found.append("no number is worth 100%")
    fallbacks = [i for i, n in enumerate(question.numbers) if n.is_catch_all]
    if fallbacks and (fallbacks != [len(numbers)] or question.numbers[-1].weight != 0):
        found.append("the catch-all answer ~ must come once, last, and be worth 0%")
    return found


def _check_matching(question: Question) -> list[str]:
    pairs = question.pairs
    found = [f"'{p.left}' has no answer after '->'" for p in pairs if p.left and not p.right]
    if any(not p.left and not p.right for p in pairs):
        found.append("a matching pair has nothing on either side of '->'")
    asked, offered = sum(1 for p in pairs if p.left), sum(1 for p in pairs if p.right)
    if asked < 2 or offered < 3:  # Moodle's rule for matching questions
        found.append(
            f"a matching question needs at least 2 questions and 3 answers, not {asked} and"
            f" {offered} (add a wrong answer as '= -> answer')"
        )
    return found


def _check_nothing(question: Question) -> list[str]:
    return []


_CHECKS: dict[str, Callable[[Question], list[str]]] = {
    "multichoice": _check_multichoice,
    "multiresponse": _check_multiresponse,
    "truefalse": _check_truefalse,
    "shortanswer": _check_shortanswer,
    "numerical": _check_numerical,
    "matching": _check_matching,
    "essay": _check_nothing,
    "description": _check_nothing,
}


# ---------------------------------------------------------------------------------------------
# Writing


def write_gift(questions: Iterable[Question]) -> str:
    """Write questions as GIFT text that parse_gift reads back to equal questions."""
    questions = list(questions)
    problems = _unwritable(questions)
    if problems:
        raise GiftError(problems)
    return "\n\n".join(_chunks(questions)) + ("\n" if questions else "")


def _unwritable(questions: list[Question]) -> list[tuple[int, str]]:
    found, names = [], set()
    for question in questions:
        label = f"question '{question.name or question.text[:40]}'"
        messages = _problems(question) + _inexpressible(question)
        if question.name and question.name in names:
            messages.append("its name is used twice")
        names.add(question.name)
        found += [(question.line, f"{label}: {message}") for message in messages]
    return found


def _inexpressible(question: Question) -> list[str]:
    # GIFT cannot escape '->': it would turn a short answer into a matching question.
    arrows = [p.left for p in question.pairs if "->" in p.left]
    if question.qtype == "shortanswer":
        arrows += [t for c in question.choices for t in (c.text, c.feedback) if "->" in t]
    found = [f"'{text}' contains '->', which GIFT cannot write there" for text in arrows]
    if question.qtype == "description" and question.general_feedback:
        found.append("a description has no answer block to hold general feedback")
    return found


def _chunks(questions: list[Question]) -> Iterator[str]:
    category = ""
    for question in questions:
        if question.category != category:
            category = question.category
            yield f"$CATEGORY: {_escape(category, '')}"
        yield _write_question(question)


def _write_question(question: Question) -> str:
    name = f"::{_escape(question.name, _NAME_CONTROLS)}::" if question.name else ""
    block = _BLOCK_WRITERS[question.qtype](question)
    return name + _format_prefix(question) + _place_block(question, block)


def _format_prefix(question: Question) -> str:
    # A text that would read as a format tag, a comment, a name or a category needs a tag first.
    risky = question.text.startswith(("[", "//", "::", "$CATEGORY:"))
    return f"[{question.text_format}]" if risky or question.text_format != "moodle" else ""


def _place_block(question: Question, block: str) -> str:
    before, blank, after = question.text.partition(BLANK)
    if blank and after.strip() and question.qtype not in ("essay", "description"):
        return _escape(before, _TEXT_CONTROLS) + block + _escape(after, _TEXT_CONTROLS)
    return _escape(question.text, _TEXT_CONTROLS) + block


def _escape(text: str, controls: str) -> str:
    text = _LONE_BACKSLASH.sub(r"\\\\", text)
    return "".join(_escape_char(char, controls) for char in text)


def _escape_char(char: str, controls: str) -> str:
    if char == "\n":
        return "\\n"
    return "\\" + char if char in controls else char


def _block_text(text: str) -> str:
    # Moodle drops a leading [format] from answers; a neutral tag in front keeps the text whole.
    match = _FORMAT_TAG.match(text)
    tag = "[moodle]" if match and match.group(1) in TEXT_FORMATS else ""
    return tag + _escape(text, _BLOCK_CONTROLS)


def _with_feedback(text: str, feedback: str) -> str:
    return text + (f"#{_block_text(feedback)}" if feedback else "")


def _weight_tag(weight: float, default: float, text: str) -> str:
    # A text starting with '%' would read as a weight unless one is written before it.
    return "" if weight == default and not text.startswith("%") else f"%{_num(weight)}%"


def _num(value: float) -> str:
    written = repr(float(value))
    return written.removesuffix(".0")


def _lines_block(question: Question, lines: list[str], opening: str = "{") -> str:
    body = "".join(f"\t{line}\n" for line in lines)
    if question.general_feedback:
        body += f"\t####{_block_text(question.general_feedback)}\n"
    return f"{opening}\n{body}}}"


def _inline_general(question: Question) -> str:
    return f"####{_block_text(question.general_feedback)}" if question.general_feedback else ""


def _write_nothing(question: Question) -> str:
    return ""


def _write_essay(question: Question) -> str:
    return "{" + _inline_general(question) + "}"


def _write_choices(question: Question) -> str:
    single = question.qtype == "multichoice"
    right = next((i for i, c in enumerate(question.choices) if c.weight == 100), -1)
    lines = [
        _with_feedback(_choice_mark(c, single and i == right) + _block_text(c.text), c.feedback)
        for i, c in enumerate(question.choices)
    ]
    return _lines_block(question, lines)


def _choice_mark(choice: Choice, is_right: bool) -> str:
    # Only one '=' is written, so that a '~' always remains to mark the question multichoice.
    if is_right:
        return "=" + _weight_tag(choice.weight, 100, choice.text)
    return "~" + _weight_tag(choice.weight, 0, choice.text)


def _write_short_answers(question: Question) -> str:
    lines = [
        _with_feedback("=" + _weight_tag(c.weight, 100, c.text) + _block_text(c.text), c.feedback)
        for c in question.choices
    ]
    return _lines_block(question, lines)


def _write_true_false(question: Question) -> str:
    true, false = question.choices
    right, wrong = (true, false) if true.weight == 100 else (false, true)
    out = "{" + ("TRUE" if right is true else "FALSE")
    if wrong.feedback or right.feedback:
        out += "#" + _block_text(wrong.feedback)
    if right.feedback:
        out += "#" + _block_text(right.feedback)
    return out + _inline_general(question) + "}"


def _write_pairs(question: Question) -> str:
    lines = [
        f"={_block_text(p.left)} -> {_escape(p.right, _BLOCK_CONTROLS)}" for p in question.pairs
    ]
    return _lines_block(question, lines)


def _write_numbers(question: Question) -> str:
    numbers = question.numbers
    if len(numbers) == 1 and numbers[0].weight == 100 and not numbers[0].feedback:
        return "{#" + _numeric_spec_text(numbers[0]) + _inline_general(question) + "}"
    return _lines_block(question, [_number_line(n) for n in numbers], opening="{#")


def _number_line(number: NumericAnswer) -> str:
    if number.is_catch_all:
        return "~#" + _block_text(number.feedback)
    weight = _weight_tag(number.weight, 100, "")
    return _with_feedback(f"={weight}{_numeric_spec_text(number)}", number.feedback)


def _numeric_spec_text(number: NumericAnswer) -> str:
    if number.is_range:
        return _range_text(number)
    if number.tolerance == 0:
        return _num(number.value)
    return f"{_num(number.value)}:{_num(number.tolerance)}"


def _range_text(number: NumericAnswer) -> str:
    """The shortest low..high that reads back to exactly this value and tolerance, if any."""
    value, tolerance = number.value, number.tolerance
    pairs = (
        (low, high)
        for high in _candidates(number.high)
        if high - value == tolerance
        for low in _candidates(number.low)
        if low <= high and (low + high) / 2 == value
    )
    exact = next(pairs, None)
    if exact is None:  # no written range gives these floats; 15 digits hide the float noise
        return f"{number.low:.15g}..{number.high:.15g}"
    return f"{_num(exact[0])}..{_num(exact[1])}"


def _candidates(target: float) -> list[float]:
    # Short decimals first for readability; then the floats next to the target, because
    # value - tolerance can miss the low that was written by a few units in the last place.
    rounded = [float(f"{target:.{digits}g}") for digits in range(1, 18)]
    below, above, nearby = target, target, [target]
    for _ in range(16):
        below, above = math.nextafter(below, -math.inf), math.nextafter(above, math.inf)
        nearby += [below, above]
    return list(dict.fromkeys(rounded + nearby))


_BLOCK_WRITERS: dict[str, Callable[[Question], str]] = {
    "multichoice": _write_choices,
    "multiresponse": _write_choices,
    "truefalse": _write_true_false,
    "shortanswer": _write_short_answers,
    "numerical": _write_numbers,
    "matching": _write_pairs,
    "essay": _write_essay,
    "description": _write_nothing,
}


# ---------------------------------------------------------------------------------------------
# JSON


def question_to_dict(question: Question) -> dict[str, Any]:
    """A JSON-safe dict of the question (an infinite tolerance is stored as None)."""
    return {
        "qtype": question.qtype,
        "text": question.text,
        "name": question.name,
        "category": question.category,
        "text_format": question.text_format,
        "choices": [
            {"text": c.text, "weight": c.weight, "feedback": c.feedback} for c in question.choices
        ],
        "numbers": [_number_to_dict(n) for n in question.numbers],
        "pairs": [{"left": p.left, "right": p.right} for p in question.pairs],
        "general_feedback": question.general_feedback,
        "line": question.line,
    }


def _number_to_dict(number: NumericAnswer) -> dict[str, Any]:
    return {
        "value": number.value,
        "tolerance": None if number.is_catch_all else number.tolerance,
        "weight": number.weight,
        "feedback": number.feedback,
        "is_range": number.is_range,
    }


def question_from_dict(data: dict[str, Any]) -> Question:
    """Rebuild a question stored by question_to_dict."""
    return Question(
        qtype=data["qtype"],
        text=data["text"],
        name=data.get("name", ""),
        category=data.get("category", ""),
        text_format=data.get("text_format", "moodle"),
        choices=tuple(_choice_from_dict(c) for c in data.get("choices", ())),
        numbers=tuple(_number_from_dict(n) for n in data.get("numbers", ())),
        pairs=tuple(Pair(p["left"], p["right"]) for p in data.get("pairs", ())),
        general_feedback=data.get("general_feedback", ""),
        line=data.get("line", 0),
    )


def _choice_from_dict(data: dict[str, Any]) -> Choice:
    return Choice(data["text"], float(data["weight"]), data.get("feedback", ""))


def _number_from_dict(data: dict[str, Any]) -> NumericAnswer:
    tolerance = math.inf if data["tolerance"] is None else float(data["tolerance"])
    return NumericAnswer(
        value=float(data["value"]),
        tolerance=tolerance,
        weight=float(data.get("weight", 100.0)),
        feedback=data.get("feedback", ""),
        is_range=bool(data.get("is_range", False)),
    )
