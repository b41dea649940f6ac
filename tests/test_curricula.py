"""The bank's curricula as shipped in courses/: they load, they pass the content lint, and each
job role finds its own track."""

from collections import Counter
from pathlib import Path

import pytest

from lms.content import lint_catalog, read_catalog
from lms.models import JobRole

COURSES = Path(__file__).resolve().parent.parent / "courses"

# Track slug -> (courses, at least this many questions, the job roles it is assigned to).
EXPECTED = {
    "onboarding": (4, 30, {JobRole.NEW_CUSTOMER_MANAGER}),
    "basic": (
        8,
        80,
        {JobRole.CUSTOMER_MANAGER, JobRole.CORPORATE_CUSTOMER_MANAGER, JobRole.KEY_ACCOUNT_MANAGER},
    ),
    "senior": (2, 20, {JobRole.SENIOR_CUSTOMER_MANAGER}),
    "prospecting": (1, 20, {JobRole.CORPORATE_CUSTOMER_MANAGER}),
    "key-account": (2, 20, {JobRole.KEY_ACCOUNT_MANAGER}),
    "credit-officer": (2, 20, {JobRole.CREDIT_OFFICER}),
}


@pytest.fixture(scope="module")
def catalog():
    return read_catalog(COURSES)


def test_the_six_curricula_load_with_at_least_200_questions(catalog):
    counts = catalog.counts()
    assert counts["tracks"] == 6
    assert counts["questions"] >= 200
    tracks = {t.slug: t for t in catalog.tracks}
    assert set(tracks) == set(EXPECTED)
    for slug, (courses, questions, roles) in EXPECTED.items():
        track = tracks[slug]
        assert len(track.courses) == courses, slug
        assert sum(len(i.questions) for c in track.courses for i in c.items) >= questions, slug
        assert set(track.job_roles) == roles, slug


def test_every_job_role_has_a_track(catalog):
    assigned = {role for t in catalog.tracks for role in t.job_roles}
    assert assigned == set(JobRole)


def test_the_senior_track_requires_the_basic_track(catalog):
    senior = next(t for t in catalog.tracks if t.slug == "senior")
    assert senior.requires == ("basic",)


def test_the_content_lint_passes(catalog):
    assert lint_catalog(catalog) == []


def test_every_course_uses_its_quizzes_to_test_several_question_types(catalog):
    types = Counter(q.zh.qtype for c in catalog.courses for i in c.items for q in i.questions)
    for qtype in ("multichoice", "multiresponse", "truefalse", "shortanswer", "numerical"):
        assert types[qtype] >= 5, qtype
    assert types["matching"] >= 5


def test_the_prospecting_course_is_instructor_led_over_two_days_with_eleven_modules(catalog):
    course = next(c for c in catalog.courses if c.slug == "prospecting-course")
    assert course.delivery == "instructor-led"
    assert course.details["days"] == 2
    assert len(course.modules) == 11
    assert "100" in course.details["course_book"]["zh"]


def test_onboarding_ends_with_job_shadowing_signed_off_by_a_mentor(catalog):
    onboarding = next(t for t in catalog.tracks if t.slug == "onboarding")
    last = list(onboarding.courses[-1].items)
    assert last[-1].kind == "practical"


def test_every_lesson_quotes_the_source(catalog):
    for course in catalog.courses:
        for item in course.items:
            if item.kind == "lesson":
                assert "## 原文" in item.body.zh, item.source
                assert "> " in item.body.zh, item.source


def test_the_lint_catches_a_missing_translation_and_a_thin_quiz():
    fixtures = read_catalog(Path(__file__).parent / "fixtures" / "courses")
    findings = lint_catalog(fixtures)
    assert any("fewer than 8 questions" in f for f in findings)
    assert any("has no English file" in f for f in findings)


def test_each_demo_persona_sees_their_own_tracks_on_the_dashboard(app, load_courses, make_user):
    catalog = load_courses(COURSES)
    for job_role in JobRole:
        user = make_user(f"demo-{job_role}", job_role)
        page = app.test_client(user=user).get("/dashboard").get_data(as_text=True)
        for track in catalog.tracks:
            if job_role in track.job_roles:
                assert f'id="track-{track.slug}"' in page, (job_role, track.slug)
            elif not any(
                job_role in t.job_roles and track.slug in t.requires for t in catalog.tracks
            ):
                assert f'id="track-{track.slug}"' not in page, (job_role, track.slug)
