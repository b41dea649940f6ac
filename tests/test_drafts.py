"""Editing a draft's files: pure functions, no app."""

import pytest

from lms import drafts
from lms.content import read_course_files
from tests.conftest import FIXTURES

BASICS = FIXTURES / "courses/starter/starter-basics"


@pytest.fixture
def files():
    return {p.name: p.read_text(encoding="utf-8") for p in BASICS.iterdir()}


def keys(files):
    return [[i.key for i in m.items] for m in drafts.outline(files)]


def test_a_new_course_becomes_valid_once_it_has_a_module_and_a_lesson():
    files = drafts.new_course("新课程", "New course")
    files = drafts.add_module(files, "第一单元", "Unit 1")
    files = drafts.add_item(files, 0, "lesson", "hello", "你好", "Hello")
    files = drafts.update_item(files, "hello", {}, {"hello.zh.md": "# 你好\n"})
    spec = read_course_files("new-course", files)
    assert spec.title.zh == "新课程"
    assert [i.key for i in spec.items] == ["hello"]


def test_items_move_within_and_across_modules(files):
    files = drafts.add_module(files, "第二单元", "Unit 2")
    assert keys(files) == [["intro", "check"], []]
    files = drafts.move_item(files, "intro", 1)
    assert keys(files) == [["check", "intro"], []]
    files = drafts.move_item(files, "intro", 1)
    assert keys(files) == [["check"], ["intro"]]
    with pytest.raises(drafts.DraftError):
        drafts.move_item(files, "intro", 1)
    read_course_files("starter-basics", files)  # still valid


def test_deleting_an_item_removes_its_files_and_a_module_must_be_empty_first(files):
    with pytest.raises(drafts.DraftError):
        drafts.delete_module(files, 0)
    files = drafts.delete_item(files, "check")
    assert "check.zh.gift" not in files
    assert "check.en.gift" not in files
    assert keys(files) == [["intro"]]


def test_a_duplicate_file_name_is_refused(files):
    with pytest.raises(drafts.DraftError, match="already has an item"):
        drafts.add_item(files, 0, "quiz", "check", "重复", "Again")


def test_editing_keeps_the_authors_comments_and_layout(files):
    files = {**files, "course.toml": "# 课程说明\n" + files["course.toml"]}
    files = drafts.set_course(files, "新标题", "New title", "", "")
    assert files["course.toml"].startswith("# 课程说明\n")
    assert 'title = { zh = "新标题", en = "New title" }' in files["course.toml"] or (
        "新标题" in files["course.toml"]
    )


def test_the_item_form_round_trips_through_the_files(files):
    data = drafts.item_fields(files, "check")
    assert data["pass_mark"] == 75
    assert data["max_attempts"] == 3
    data = {**data, "pass_mark": 60, "gift_en": ""}
    files = drafts.update_item_from_form(files, "check", data)
    assert drafts.item_fields(files, "check")["pass_mark"] == 60
    assert "check.en.gift" not in files  # an emptied translation is removed
    assert read_course_files("starter-basics", files).modules[0].items[1].pass_mark == 60


def test_a_gift_preview_lists_questions_or_errors_by_line():
    good = drafts.gift_preview("::a::一加一？{#2}\n\n::b::天是蓝的。{T}\n")
    assert good.counts() == {"numerical": 1, "truefalse": 1}
    bad = drafts.gift_preview("::a::一加一？{#2}\n\n::b::坏的{=a ~b\n")
    assert bad.questions == ()
    assert bad.errors[0][0] == 3


def test_diff_names_each_changed_file():
    changes = drafts.diff({"a.md": "x\n", "b.md": "same"}, {"a.md": "y\n", "b.md": "same"})
    assert [path for path, _ in changes] == ["a.md"]
    assert "-x" in changes[0][1]
    assert "+y" in changes[0][1]
