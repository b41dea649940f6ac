"""Line managers: their direct reports' standings and transcripts, and nobody else's."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from lms.extensions import db
from lms.models import Assignment, Completion, Course, JobRole, Role, User, utcnow


@pytest.fixture
def team(load_courses, make_user):
    """A manager with two active reports and one who left; a colleague of another manager."""
    load_courses()
    boss = make_user("boss", JobRole.CUSTOMER_MANAGER)
    other_boss = make_user("otherboss", JobRole.CUSTOMER_MANAGER)
    people = {"boss": boss, "otherboss": other_boss}
    for username, manager, job_role, is_active in [
        ("ann", boss, JobRole.NEW_CUSTOMER_MANAGER, True),
        ("bob", boss, JobRole.CREDIT_OFFICER, True),
        ("gone", boss, JobRole.NEW_CUSTOMER_MANAGER, False),
        ("carl", other_boss, JobRole.NEW_CUSTOMER_MANAGER, True),
    ]:
        user = make_user(username, job_role)
        user.manager_id, user.is_active = manager.id, is_active
        people[username] = user
    db.session.commit()
    return people


def course_id(slug: str) -> int:
    return db.session.scalar(select(Course.id).where(Course.slug == slug))


def names(page: str) -> set[str]:
    """The people the page links to."""
    ids = re.findall(r'href="/team/people/(\d+)"', page)
    return {db.session.get(User, int(i)).name for i in ids} | {
        n for n in ("Gone", "Carl", "Otherboss") if n in page
    }


def test_a_manager_sees_only_their_active_direct_reports(app, team):
    due = utcnow().date() + timedelta(days=40)
    db.session.add(
        Assignment(user_id=team["bob"].id, course_id=course_id("starter-basics"), due_date=due)
    )
    db.session.commit()
    page = app.test_client(user=team["boss"]).get("/team/").get_data(as_text=True)
    assert names(page) == {"Ann", "Bob"}
    assert f'href="/team/people/{team["ann"].id}"' in page
    assert "基础知识" in page  # the starter track's two courses
    assert "跟班实习" in page
    assert "进阶课程" not in page  # required of nobody in the team
    assert page.count("未开始") == 3  # Ann's two courses, Bob's one
    assert due.isoformat() in page


def test_a_manager_reads_a_reports_transcript_and_no_one_elses(app, team):
    db.session.add(Completion(user_id=team["ann"].id, course_id=course_id("starter-basics")))
    db.session.commit()
    boss = app.test_client(user=team["boss"])
    response = boss.get(f"/team/people/{team['ann'].id}")
    assert response.status_code == 200
    assert "基础知识" in response.get_data(as_text=True)
    for outsider in ("carl", "gone", "boss", "otherboss"):
        assert boss.get(f"/team/people/{team[outsider].id}").status_code == 403, outsider
    assert boss.get("/team/people/999999").status_code == 404


@pytest.mark.parametrize("who", ["ann", "carl"])
def test_people_without_reports_get_403(app, team, who):
    client = app.test_client(user=team[who])
    assert client.get("/team/").status_code == 403
    assert client.get(f"/team/people/{team['ann'].id}").status_code == 403


def test_hr_and_admins_without_reports_get_403(app, make_user, team):
    for role in (Role.HR, Role.ADMIN):
        client = app.test_client(user=make_user(f"u-{role}", roles={role}))
        assert client.get("/team/").status_code == 403


def test_a_manager_whose_only_report_left_has_no_team(app, team):
    team["carl"].is_active = False
    db.session.commit()
    assert app.test_client(user=team["otherboss"]).get("/team/").status_code == 403


def test_signed_out_visitors_are_sent_to_log_in(app, team):
    response = app.test_client().get("/team/")
    assert response.status_code == 302
    assert "/login" in response.location


def test_my_team_is_in_the_menu_only_for_managers(app, team):
    link = 'href="/team/"'
    assert link in app.test_client(user=team["boss"]).get("/dashboard").get_data(as_text=True)
    assert link not in app.test_client(user=team["ann"]).get("/dashboard").get_data(as_text=True)
    assert link not in app.test_client().get("/login").get_data(as_text=True)


def test_the_team_page_costs_the_same_queries_for_a_bigger_team(app, team, count_queries):
    boss = app.test_client(user=team["boss"])
    with count_queries() as small:
        assert boss.get("/team/").status_code == 200
    for n in range(20):
        db.session.add(
            User(
                username=f"more{n}",
                name=f"More{n}",
                password_hash="x",
                job_role=JobRole.NEW_CUSTOMER_MANAGER,
                manager_id=team["boss"].id,
            )
        )
    db.session.commit()
    with count_queries() as big:
        page = boss.get("/team/").get_data(as_text=True)
    assert big.count == small.count
    assert page.count('href="/team/people/') == 22
