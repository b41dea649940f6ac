"""The demo trainer builds a module in Chromium; it is reviewed, published, taken and measured.

The issue's "Done when": the trainer, in a browser, builds a module with a lesson and an imported
quiz, publishes it, a learner completes it, and the trainer sees its statistics. Publishing is
four-eyes, so a second trainer, `reviewer`, is named on the course and approves the draft.

The site is set up as tests/test_browser.py sets it up (the shipped `courses/`, the demo accounts,
a SQLite file of the test's own, a real HTTP server). Each person has a browser session of their
own. Screenshots of the key steps go to tests/artifacts/authoring-*.png.
"""

import re
from dataclasses import dataclass, field

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from lms.cli import ensure_user, setup_site
from lms.extensions import db
from lms.models import Attempt, Course, CourseVersion, Item, Role, User
from tests.live import CHROMIUM, create_live_app, live_server
from tests.test_browser import (
    COURSES,
    DEMO_PASSWORD,
    checkpoint,
    first_onboarding_course,
    ui,
)

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"
)

MODULE = ("浏览器测试单元", "Browser test module")
LESSON = "browser-lesson"
LESSON_TITLE = "首次拜访的准备"
LESSON_BODY = "拜访客户之前，先**了解客户背景**，再准备问题。\n\n- 查阅客户资料\n- 确定拜访目的\n"
QUIZ = "browser-quiz"
QUIZ_TITLE = "首次拜访小测验"
GIFT = """\
::first-step:: 首次拜访客户前，客户经理应先做什么？{
=了解客户的背景和需求
~直接推销理财产品
~先谈贷款利率
}

::privacy:: 客户的账户信息可以随意告诉他人。{F}

::hotline:: 请写出本行的客服热线号码。{=95588}
"""
NOTE = "新增“首次拜访”单元：一节课时和一份导入的测验。"


@dataclass
class Site:
    """The served demo site, the course being edited and every 5xx the browsers met."""

    app: Flask
    base_url: str
    course_slug: str
    version_before: int
    server_errors: list[str] = field(default_factory=list)

    def zh(self, text: str) -> str:
        """An interface text as the Chinese UI shows it."""
        return ui(self.app, text)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """The demo site with a second trainer, `reviewer`, on the first onboarding course."""
    monkeypatch.setenv("LMS_DEMO_PASSWORD", DEMO_PASSWORD)
    app = create_live_app(f"sqlite:///{tmp_path / 'site.db'}", COURSES_PATH=str(COURSES))
    with app.app_context():
        setup_site(demo=True)
        slug = first_onboarding_course().course_slug
        ensure_user("reviewer", "审核老师", None, {Role.TRAINER}, DEMO_PASSWORD)
        course = db.session.scalar(select(Course).where(Course.slug == slug))
        course.trainers.append(db.session.scalar(select(User).where(User.username == "reviewer")))
        db.session.commit()
        version_before = course.version
    try:
        with live_server(app) as base_url:
            yield Site(app, base_url, slug, version_before)
    finally:
        with app.app_context():
            db.engine.dispose()


def sign_in(site: Site, browser: Browser, username: str) -> Page:
    """A browser session of its own for `username`, signed in through the login page."""
    page = browser.new_context(base_url=site.base_url, locale="zh-CN").new_page()
    page.set_default_timeout(10_000)
    page.on("response", lambda r: r.status >= 500 and site.server_errors.append(r.url))
    page.goto("/login")
    page.locator('input[name="username"]').fill(username)
    page.locator('input[name="password"]').fill(DEMO_PASSWORD)
    page.get_by_role("button", name=site.zh("Sign in")).click()
    expect(page).not_to_have_url(re.compile("/login"))
    return page


def saved(site: Site, page: Page) -> None:
    """The edit was written to the draft."""
    expect(page.get_by_role("status")).to_contain_text(site.zh("Draft saved."))
    checkpoint(page)


def add_item(site: Site, page: Page, kind: str, key: str, title: str) -> None:
    """On the draft editor, add an item to the last module; its editor opens."""
    form = page.locator(f'form[action="/author/courses/{site.course_slug}/draft/items"]')
    form.get_by_label(site.zh("Kind")).select_option(kind)
    form.get_by_label(site.zh("File name")).fill(key)
    form.get_by_label(site.zh("Title (Chinese)")).fill(title)
    form.get_by_role("button", name=site.zh("Add item")).click()
    expect(page).to_have_url(re.compile(f"/draft/items/{key}$"))
    saved(site, page)


def back_to_draft(site: Site, page: Page) -> None:
    page.locator(f'a[href="/author/courses/{site.course_slug}/draft"]').click()
    expect(page).to_have_url(re.compile("/draft$"))


def build_module_and_send_to_review(site: Site, page: Page) -> None:
    """The trainer drafts a module with a lesson and an imported quiz, and sends it to review."""
    page.goto("/author/")
    page.locator(f'a[href="/author/courses/{site.course_slug}"]').click()
    page.get_by_role("button", name=site.zh("Start a draft of the next version")).click()
    expect(page).to_have_url(re.compile("/draft$"))
    checkpoint(page)

    # A module, with titles in both languages.
    page.get_by_label(site.zh("Module title (Chinese)")).fill(MODULE[0])
    page.get_by_label(site.zh("Module title (English)")).fill(MODULE[1])
    page.get_by_role("button", name=site.zh("Add module")).click()
    saved(site, page)
    expect(page.get_by_role("heading", name=MODULE[0])).to_be_visible()

    # A lesson: its Markdown previews as HTML, then is saved.
    add_item(site, page, "lesson", LESSON, LESSON_TITLE)
    body = page.get_by_label(site.zh("Lesson (Chinese, Markdown)"))
    body.fill(LESSON_BODY)
    page.get_by_role("button", name=site.zh("Preview")).click()
    expect(page.locator("article.lesson strong").first).to_have_text("了解客户背景")
    checkpoint(page, "authoring-1-lesson-preview")
    page.get_by_role("button", name=site.zh("Save")).click()
    saved(site, page)
    expect(body).to_have_value(LESSON_BODY)

    # A quiz, its questions imported from GIFT text: checked first, then added.
    back_to_draft(site, page)
    add_item(site, page, "quiz", QUIZ, QUIZ_TITLE)
    page.get_by_label(site.zh("or paste GIFT text")).fill(GIFT)
    page.get_by_role("button", name=site.zh("Check the file")).click()
    expect(page.locator("main")).to_contain_text(site.zh("%(n)d questions") % {"n": 3})
    for name in ("first-step", "privacy", "hotline"):
        expect(page.get_by_role("listitem").filter(has_text=name)).to_be_visible()
    expect(page.locator('textarea[name="text"]')).to_be_hidden()  # carried to the confirm step
    checkpoint(page, "authoring-2-import-preview")
    page.get_by_role("button", name=site.zh("Add these questions to the quiz")).click()
    expect(page).to_have_url(re.compile(f"/draft/items/{QUIZ}$"))
    saved(site, page)
    expect(page.get_by_label(site.zh("Questions (Chinese, GIFT)"))).to_have_value(
        re.compile("::first-step::.*::privacy::.*::hotline::", re.S)
    )

    # The draft has no problems; it goes to review with a note.
    back_to_draft(site, page)
    expect(
        page.get_by_role("heading", name=site.zh("Problems to fix before review"))
    ).to_have_count(0)
    for title in (LESSON_TITLE, QUIZ_TITLE):
        expect(page.get_by_role("link", name=title)).to_be_visible()
    checkpoint(page, "authoring-3-draft")
    page.get_by_label(site.zh("What changed")).fill(NOTE)
    page.get_by_role("button", name=site.zh("Send to review")).click()
    expect(page.get_by_role("status")).to_contain_text(
        site.zh("The draft waits for a second trainer's review.")
    )
    checkpoint(page)
    # Four eyes: the author cannot approve their own draft.
    expect(page.get_by_role("button", name=site.zh("Approve and publish"))).to_have_count(0)


def approve_and_publish(site: Site, page: Page) -> None:
    """The second trainer opens the draft and publishes it; the course lists the new version."""
    page.goto("/author/")
    page.locator(f'a[href="/author/courses/{site.course_slug}"]').click()
    page.get_by_role("link", name=site.zh("Open the draft")).click()
    expect(page.locator("main")).to_contain_text(NOTE)
    page.get_by_role("button", name=site.zh("Approve and publish")).click()
    expect(page).to_have_url(re.compile(f"/author/courses/{site.course_slug}$"))
    new_version = site.version_before + 1
    expect(page.get_by_role("status")).to_have_text(
        site.zh("Version %(n)d is published.") % {"n": new_version}
    )
    latest = page.get_by_role("row").filter(has_text=NOTE)
    expect(latest.get_by_role("cell").first).to_have_text(str(new_version))
    expect(latest).to_contain_text("审核老师")
    checkpoint(page, "authoring-4-published")


def question(page: Page, text: str):
    """The question (a fieldset) whose text contains `text`, wherever shuffling put it."""
    return page.get_by_role("group").filter(has_text=text)


def complete_new_module(site: Site, page: Page) -> None:
    """The learner reads the new lesson, marks it done, and passes the new quiz."""
    page.goto(f"/courses/{site.course_slug}")
    page.get_by_role("link", name=LESSON_TITLE).click()
    expect(page.locator("article.lesson strong")).to_have_text("了解客户背景")
    checkpoint(page)
    page.get_by_role("button", name=site.zh("Mark as done")).click()
    expect(page.get_by_role("heading", name=QUIZ_TITLE)).to_be_visible()  # the next item

    page.get_by_role("button", name=site.zh("Start the quiz")).click()
    expect(page).to_have_url(re.compile(r"/attempts/\d+$"))
    checkpoint(page)
    question(page, "首次拜访客户前").get_by_label("了解客户的背景和需求", exact=True).check()
    question(page, "账户信息").get_by_label(site.zh("False"), exact=True).check()
    question(page, "客服热线").get_by_role("textbox", name=site.zh("Your answer")).fill("95588")
    page.get_by_role("button", name=site.zh("Submit for grading")).click()
    expect(page).to_have_url(re.compile(r"/attempts/\d+/review$"))
    expect(page.locator(".result .ok")).to_contain_text(f"{site.zh('Passed')}: 100.0%")
    checkpoint(page, "authoring-5-passed")


def see_statistics(site: Site, page: Page) -> None:
    """The trainer opens the new quiz's statistics: one attempt, every question answered right."""
    page.goto(f"/author/courses/{site.course_slug}")
    quiz = page.get_by_role("listitem").filter(has_text=QUIZ_TITLE)
    quiz.get_by_role("link", name=site.zh("Statistics")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(QUIZ_TITLE)
    attempts = page.locator("dt", has_text=site.zh("Attempts")).locator("xpath=following::dd[1]")
    expect(attempts).to_have_text("1")
    expect(page.get_by_role("columnheader", name=site.zh("Facility index"))).to_be_visible()
    for name in ("first-step", "privacy", "hotline"):
        cells = (
            page.get_by_role("row")
            .filter(has=page.get_by_text(name, exact=True))
            .get_by_role("cell")
        )
        expect(cells.nth(1)).to_have_text("1")  # attempts
        expect(cells.nth(2)).to_have_text("100.0%")  # facility
    checkpoint(page, "authoring-6-statistics")


def test_the_trainer_builds_a_module_a_reviewer_publishes_it_a_learner_passes_it(site, browser):
    trainer = sign_in(site, browser, "trainer")
    build_module_and_send_to_review(site, trainer)

    approve_and_publish(site, sign_in(site, browser, "reviewer"))

    complete_new_module(site, sign_in(site, browser, "new.manager"))

    see_statistics(site, trainer)

    assert site.server_errors == []
    with site.app.app_context():
        course = db.session.scalar(select(Course).where(Course.slug == site.course_slug))
        assert course.version == site.version_before + 1
        version = db.session.scalar(
            select(CourseVersion)
            .where(CourseVersion.course_id == course.id)
            .order_by(CourseVersion.number.desc())
            .limit(1)
        )
        assert (version.number, version.note) == (course.version, NOTE)
        assert (version.author.username, version.approved_by.username) == ("trainer", "reviewer")
        attempt = db.session.scalars(
            select(Attempt)
            .join(Item)
            .join(User, User.id == Attempt.user_id)
            .where(Item.course_id == course.id, Item.key == QUIZ, User.username == "new.manager")
        ).one()
        assert not attempt.is_open
        assert attempt.is_passed
