"""GIFT parsing and writing, checked against Moodle's own examples and rules."""

import json
import math
from dataclasses import replace

import pytest

from lms.gift import (
    QTYPES,
    Choice,
    GiftError,
    NumericAnswer,
    Pair,
    Question,
    parse_gift,
    question_from_dict,
    question_to_dict,
    write_gift,
)

# Moodle's question/format/gift/examples.txt, verbatim.
MOODLE_EXAMPLES = r"""//  EXAMPLE QUESTIONS for the GIFT import filter
//  by Paul Tsuchido Shew, January 2004.

//-----------------------------------------//
// Examples from the class description.
//-----------------------------------------//

Who's buried in Grant's tomb?{~Grant ~Jefferson =no one}

Grant is {~buried =entombed ~living} in Grant's tomb.

Grant is buried in Grant's tomb.{FALSE}

Who's buried in Grant's tomb?{=no one =nobody}

When was Ulysses S. Grant born?{#1822:1}


//-----------------------------------------//
// Examples from the documentation.
//-----------------------------------------//

// ===Multiple Choice===

Who's buried in Grant's tomb?{~Grant ~Jefferson =no one}

Grant is {~buried =entombed ~living} in Grant's tomb.

The American holiday of Thanksgiving is celebrated on the {
    ~second
    ~third
    =fourth
} Thursday of November.

Japanese characters originally came from what country? {
    ~India
    =China
    ~Korea
    ~Egypt}

// ===Short Answer===

Who's buried in Grant's tomb?{=no one =nobody}

Two plus two equals {=four =4}.

// ===True-False===

Grant is buried in Grant's tomb.{F}

The sun rises in the east.{T}

// ===Matching===

Matching Question. {
    =subquestion1 -> subanswer1
    =subquestion2 -> subanswer2
    =subquestion3 -> subanswer3
    }

Match the following countries with their corresponding capitals. {
    =Canada -> Ottawa
    =Italy  -> Rome
    =Japan  -> Tokyo
    =India  -> New Delhi
    }

// ===Numerical===

When was Ulysses S. Grant born? {#1822}

What is the value of pi (to 3 decimal places)? {#3.1415:0.0005}.

What is the value of pi (to 3 decimal places)? {#3.141..3.142}.

When was Ulysses S. Grant born? {#
    =1822:0
    =%50%1822:2}

// OPTIONS

// ===Line Comments===

// Subheading: Numerical questions below
What's 2 plus 2? {#4}


// ===Question Name===

::Kanji Origins::Japanese characters originally
came from what country? {=China}

::Thanksgiving Date::The American holiday of Thanksgiving is
celebrated on the {~second ~third =fourth} Thursday of November.

// ===Feedback===

What's the answer to this multiple-choice question?{
~wrong answer#feedback comment on the wrong answer
~another wrong answer#feedback comment on this wrong answer
=right answer#Very good!}

Who's buried in Grant's tomb?{
=no one#excellent answer!
=nobody#excellent answer!}

// ===Specify text format===
[markdown]Who's buried in **Grant's tomb**?{
=no one#excellent answer!
=nobody#excellent answer!}

// ===Percentage Answer Weights===
Grant is buried in Grant's tomb.{FALSE#No one is buried in Grant's tomb.}

Difficult question.{~wrong answer ~%50%half credit answer =full credit answer}

::Jesus' hometown::Jesus Christ was from {
    ~Jerusalem#This was an important city, but the wrong answer.
    ~%25%Bethlehem#He was born here, but not raised here.
    ~%50%Galilee#You need to be more specific.
    =Nazareth#Yes! That's right!}.

::Jesus' hometown:: Jesus Christ was from {
    =Nazareth#Yes! That's right!
    =%75%Nazereth#Right, but misspelled.
    =%25%Bethlehem#He was born here, but not raised here.}

// ===Multiple Answers===

What two people are entombed in Grant's tomb? {
    ~No one
    ~%50%Grant
    ~%50%Grant's wife
    ~Grant's father }

What two people are entombed in Grant's tomb? {
    ~%-50%No one
    ~%50%Grant
    ~%50%Grant's wife
    ~%-50%Grant's father }

// ===Special Characters===
Which answer equals 5? {
     ~ \= 2 + 2
     = \= 2 + 3
     ~ \= 2 + 4  }

::GIFT Control Characters::
Which of the following is NOT a control character for the GIFT import format? {
   ~ \~     # \~ is a control character.
   ~ \=     # \= is a control character.
   ~ \#     # \# is a control character.
   ~ \{     # \{ is a control character.
   ~ \}     # \} is a control character.
   = \\     # Correct! \\ (backslash) is not a control character. BUT,
              it is used to escape the control characters. So, to specify
              a literal backslash, you must escape it with a backslash
              (as shown in this example).
}



//-----------------------------------------//
// Examples from gift/format.php.
//-----------------------------------------//

Who's buried in Grant's tomb?{~Grant ~Jefferson =no one}

Grant is {~buried =entombed ~living} in Grant's tomb.

Grant is buried in Grant's tomb.{FALSE}

Who's buried in Grant's tomb?{=no one =nobody}

When was Ulysses S. Grant born?{#1822:5}

Match the following countries with their corresponding
capitals.{=Canada->Ottawa =Italy->Rome =Japan->Tokyo}

//-----------------------------------------//
// More complicated examples.
//-----------------------------------------//

::Grant's Tomb::Grant is {
      ~buried#No one is buried there.
      =entombed#Right answer!
      ~living#We hope not!
} in Grant's tomb.

Difficult multiple choice question.{
     ~wrong answer           #comment on wrong answer
     ~%50%half credit answer #comment on answer
     =full credit answer     #well done!}

::Jesus' hometown (Short answer ex.):: Jesus Christ was from {
     =Nazareth#Yes! That's right!
     =%75%Nazereth#Right, but misspelled.
     =%25%Bethlehem#He was born here, but not raised here.
}.

//this comment will be ignored by the filter
::Numerical example::
When was Ulysses S. Grant born? {#
     =1822:0      #Correct! 100% credit
     =%50%1822:2  #He was born in 1822.
                  You get 50% credit for being close.
}
"""

# The examples use the name "Jesus' hometown" twice; names must be unique within a file.
UNIQUE_EXAMPLES = MOODLE_EXAMPLES.replace(
    "::Jesus' hometown:: Jesus", "::Jesus' hometown (short answer):: Jesus"
)

EXAMPLE_TYPES = [
    *["multichoice", "multichoice", "truefalse", "shortanswer", "numerical"],
    *["multichoice", "multichoice", "multichoice", "multichoice"],
    *["shortanswer", "shortanswer", "truefalse", "truefalse", "matching", "matching"],
    *["numerical", "numerical", "numerical", "numerical", "numerical"],
    *["shortanswer", "multichoice", "multichoice", "shortanswer", "shortanswer"],
    *["truefalse", "multichoice", "multichoice", "shortanswer"],
    *["multiresponse", "multiresponse", "multichoice", "multichoice"],
    *["multichoice", "multichoice", "truefalse", "shortanswer", "numerical", "matching"],
    *["multichoice", "multichoice", "shortanswer", "numerical"],
]

# Moodle's question/format/gift/tests/fixtures/questions.gift.txt, less two stray `";` left
# over from PHP and the repeated name "2-08 TSL".
MOODLE_FIXTURE = r"""// essay
::Q8:: How are you? {}

// question: 2  name: Moodle activities
::Moodle activities::[html]Match the <b>activity</b> to the description.{
    =[html]An activity supporting asynchronous discussions. -> Forum
    =[moodle]A teacher asks a question and specifies a choice of multiple responses. -> Choice
    =[plain]A bank of record entries which participants can add to. -> Database
    =[markdown]A collection of web pages that anyone can add to or edit. -> Wiki
    = -> Chat
}

// multiple choice with specified feedback for right and wrong answers
::Q2:: What's between orange and green in the spectrum?
{
    =yellow # right; good!
    ~red # [html]wrong, it's yellow
    ~[plain]blue # wrong, it's yellow
}

// multiple choice, multiple response with specified feedback for right and wrong answers
::colours:: What's between orange and green in the spectrum?
{
    ~%50%yellow # right; good!
    ~%-100%red # [html]wrong
    ~%50%off-beige # right; good!
    ~%-100%[plain]blue # wrong
}

// math range question
::Q5:: What is a number from 1 to 5? {#3:2~#Completely wrong}

// question: 666  name: Shortanswer
::Shortanswer::Which is the best animal?{
    =Frog#Good!
    =%50%Cat#What is it with Moodlers and cats?
    =%0%*#Completely wrong
}

// true/false, with general feedback
::Q1:: 42 is the Absolute Answer to everything.{
FALSE#42 is the Ultimate Answer.#You gave the right answer.
####This is, of course, a Hitchiker's Guide to the Galaxy reference.}

// name 0-11
::2-08 TSL::TSL is blablabla.{T}
"""

# Our own fixture: every type, escapes, formats, categories, comments, multi-line questions.
OWN_FIXTURE = r"""// Quiz 1 of the branch-operations course
$CATEGORY: $course$/top/Cash handling

::counterfeit::[markdown]Which **two** checks reveal a forged note? {
    ~%50%Watermark#Yes.
    ~%50%Security thread#Yes.
    ~%-100%Serial number#Anyone can print one.
    ####Look, feel, tilt.
}

::vault::The vault opens at {~8\:00 =9\:00 ~10\:00} on weekdays.

::dual control::Cash is counted by two people.{T#Two, always.#Right: four eyes.}

$CATEGORY: $course$/top/Customers

::currency::The ISO code of the Chinese yuan is {=CNY#Yes =%50%RMB#That is the name, not the code}.

::rate::A rate of 3.5% on 2000 yuan earns how much a year?{#70:0.5#Right ####2000 x 0.035}

::ranges::Name a weekday number (Monday is 1).{#
    =1..5#A working day
    =%50%6..7#The weekend
    ~#Days go from 1 to 7
}

::match::Match the form to its use.{
    =A-01 -> Open an account
    =B-02 -> Close an account
    =C-03 -> Change an address
    = -> Report a lost card
}

::why::[html]Explain <i>why</i> we count cash twice.{####Four eyes see more.}

::intro::[plain]The next questions are about \{braces\}, \#hashes and a\nnew line.

// a comment inside a question
::multi line::A question
// that has a comment in the middle
on several lines {
    =yes
    ~no
}
"""


def one(source: str) -> Question:
    [question] = parse_gift(source)
    return question


def errors_of(source: str) -> list[tuple[int, str]]:
    with pytest.raises(GiftError) as caught:
        parse_gift(source)
    return caught.value.errors


# ---------------------------------------------------------------------------------------------
# Moodle's examples


def test_every_moodle_example_parses():
    questions = parse_gift(UNIQUE_EXAMPLES)
    assert [q.qtype for q in questions] == EXAMPLE_TYPES


def test_moodle_examples_verbatim_only_fail_on_the_repeated_name():
    assert errors_of(MOODLE_EXAMPLES) == [
        (123, "the name 'Jesus' hometown' is already used on line 117")
    ]


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (
            1,
            Question(
                "multichoice",
                "Grant is _____ in Grant's tomb.",
                choices=(Choice("buried", 0), Choice("entombed", 100), Choice("living", 0)),
            ),
        ),
        (
            2,
            Question(
                "truefalse",
                "Grant is buried in Grant's tomb.",
                choices=(Choice("true", 0), Choice("false", 100)),
            ),
        ),
        (
            10,
            Question(
                "shortanswer",
                "Two plus two equals _____.",
                choices=(Choice("four", 100), Choice("4", 100)),
            ),
        ),
        (
            16,
            Question(
                "numerical",
                "What is the value of pi (to 3 decimal places)? _____.",
                numbers=(NumericAnswer(3.1415, 0.0005),),
            ),
        ),
        (
            18,
            Question(
                "numerical",
                "When was Ulysses S. Grant born?",
                numbers=(NumericAnswer(1822, 0), NumericAnswer(1822, 2, 50)),
            ),
        ),
        (
            20,
            Question(
                "shortanswer",
                "Japanese characters originally\ncame from what country?",
                name="Kanji Origins",
                choices=(Choice("China", 100),),
            ),
        ),
        (
            24,
            Question(
                "shortanswer",
                "Who's buried in **Grant's tomb**?",
                text_format="markdown",
                choices=(
                    Choice("no one", 100, "excellent answer!"),
                    Choice("nobody", 100, "excellent answer!"),
                ),
            ),
        ),
        (
            25,
            Question(
                "truefalse",
                "Grant is buried in Grant's tomb.",
                choices=(
                    Choice("true", 0, "No one is buried in Grant's tomb."),
                    Choice("false", 100),
                ),
            ),
        ),
        (
            30,
            Question(
                "multiresponse",
                "What two people are entombed in Grant's tomb?",
                choices=(
                    Choice("No one", -50),
                    Choice("Grant", 50),
                    Choice("Grant's wife", 50),
                    Choice("Grant's father", -50),
                ),
            ),
        ),
        (
            31,
            Question(
                "multichoice",
                "Which answer equals 5?",
                choices=(Choice("= 2 + 2", 0), Choice("= 2 + 3", 100), Choice("= 2 + 4", 0)),
            ),
        ),
    ],
)
def test_moodle_examples_read_as_moodle_reads_them(index, expected):
    assert parse_gift(UNIQUE_EXAMPLES)[index] == expected


def test_control_characters_example_unescapes_everything():
    question = parse_gift(UNIQUE_EXAMPLES)[32]
    assert question.name == "GIFT Control Characters"
    assert [c.text for c in question.choices] == ["~", "=", "#", "{", "}", "\\"]
    assert question.choices[2].feedback == "# is a control character."
    assert question.choices[5].weight == 100
    assert question.choices[5].feedback.startswith("Correct! \\ (backslash) is not")
    assert question.choices[5].feedback.endswith("(as shown in this example).")


def test_moodle_examples_keep_their_line_numbers():
    lines = [q.line for q in parse_gift(UNIQUE_EXAMPLES)]
    assert lines[:5] == [8, 10, 12, 14, 16]
    assert lines[19] == 85  # after a comment line in the same block
    assert lines[-1] == 202  # the name line, not the comment above it


def test_moodle_fixture_parses():
    questions = parse_gift(MOODLE_FIXTURE)
    assert [q.qtype for q in questions] == [
        *["essay", "matching", "multichoice", "multiresponse", "numerical", "shortanswer"],
        *["truefalse", "truefalse"],
    ]
    match = questions[1]
    assert match.text_format == "html"
    assert match.pairs[0] == Pair("An activity supporting asynchronous discussions.", "Forum")
    assert match.pairs[-1] == Pair("", "Chat")
    assert questions[4].numbers == (
        NumericAnswer(3, 2),
        NumericAnswer(0, math.inf, 0, "Completely wrong"),
    )
    assert questions[5].choices[2] == Choice("*", 0, "Completely wrong")
    assert questions[6].choices == (
        Choice("true", 0, "42 is the Ultimate Answer."),
        Choice("false", 100, "You gave the right answer."),
    )
    assert questions[6].general_feedback.startswith("This is, of course,")


# ---------------------------------------------------------------------------------------------
# Each question type


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param(
            "Who? {~Grant ~Jefferson =no one}",
            Question(
                "multichoice",
                "Who?",
                choices=(Choice("Grant", 0), Choice("Jefferson", 0), Choice("no one", 100)),
            ),
            id="multichoice",
        ),
        pytest.param(
            "Pick {~%50%a ~%50%b ~%-100%c ~d}",
            Question(
                "multiresponse",
                "Pick",
                choices=(Choice("a", 50), Choice("b", 50), Choice("c", -100), Choice("d", 0)),
            ),
            id="multiresponse when no answer has '='",
        ),
        pytest.param(
            "Hard {~wrong ~%33.5%partly =right ~%-25%bad}",
            Question(
                "multichoice",
                "Hard",
                choices=(
                    Choice("wrong", 0),
                    Choice("partly", 33.5),
                    Choice("right", 100),
                    Choice("bad", -25),
                ),
            ),
            id="multichoice weights",
        ),
        pytest.param(
            "Sky is blue {T}",
            Question("truefalse", "Sky is blue", choices=(Choice("true", 100), Choice("false", 0))),
            id="T",
        ),
        pytest.param(
            "Sky is blue {TRUE}",
            Question("truefalse", "Sky is blue", choices=(Choice("true", 100), Choice("false", 0))),
            id="TRUE",
        ),
        pytest.param(
            "Sky is green {F}",
            Question(
                "truefalse", "Sky is green", choices=(Choice("true", 0), Choice("false", 100))
            ),
            id="F",
        ),
        pytest.param(
            "Sky is green {FALSE#It is blue.#Well seen.####Rayleigh scattering.}",
            Question(
                "truefalse",
                "Sky is green",
                choices=(Choice("true", 0, "It is blue."), Choice("false", 100, "Well seen.")),
                general_feedback="Rayleigh scattering.",
            ),
            id="FALSE with wrong, right and general feedback",
        ),
        pytest.param(
            "Sky is blue {T#####General}",
            Question(
                "truefalse",
                "Sky is blue",
                choices=(Choice("true", 100), Choice("false", 0)),
                general_feedback="General",
            ),
            id="general feedback starts at the last ####, as in Moodle",
        ),
        pytest.param(
            "Sky is blue {T#No, it is.#Yes.}",
            Question(
                "truefalse",
                "Sky is blue",
                choices=(Choice("true", 100, "Yes."), Choice("false", 0, "No, it is.")),
            ),
            id="T feedback goes to the choice the learner picks",
        ),
        pytest.param(
            "Sky is {true}",
            Question("shortanswer", "Sky is", choices=(Choice("true", 100),)),
            id="lower-case true is a short answer, as in Moodle",
        ),
        pytest.param(
            "Capital of France? {=Paris =%50%paris france#Just Paris =%0%*#No}",
            Question(
                "shortanswer",
                "Capital of France?",
                choices=(
                    Choice("Paris", 100),
                    Choice("paris france", 50, "Just Paris"),
                    Choice("*", 0, "No"),
                ),
            ),
            id="shortanswer",
        ),
        pytest.param(
            "Year? {#1822}",
            Question("numerical", "Year?", numbers=(NumericAnswer(1822, 0),)),
            id="number",
        ),
        pytest.param(
            "Pi? {#3.14:0.01#Close enough}",
            Question("numerical", "Pi?", numbers=(NumericAnswer(3.14, 0.01, 100, "Close enough"),)),
            id="number with tolerance and feedback",
        ),
        pytest.param(
            "Pick 1 to 5 {#1..5}",
            Question("numerical", "Pick 1 to 5", numbers=(NumericAnswer(3, 2, is_range=True),)),
            id="range",
        ),
        pytest.param(
            "Cold {#-40..-30}",
            Question("numerical", "Cold", numbers=(NumericAnswer(-35, 5, is_range=True),)),
            id="negative range",
        ),
        pytest.param(
            "Big {#=1e3:5 =%25%-1.5E+3}",
            Question(
                "numerical", "Big", numbers=(NumericAnswer(1000, 5), NumericAnswer(-1500, 0, 25))
            ),
            id="exponents and weights",
        ),
        pytest.param(
            "Born? {#=1822:0#Right =%50%1822:2#Close ~#Not even close}",
            Question(
                "numerical",
                "Born?",
                numbers=(
                    NumericAnswer(1822, 0, 100, "Right"),
                    NumericAnswer(1822, 2, 50, "Close"),
                    NumericAnswer(0, math.inf, 0, "Not even close"),
                ),
            ),
            id="numerical catch-all",
        ),
        pytest.param(
            "Match {=cat -> cat food =dog -> dog food = -> fish food}",
            Question(
                "matching",
                "Match",
                pairs=(Pair("cat", "cat food"), Pair("dog", "dog food"), Pair("", "fish food")),
            ),
            id="matching with an extra answer",
        ),
        pytest.param(
            "Match {=1->one =2->two =3->three->3}",
            Question(
                "matching",
                "Match",
                pairs=(Pair("1", "one"), Pair("2", "two"), Pair("3", "three->3")),
            ),
            id="matching splits at the first arrow",
        ),
        pytest.param("Tell me {}", Question("essay", "Tell me"), id="essay"),
        pytest.param(
            "Tell me {####Look for two reasons.}",
            Question("essay", "Tell me", general_feedback="Look for two reasons."),
            id="essay with general feedback",
        ),
        pytest.param(
            "Read this first.", Question("description", "Read this first."), id="description"
        ),
        pytest.param(
            "Two plus {=two =2} equals four.",
            Question(
                "shortanswer",
                "Two plus _____ equals four.",
                choices=(Choice("two", 100), Choice("2", 100)),
            ),
            id="missing word",
        ),
        pytest.param(
            "{=Paris} is the capital.",
            Question("shortanswer", "_____ is the capital.", choices=(Choice("Paris", 100),)),
            id="missing word first",
        ),
        pytest.param(
            "::Q1:: What? {=x}",
            Question("shortanswer", "What?", name="Q1", choices=(Choice("x", 100),)),
            id="name",
        ),
        pytest.param(
            "::Q\\:1::What? {=x}",
            Question("shortanswer", "What?", name="Q:1", choices=(Choice("x", 100),)),
            id="escaped colon in a name",
        ),
        pytest.param(
            "Q {~a =b ####General}",
            Question(
                "multichoice",
                "Q",
                choices=(Choice("a", 0), Choice("b", 100)),
                general_feedback="General",
            ),
            id="general feedback",
        ),
    ],
)
def test_question_types(source, expected):
    assert one(source) == expected


@pytest.mark.parametrize(
    ("source", "text_format", "text"),
    [
        ("[markdown]Is **this** bold?{T}", "markdown", "Is **this** bold?"),
        ("[html]Is <b>this</b> bold?{T}", "html", "Is <b>this</b> bold?"),
        ("[plain]Is *this* bold?{T}", "plain", "Is *this* bold?"),
        ("[moodle]Is this bold?{T}", "moodle", "Is this bold?"),
        ("::name::[html]<p>Named</p>{T}", "html", "<p>Named</p>"),
        ("::name:: [html] <p>Spaced</p>{T}", "html", "<p>Spaced</p>"),
        ("No format {T}", "moodle", "No format"),
        ("[1] Footnote style {T}", "moodle", "[1] Footnote style"),
        ("[moodle][Note] Kept {T}", "moodle", "[Note] Kept"),
    ],
)
def test_text_formats(source, text_format, text):
    question = one(source)
    assert (question.text_format, question.text) == (text_format, text)


def test_answer_format_prefixes_are_dropped_as_moodle_does():
    question = one("Q {=[html]<b>a</b>#[markdown]*well* done ~[plain]b}")
    assert question.choices == (Choice("<b>a</b>", 100, "*well* done"), Choice("b", 0))


@pytest.mark.parametrize(
    ("source", "text", "answer"),
    [
        (r"Set \{x\} {=a}", "Set {x}", "a"),
        (r"Is 1\=1? {=yes}", "Is 1=1?", "yes"),
        (r"Tilde \~ hash \# colon \: {=a}", "Tilde ~ hash # colon :", "a"),
        (r"Line one\nline two {=a}", "Line one\nline two", "a"),
        (r"A backslash \\ stays {=a}", "A backslash \\ stays", "a"),
        (r"LaTeX \(x^2\) is kept {=a}", "LaTeX \\(x^2\\) is kept", "a"),
        (r"Not a newline: \\n {=a}", "Not a newline: \\n", "a"),
        (r"Q {=a\=b}", "Q", "a=b"),
        (r"Q {=a\~b}", "Q", "a~b"),
        (r"Q {=a\#b}", "Q", "a#b"),
        (r"Q {=\{a\}}", "Q", "{a}"),
        (r"Q {=C\\}", "Q", "C\\"),
    ],
)
def test_escapes(source, text, answer):
    question = one(source)
    assert (question.text, question.choices[0].text) == (text, answer)


def test_escaped_backslash_before_a_brace_leaves_the_brace_active():
    question = one(r"Path C:\\{=x}")
    assert (question.text, question.choices) == ("Path C:\\", (Choice("x", 100),))


def test_escaped_hash_is_not_feedback():
    assert one(r"Q {=C\# #Right}").choices == (Choice("C#", 100, "Right"),)


def test_multi_line_question_with_comments():
    source = "// before\nFirst line\n// middle\nsecond line {\n  ~a\n  // inside\n  =b\n}\n"
    question = one(source)
    assert question.line == 2
    assert question.text == "First line\n\nsecond line"
    assert question.choices == (Choice("a", 0), Choice("b", 100))


def test_blank_lines_separate_questions_and_comments_do_not():
    questions = parse_gift("A {T}\n\n\n   \nB {F}\n// only a comment\n\n// another\n")
    assert [(q.text, q.line) for q in questions] == [("A", 1), ("B", 5)]


def test_windows_line_endings_and_bom():
    questions = parse_gift("\ufeff::a::A {T}\r\n\r\n::b::B\r\n{F}\r\n")
    assert [(q.name, q.line) for q in questions] == [("a", 1), ("b", 3)]


def test_categories_apply_until_the_next_one():
    source = (
        "Before {T}\n\n$CATEGORY: $course$/top/One\n\nA {T}\n\nB {T}\n\n"
        "$CATEGORY:  $course$/top/Two \nC {T}\n"
    )
    questions = parse_gift(source)
    assert [(q.text, q.category, q.line) for q in questions] == [
        ("Before", "", 1),
        ("A", "$course$/top/One", 5),
        ("B", "$course$/top/One", 7),
        ("C", "$course$/top/Two", 10),
    ]


def test_own_fixture():
    questions = parse_gift(OWN_FIXTURE)
    assert [q.qtype for q in questions] == [
        *["multiresponse", "multichoice", "truefalse", "shortanswer", "numerical", "numerical"],
        *["matching", "essay", "description", "multichoice"],
    ]
    assert [q.category for q in questions] == 3 * ["$course$/top/Cash handling"] + 7 * [
        "$course$/top/Customers"
    ]
    assert questions[0].general_feedback == "Look, feel, tilt."
    assert questions[1].choices[1] == Choice("9:00", 100)
    assert questions[1].text == "The vault opens at _____ on weekdays."
    assert questions[4].numbers == (NumericAnswer(70, 0.5, 100, "Right"),)
    assert questions[4].general_feedback == "2000 x 0.035"
    assert questions[5].numbers[1] == NumericAnswer(6.5, 0.5, 50, "The weekend", is_range=True)
    assert questions[8].text == "The next questions are about {braces}, #hashes and a\nnew line."
    assert questions[9].text == "A question\n\non several lines"


def test_numeric_answer_bounds():
    answer = NumericAnswer(3, 2, is_range=True)
    assert (answer.low, answer.high, answer.is_catch_all) == (1, 5, False)
    assert NumericAnswer(0, math.inf, 0).is_catch_all


def test_qtypes_lists_every_type():
    assert set(QTYPES) == {
        *["multichoice", "multiresponse", "truefalse", "shortanswer", "numerical", "matching"],
        *["essay", "description"],
    }


# ---------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ("Q {=a", 1, "'{' is never closed"),
        ("Q one\ntwo {=a\n=b", 2, "'{' is never closed"),
        ("Q {=a\nR {=b}", 2, "'{' inside the answer block opened on line 1: is its '}' missing?"),
        ("Q =a}", 1, "'}' has no '{' before it"),
        ("Q } {=a}", 1, "'}' has no '{' before it"),
        ("Q {=a}\nR {=b}", 2, "a second answer block"),
        ("Fill {} here.", 1, "empty answer block {} in the middle of the text"),
        ("::name Q {=a}", 1, "the question name has no closing '::'"),
        ("::::Q {=a}", 1, "the question name between '::' and '::' is empty"),
        ("::n::{T}", 1, "the question has no text"),
        ("[mardown]Q {T}", 1, "unknown text format [mardown]"),
        ("::n::\n[Note] Q {T}", 2, "unknown text format [Note]"),
        ("Q {~a ~b}", 1, "no choice is right"),
        ("Q {~%50%a ~%30%b ~c}", 1, "the positive weights add up to 80%, not 100%"),
        ("Q {~%60%a ~%60%b}", 1, "the positive weights add up to 120%, not 100%"),
        ("Q {~%100%a}", 1, "a multiple-choice question needs at least 2 choices"),
        ("Q {=a ~}", 1, "an answer after '~' is empty"),
        ("Q {=%50%a ~b}", 1, "no choice is worth 100%"),
        ("Q {=a ~%abc%b}", 1, "the weight %abc% is not a number"),
        ("Q {=a ~%150%b}", 1, "the weight %150% is outside -100% to 100%"),
        ("Q {=a ~%-101%b}", 1, "the weight %-101% is outside -100% to 100%"),
        ("Q {=%-10%a =b}", 1, "the weight -10% is outside 0% to 100%"),
        ("Q {=%50%a}", 1, "no answer is worth 100%"),
        ("Q {=}", 1, "an answer after '=' is empty"),
        ("Q {#}", 1, "a numerical question needs a number after '#'"),
        ("Q {#abc}", 1, "'abc' is not a number"),
        ("Q {#1,5}", 1, "'1,5' is not a number"),
        ("Q {#3:x}", 1, "'x' is not a number"),
        ("Q {#3:-1}", 1, "the tolerance in 3:-1 is negative"),
        ("Q {#5..1}", 1, "the range 5..1 ends below its start"),
        ("Q {#=%50%3}", 1, "no number is worth 100%"),
        ("Q {#=}", 1, "a number is missing"),
        ("Q {=a -> 1 =b -> 2 =c}", 1, "the matching pair 'c' has no '->'"),
        ("Q {=a -> 1 =b -> 2}", 1, "needs at least 2 questions and 3 answers, not 2 and 2"),
        ("Q {=a -> 1 = -> 2 = -> 3}", 1, "needs at least 2 questions and 3 answers, not 1 and 3"),
        ("Q {=a -> 1 =b -> 2 = -> 3 =c -> }", 1, "'c' has no answer after '->'"),
    ],
)
def test_bad_input_names_the_problem_and_its_line(source, line, message):
    [(found_line, found)] = errors_of(source)
    assert found_line == line
    assert message in found


def test_every_error_in_a_file_is_reported():
    source = "\n".join(
        [
            "::a::Good {T}",  # 1
            "",
            "::b::Unclosed {=x",  # 3
            "",
            "::a::Same name {T}",  # 5
            "",
            "::c::Bad weights {",  # 7
            "  ~%x%one",  # 8
            "  =two",
            "  ~%200%three",  # 10
            "}",
            "",
            "::d::Fine {#3}",
            "",
            "::e::Not a number {#three}",  # 15
        ]
    )
    assert errors_of(source) == [
        (3, "'{' is never closed: add '}' after the answers"),
        (5, "the name 'a' is already used on line 1"),
        (8, "the weight %x% is not a number"),
        (10, "the weight %200% is outside -100% to 100%"),
        (15, "'three' is not a number"),
    ]


def test_gift_error_message_lists_lines():
    error = GiftError([(7, "second"), (2, "first")])
    assert str(error) == "line 2: first\nline 7: second"
    assert isinstance(error, ValueError)


def test_question_level_problems_point_at_the_answer_block():
    source = "::q::A long question\nthat goes on {\n  ~a\n  ~b\n}"
    assert errors_of(source) == [
        (2, "no choice is right: mark the right answer with '=', or weights like ~%50%")
    ]


# ---------------------------------------------------------------------------------------------
# Writing


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(UNIQUE_EXAMPLES, id="moodle examples"),
        pytest.param(MOODLE_FIXTURE, id="moodle fixture"),
        pytest.param(OWN_FIXTURE, id="own fixture"),
    ],
)
def test_round_trip_of_files(source):
    questions = parse_gift(source)
    written = write_gift(questions)
    assert parse_gift(written) == questions
    assert write_gift(parse_gift(written)) == written


TRICKY = [
    Question("description", "Braces {} and a backslash \\ and \\{ and \\n and a\nnew line"),
    Question("description", "[html] is just text here"),
    Question("description", "// not a comment"),
    Question("description", "::not a name::"),
    Question("description", "$CATEGORY: not a category"),
    Question("description", "ends with a backslash \\"),
    Question("description", "backslash at the end of a line\\\nand \\\\ two"),
    Question("essay", "Write about _____ in the middle", name="essay blank"),
    Question("shortanswer", "The end is a blank _____", choices=(Choice("x", 100),)),
    Question("shortanswer", "A _____ in the middle", choices=(Choice("x", 100),)),
    Question("shortanswer", "_____ first", choices=(Choice("x", 100),)),
    Question(
        "shortanswer",
        "Percent",
        choices=(Choice("%50% off", 100), Choice("%x", 30, "%y"), Choice("[html]<b>", 100)),
    ),
    Question(
        "multichoice",
        "Two right answers",
        choices=(Choice("a", 100), Choice("b", 100)),
        general_feedback="[markdown] stays",
    ),
    Question(
        "multichoice",
        "Symbols",
        choices=(
            Choice("a=b ~c #d {e} f:g", 0, "fb = ~ # { } :"),
            Choice("\\", 100, "back\\"),
            Choice("%", -100),
        ),
    ),
    Question("multiresponse", "All weights", choices=(Choice("a", 100), Choice("b", 0))),
    Question(
        "multiresponse",
        "Thirds",
        choices=(Choice("a", 33.33333), Choice("b", 33.33333), Choice("c", 33.33333)),
    ),
    Question(
        "truefalse", "Only right feedback", choices=(Choice("true", 0), Choice("false", 100, "r"))
    ),
    Question(
        "truefalse", "Only wrong feedback", choices=(Choice("true", 0, "w"), Choice("false", 100))
    ),
    Question(
        "truefalse",
        "All feedback",
        choices=(Choice("true", 100, "r#"), Choice("false", 0, "#w")),
        general_feedback="####",
    ),
    Question(
        "numerical",
        "Ranges",
        numbers=(
            one("Q {#3.141..3.142}").numbers[0],
            replace(one("Q {#0.1..0.7#fb}").numbers[0], weight=50),
            NumericAnswer(1e20, 1e18, 40, "big", is_range=True),
            NumericAnswer(-2.5, 0.25, 30),
            NumericAnswer(0, math.inf, 0, "anything else"),
        ),
    ),
    Question("numerical", "Single", numbers=(NumericAnswer(42, 0),), general_feedback="gf"),
    Question(
        "matching",
        "Pairs",
        pairs=(Pair("[html]<i>a</i>", "x -> y"), Pair("b = c", "#2"), Pair("", "spare")),
    ),
    Question("shortanswer", "中文题目：北京是首都吗？", name="中文", choices=(Choice("是", 100),)),
    Question("essay", "[plain] text format", text_format="plain"),
]


def test_round_trip_of_tricky_questions():
    questions = [replace(q, category="Tricky" if i % 3 else "") for i, q in enumerate(TRICKY)]
    assert parse_gift(write_gift(questions)) == questions


def test_ranges_that_no_text_gives_exactly_come_back_within_float_noise():
    question = Question("numerical", "Pi", numbers=(NumericAnswer(3.1415, 0.0005, is_range=True),))
    written = write_gift([question])
    [number] = one(written).numbers
    assert "{#3.141..3.142}" in written
    assert number.is_range
    assert number.value == pytest.approx(3.1415, abs=1e-12)
    assert number.tolerance == pytest.approx(0.0005, abs=1e-12)


@pytest.mark.parametrize(
    ("low", "high"),
    [("3.141", "3.142"), ("0.1", "0.7"), ("-1e-9", "2e-9"), ("-0.4907952200000001", "1.63752261")],
)
def test_written_ranges_come_back_exactly(low, high):
    question = one(f"Q {{#{low}..{high}}}")
    assert one(write_gift([question])) == question


def test_writer_output_is_readable_gift():
    questions = [
        Question("multichoice", "Who?", choices=(Choice("a", 0, "no"), Choice("b", 100))),
        Question(
            "truefalse",
            "Sky is blue",
            name="sky",
            category="Nature",
            text_format="html",
            choices=(Choice("true", 100), Choice("false", 0)),
        ),
        Question("numerical", "Pi?", category="Nature", numbers=(NumericAnswer(3.14, 0.01),)),
        Question("shortanswer", "Ratio 1:2 {x}", category="Maths", choices=(Choice("a", 100),)),
    ]
    assert write_gift(questions) == (
        "Who?{\n\t~a#no\n\t=b\n}\n\n"
        "$CATEGORY: Nature\n\n"
        "::sky::[html]Sky is blue{TRUE}\n\n"
        "Pi?{#3.14:0.01}\n\n"
        "$CATEGORY: Maths\n\n"
        "Ratio 1:2 \\{x\\}{\n\t=a\n}\n"
    )


def test_writer_writes_nothing_for_no_questions():
    assert write_gift([]) == ""


@pytest.mark.parametrize(
    ("question", "message"),
    [
        (Question("riddle", "Q"), "unknown question type 'riddle'"),
        (Question("essay", "Q", text_format="rtf"), "unknown text format [rtf]"),
        (Question("essay", ""), "the question has no text"),
        (
            Question("essay", "Q", choices=(Choice("a", 100),)),
            "choices do not belong in a question of type essay",
        ),
        (Question("shortanswer", "Q", choices=(Choice("a->b", 100),)), "contains '->'"),
        (
            Question("matching", "Q", pairs=(Pair("a->b", "1"), Pair("c", "2"), Pair("", "3"))),
            "contains '->'",
        ),
        (
            Question("multichoice", "Q", choices=(Choice("a", 0), Choice("b", 0))),
            "no choice is worth 100%",
        ),
        (
            Question("truefalse", "Q", choices=(Choice("true", 100), Choice("false", 100))),
            "a true/false question needs",
        ),
        (
            Question(
                "numerical", "Q", numbers=(NumericAnswer(0, math.inf, 0), NumericAnswer(1, 0))
            ),
            "the catch-all answer ~ must come once, last",
        ),
        (Question("description", "Q", general_feedback="gf"), "no answer block"),
    ],
)
def test_writer_refuses_questions_it_cannot_write(question, message):
    with pytest.raises(GiftError) as caught:
        write_gift([question])
    assert message in str(caught.value)


def test_writer_refuses_repeated_names():
    question = Question("essay", "Q", name="same", line=4)
    with pytest.raises(GiftError) as caught:
        write_gift([question, question])
    assert caught.value.errors == [(4, "question 'same': its name is used twice")]


# ---------------------------------------------------------------------------------------------
# JSON


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(UNIQUE_EXAMPLES, id="moodle examples"),
        pytest.param(MOODLE_FIXTURE, id="moodle fixture"),
        pytest.param(OWN_FIXTURE, id="own fixture"),
    ],
)
def test_dict_round_trip(source):
    for question in parse_gift(source):
        stored = json.loads(json.dumps(question_to_dict(question), allow_nan=False))
        restored = question_from_dict(stored)
        assert restored == question
        assert restored.line == question.line


def test_dict_shape():
    question = one("::n::Q {#3:2#ok ~#no}")
    assert question_to_dict(question) == {
        "qtype": "numerical",
        "text": "Q",
        "name": "n",
        "category": "",
        "text_format": "moodle",
        "choices": [],
        "numbers": [
            {"value": 3.0, "tolerance": 2.0, "weight": 100.0, "feedback": "ok", "is_range": False},
            {"value": 0.0, "tolerance": None, "weight": 0.0, "feedback": "no", "is_range": False},
        ],
        "pairs": [],
        "general_feedback": "",
        "line": 1,
    }
