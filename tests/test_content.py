"""The course-file loader: validation with file:line errors, all-or-nothing, sync by slug."""

import shutil

import pytest
from sqlalchemy import func, select

from lms.content import ContentError, read_catalog
from lms.extensions import db
from lms.models import Course, CourseVersion, Item, Question, Track
from tests.conftest import FIXTURES


@pytest.fixture
def tree(tmp_path):
    """A copy of the fixture courses to break."""
    root = tmp_path / "courses"
    shutil.copytree(FIXTURES / "courses", root)
    return root


def errors_of(root) -> list[str]:
    with pytest.raises(ContentError) as caught:
        read_catalog(root)
    return caught.value.errors


def test_good_files_give_their_counts():
    catalog = read_catalog(FIXTURES / "courses")
    assert catalog.summary() == "2 tracks, 3 courses, 2 lessons, 4 questions"


@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        (
            "starter/track.toml",
            'job_roles = ["new_customer_manager"]',
            'job_roles = ["boss"]',
            "courses/starter/track.toml:3: unknown job role 'boss'",
        ),
        (
            "starter/track.toml",
            "summary = {",
            "summary = {{",
            "courses/starter/track.toml:2: invalid TOML",
        ),
        (
            "starter/starter-basics/course.toml",
            'file = "intro"',
            'file = "missing"',
            "courses/starter/starter-basics/missing.zh.md:1: file not found",
        ),
        (
            "starter/starter-basics/course.toml",
            "pass_mark = 75",
            "pass_mark = 175",
            "courses/starter/starter-basics/course.toml:16: pass_mark must be between 0 and 100",
        ),
        (
            "starter/starter-basics/course.toml",
            'kind = "quiz"',
            'kind = "exam"',
            "courses/starter/starter-basics/course.toml:13: kind must be lesson, quiz or practical",
        ),
        (
            "starter/starter-basics/check.zh.gift",
            "{=嘉奖 ~惩罚",
            "{=嘉奖 ~惩罚 {",
            "courses/starter/starter-basics/check.zh.gift:5:",
        ),
        (
            "starter/starter-basics/check.en.gift",
            "::weekly::",
            "::weekly-en::",
            "courses/starter/starter-basics/check.en.gift:7: no question ::weekly-en:: in zh",
        ),
        (
            "starter/starter-basics/check.en.gift",
            "{T}",
            "{=yes ~no}",
            "courses/starter/starter-basics/check.en.gift:7: ::weekly:: differs from the zh",
        ),
        (
            "starter/starter-practice/course.toml",
            'requires = ["starter-basics"]',
            'requires = ["nowhere"]',
            "requires unknown course 'nowhere'",
        ),
        (
            "advanced/track.toml",
            'requires = ["starter"]',
            'requires = ["nowhere"]',
            "requires unknown track 'nowhere'",
        ),
        (
            "advanced/track.toml",
            'courses = ["advanced-course"]',
            "courses = []",
            "courses/advanced/track.toml:4: courses must list the course folders",
        ),
    ],
)
def test_a_bad_file_is_named_with_its_line(tree, path, old, new, expected):
    file = tree / path
    text = file.read_text(encoding="utf-8")
    assert old in text
    file.write_text(text.replace(old, new, 1), encoding="utf-8")
    errors = errors_of(tree)
    assert any(e.startswith(expected) or expected in e for e in errors), errors


def test_every_error_is_reported_at_once(tree):
    (tree / "starter/track.toml").write_text(
        (tree / "starter/track.toml").read_text().replace("new_customer_manager", "x")
    )
    (tree / "advanced/advanced-course/only.zh.md").unlink()
    assert len(errors_of(tree)) == 2


def test_a_course_slug_is_unique_across_tracks(tree):
    shutil.copytree(tree / "advanced/advanced-course", tree / "starter/advanced-course")
    track = tree / "starter/track.toml"
    track.write_text(
        track.read_text().replace('"starter-practice"]', '"starter-practice", "advanced-course"]')
    )
    assert any("already used" in e for e in errors_of(tree))


def test_check_prints_the_summary_and_load_writes_nothing_on_error(app, tree):
    runner = app.test_cli_runner()
    good = runner.invoke(args=["courses", "check", str(FIXTURES / "courses")])
    assert "2 tracks, 3 courses, 2 lessons, 4 questions" in good.output
    (tree / "advanced/advanced-course/only.zh.md").unlink()
    bad = runner.invoke(args=["courses", "load", str(tree)])
    assert bad.exit_code == 1
    assert "courses/advanced/advanced-course/only.zh.md:1: file not found" in bad.output
    assert db.session.scalar(select(func.count()).select_from(Track)) == 0
    assert db.session.scalar(select(func.count()).select_from(Course)) == 0


def test_loading_twice_duplicates_nothing(app, load_courses):
    load_courses()
    load_courses()
    counts = [
        db.session.scalar(select(func.count()).select_from(m))
        for m in (Track, Course, Item, Question)
    ]
    assert counts == [2, 3, 4, 4]
    assert db.session.scalar(select(func.count()).select_from(CourseVersion)) == 3


def test_a_changed_course_gets_a_new_version_and_removed_items_retire(app, load_courses, tree):
    load_courses(tree)
    lesson = tree / "starter/starter-basics/intro.zh.md"
    lesson.write_text(lesson.read_text() + "\n新增一段。\n")
    load_courses(tree)
    course = db.session.scalar(select(Course).where(Course.slug == "starter-basics"))
    assert course.version == 2
    assert "新增一段" in db.session.scalar(select(Item.html_zh).where(Item.key == "intro"))
    untouched = db.session.scalar(select(Course).where(Course.slug == "advanced-course"))
    assert untouched.version == 1

    toml = tree / "starter/starter-basics/course.toml"
    text = toml.read_text()
    toml.write_text(text[: text.index('  [[modules.items]]\n  kind = "quiz"')])
    load_courses(tree)
    quiz = db.session.scalar(select(Item).where(Item.key == "check"))
    assert quiz is not None
    assert not quiz.is_active
    assert quiz.module_id is None
    assert [i.key for m in course.modules for i in m.items] == ["intro"]
