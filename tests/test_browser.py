"""A new customer manager's first onboarding course, clicked through in Chromium.

The site is set up as `python run.py --demo` sets it up (migrations, the shipped `courses/`, the
demo accounts) on a SQLite file of the test's own, and served on a real HTTP server. Screenshots
of the key steps go to tests/artifacts/.
"""

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask_babel import force_locale, gettext
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lms.cli import setup_site
from lms.extensions import db
from lms.gift import Question, question_from_dict
from lms.grading import correct_response
from lms.models import Attempt, Completion, Item, ItemKind, JobRole, Module, Track, User
from tests.live import CHROMIUM, create_live_app, live_server

COURSES = Path(__file__).resolve().parent.parent / "courses"
ARTIFACTS = Path(__file__).parent / "artifacts"
DEMO_PASSWORD = "demo password 123"
RAW_MARKUP = re.compile(r"</?(?:br|p|strong|em|ul|ol|li|code|a)\b[^>]*>")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium"
)


@dataclass(frozen=True)
class Plan:
    """What the journey should meet, read from the database rather than hard-coded."""

    learner: str
    course_slug: str
    lesson_ids: list[int]
    quiz_id: int


def first_onboarding_course() -> Plan:
    """The first course of the first track assigned to new customer managers."""
    track = db.session.scalars(Track.assigned_to(JobRole.NEW_CUSTOMER_MANAGER)).first()
    course = next(c for c in track.courses if c.is_active)
    outline = db.session.scalars(
        select(Item)
        .join(Module, Module.id == Item.module_id)
        .where(Item.course_id == course.id, Item.is_active)
        .order_by(Module.position, Item.position)
    ).all()
    return Plan(
        learner=db.session.scalar(select(User.name).where(User.username == "new.manager")),
        course_slug=course.slug,
        lesson_ids=[i.id for i in outline if i.kind == ItemKind.LESSON],
        quiz_id=next(i.id for i in outline if i.kind == ItemKind.QUIZ),
    )


@pytest.fixture
def site(tmp_path, monkeypatch):
    """The demo site on the shipped curricula, served; yields the app, base URL and plan."""
    monkeypatch.setenv("LMS_DEMO_PASSWORD", DEMO_PASSWORD)
    app = create_live_app(f"sqlite:///{tmp_path / 'site.db'}", COURSES_PATH=str(COURSES))
    with app.app_context():
        setup_site(demo=True)
        plan = first_onboarding_course()
    try:
        with live_server(app) as base_url:
            yield app, base_url, plan
    finally:
        with app.app_context():
            db.engine.dispose()


def ui(app, text: str) -> str:
    """An interface text as the (Chinese-speaking) learner reads it."""
    with app.test_request_context(), force_locale("zh"):
        return gettext(text)


def checkpoint(page: Page, screenshot: str | None = None) -> None:
    """The page is a page of the app, not a traceback, and shows no HTML tags as text;
    optionally keep a screenshot of it."""
    assert "Traceback" not in page.content(), page.url
    raw = RAW_MARKUP.findall(page.locator("body").inner_text())
    assert not raw, f"{page.url} shows HTML tags as text: {raw}"
    if screenshot:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"{screenshot}.png", full_page=True)


def open_from_outline(page: Page, course_slug: str, item_id: int) -> None:
    """Go to the course outline (unless already there) and open one of its items."""
    if not page.url.endswith(f"/courses/{course_slug}"):
        page.locator(f'a[href="/courses/{course_slug}"]').first.click()
    page.locator(f'.module a[href="/items/{item_id}"]').click()
    expect(page).to_have_url(re.compile(f"/items/{item_id}$"))
    checkpoint(page)


def open_questions(app, page: Page) -> list[tuple[int, Question]]:
    """The questions of the attempt on screen, as its snapshots in the database froze them."""
    attempt_id = int(re.search(r"/attempts/(\d+)$", page.url).group(1))
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        return [
            (a.position, question_from_dict(a.snapshot))
            for a in attempt.answers
            if a.snapshot["qtype"] != "description"
        ]


def wrong_response(question: Question):
    """The lowest-scoring choice or the wrong truth value; other kinds are left blank."""
    if question.qtype == "truefalse":
        return not correct_response(question)
    if question.qtype == "multichoice":
        return min(range(len(question.choices)), key=lambda i: question.choices[i].weight)
    return None


def fill(page: Page, field: str, qtype: str, response) -> None:
    """Enter a response, in the grader's shape, into a question's inputs as a learner would."""
    if response is None:
        return
    if qtype == "matching":
        for i, right in response.items():
            page.locator(f'select[name="{field}_{i}"]').select_option(value=right)
    elif qtype in ("multichoice", "multiresponse", "truefalse"):
        for value in response if isinstance(response, list) else [response]:
            value = {True: "true", False: "false"}[value] if isinstance(value, bool) else value
            page.locator(f'input[name="{field}"][value="{value}"]').check()
    else:
        page.locator(f'[name="{field}"]').fill(str(response))


def take_attempt(app, page: Page, plan: Plan, start_label: str, choose) -> None:
    """Start an attempt from the quiz page, answer every question with choose(question), submit."""
    page.locator(f'form[action="/items/{plan.quiz_id}/attempts"]').get_by_role(
        "button", name=start_label
    ).click()
    expect(page).to_have_url(re.compile(r"/attempts/\d+$"))
    checkpoint(page)
    for position, question in open_questions(app, page):
        fill(page, f"q{position}", question.qtype, choose(question))
    page.get_by_role("button", name=ui(app, "Submit for grading")).click()
    expect(page).to_have_url(re.compile(r"/attempts/\d+/review$"))


def test_a_new_manager_fails_then_passes_the_first_onboarding_course_and_is_certified(
    site, browser
):
    app, base_url, plan = site
    page = browser.new_page(base_url=base_url, locale="zh-CN")
    page.set_default_timeout(10_000)
    server_errors = []
    page.on("response", lambda r: r.status >= 500 and server_errors.append(r.url))

    # Sign in through the login page; the dashboard shows the onboarding track.
    page.goto("/login")
    page.locator('input[name="username"]').fill("new.manager")
    page.locator('input[name="password"]').fill(DEMO_PASSWORD)
    page.get_by_role("button", name=ui(app, "Sign in")).click()
    expect(page).to_have_url(f"{base_url}/dashboard")
    checkpoint(page, "1-dashboard")

    # Open the first course from the dashboard; read each lesson and mark it done.
    page.locator(f'a[href="/courses/{plan.course_slug}"]').click()
    for n, lesson_id in enumerate(plan.lesson_ids):
        open_from_outline(page, plan.course_slug, lesson_id)
        expect(page.locator("article.lesson")).not_to_be_empty()
        checkpoint(page, None if n else "2-lesson")
        page.locator(f'form[action="/items/{lesson_id}/done"]').get_by_role("button").click()
        expect(page).not_to_have_url(re.compile(f"/items/{lesson_id}$"))  # on to the next item

    # A wrong first attempt fails.
    open_from_outline(page, plan.course_slug, plan.quiz_id)
    take_attempt(app, page, plan, ui(app, "Start the quiz"), wrong_response)
    expect(page.locator(".result .bad")).to_contain_text(ui(app, "Not passed"))
    checkpoint(page, "3-failed")

    # A second attempt, answered right, passes and completes the course.
    page.locator(f'.result a[href="/items/{plan.quiz_id}"]').click()
    take_attempt(app, page, plan, ui(app, "Start a new attempt"), correct_response)
    expect(page.locator(".result .ok")).to_contain_text(ui(app, "Passed"))
    expect(page.locator(".result")).to_contain_text(ui(app, "You completed the course."))
    checkpoint(page, "4-passed")

    # The certificate names the learner, and anyone can check it without signing in.
    page.locator('.result a[href^="/certificates/"]').click()
    expect(page.locator(".certificate .name")).to_have_text(plan.learner)
    checkpoint(page, "5-certificate")
    code = page.locator(".certificate .code strong").inner_text()
    public = browser.new_page(base_url=base_url, locale="zh-CN")
    public.goto(f"/verify/{code}")
    expect(public.locator("main")).to_contain_text(plan.learner)
    checkpoint(public)

    assert server_errors == []
    with app.app_context():
        completion = db.session.scalars(select(Completion)).one()
        assert completion.certificate_code == code
        assert completion.course.slug == plan.course_slug
        attempts = db.session.scalars(select(Attempt).order_by(Attempt.number)).all()
        assert [a.is_passed for a in attempts] == [False, True]
