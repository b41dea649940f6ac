"""`flask gift check`, `flask gift import` and `flask gift export`."""

from sqlalchemy import select

from lms.extensions import db
from lms.gift import parse_gift
from lms.models import Course, CourseDraft, Role
from tests.conftest import FIXTURES

BASICS = FIXTURES / "courses/starter/starter-basics"


def gift(app, *args: str):
    return app.test_cli_runner().invoke(args=["gift", *args])


def test_check_counts_the_questions_by_type(app):
    result = gift(app, "check", str(BASICS / "check.zh.gift"))
    assert result.exit_code == 0
    assert result.stdout == (
        "4 questions\nmultichoice: 1\ntruefalse: 1\nshortanswer: 1\nnumerical: 1\n"
    )


def test_check_lists_every_error_with_its_line_and_exits_1(app, tmp_path):
    path = tmp_path / "bad.gift"
    path.write_text("::a::好{T}\n\n::b::坏 {=x ~y\n\n::c::数{#abc}\n", encoding="utf-8")
    result = gift(app, "check", str(path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "line 3: '{' is never closed: add '}' after the answers",
        "line 5: 'abc' is not a number",
    ]


def test_check_refuses_what_is_not_utf8(app, tmp_path):
    path = tmp_path / "gbk.gift"
    path.write_bytes("::a::好{T}\n".encode("gbk"))
    result = gift(app, "check", str(path))
    assert result.exit_code == 1
    assert result.stderr == "line 1: not UTF-8 text\n"


def test_export_prints_one_quiz_as_its_file(app, load_courses):
    load_courses()
    result = gift(app, "export", "--course", "starter-basics", "--quiz", "check")
    assert result.exit_code == 0
    source = parse_gift((BASICS / "check.zh.gift").read_text(encoding="utf-8"))
    assert parse_gift(result.stdout) == source
    assert "// quiz:" not in result.stdout


def test_export_in_english(app, load_courses):
    load_courses()
    result = gift(app, "export", "--course", "starter-basics", "--language", "en")
    assert result.exit_code == 0
    assert result.stdout.startswith("// quiz: check\n$CATEGORY: starter/basics\n")
    source = parse_gift((BASICS / "check.en.gift").read_text(encoding="utf-8"))
    assert parse_gift(result.stdout) == source


def test_export_heads_each_quiz_of_a_course(app, load_courses, tmp_path):
    course = tmp_path / "courses/t/c"
    course.mkdir(parents=True)
    (tmp_path / "courses/t/track.toml").write_text('title = "轨道"\ncourses = ["c"]\n')
    (course / "course.toml").write_text(
        'title = "课程"\n\n[[modules]]\ntitle = "单元"\n\n'
        '  [[modules.items]]\n  kind = "quiz"\n  file = "one"\n  title = "一"\n\n'
        '  [[modules.items]]\n  kind = "quiz"\n  file = "two"\n  title = "二"\n',
        encoding="utf-8",
    )
    (course / "one.zh.gift").write_text("::a::甲{T}\n", encoding="utf-8")
    (course / "two.zh.gift").write_text("::b::乙{F}\n", encoding="utf-8")
    load_courses(tmp_path / "courses")
    result = gift(app, "export", "--course", "c")
    assert result.exit_code == 0
    assert result.stdout == "// quiz: one\n::a::甲{TRUE}\n\n// quiz: two\n::b::乙{FALSE}\n"
    # No English questions at all: nothing to print is an error, not an empty success.
    english = gift(app, "export", "--course", "c", "--language", "en")
    assert english.exit_code == 1
    assert english.stderr == "course 'c' has no en quiz questions\n"


def test_export_names_what_it_cannot_find(app, load_courses):
    load_courses()
    missing = gift(app, "export", "--course", "nope")
    assert (missing.exit_code, missing.stderr) == (1, "no course 'nope'\n")
    no_quiz = gift(app, "export", "--course", "starter-basics", "--quiz", "intro")
    assert no_quiz.exit_code == 1
    assert no_quiz.stderr == "course 'starter-basics' has no quiz 'intro'\n"
    practical = gift(app, "export", "--course", "starter-practice")
    assert practical.exit_code == 1
    bad_language = gift(app, "export", "--course", "starter-basics", "--language", "fr")
    assert bad_language.exit_code == 2


def test_import_appends_to_the_quiz_of_the_course_draft_all_or_nothing(
    app, load_courses, make_user, tmp_path
):
    load_courses()
    author = make_user("author", roles={Role.TRAINER})
    course = db.session.scalar(select(Course).filter_by(slug="starter-basics"))
    course.trainers.append(author)
    db.session.commit()
    runner = app.test_cli_runner()
    bad = tmp_path / "bad.gift"
    bad.write_text("::x::好{=a ~b\n", encoding="utf-8")
    args = ["gift", "import", "--course", "starter-basics", "--author", "author"]
    result = runner.invoke(args=[*args, str(bad)])
    assert result.exit_code == 1
    assert "line 1:" in result.output
    assert db.session.scalar(select(CourseDraft)) is None
    good = tmp_path / "good.gift"
    good.write_text("::new-one::新题？{T}\n", encoding="utf-8")
    result = runner.invoke(args=[*args, str(good)])
    assert "1 questions added to quiz 'check'" in result.output
    draft = db.session.scalar(select(CourseDraft))
    assert "::new-one::新题？{T}" in draft.files["check.zh.gift"]
    outsider = runner.invoke(
        args=["gift", "import", "--course", "starter-basics", "--author", "nobody", str(good)]
    )
    assert outsider.exit_code == 1
