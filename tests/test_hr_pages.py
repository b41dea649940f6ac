"""HR's pages: the dashboard (completion rates and completions a month), a course's roster,
the completion records and the audit trail."""

import re
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from lms import audit, requirements
from lms.compliance import Status, add_months
from lms.extensions import db
from lms.models import (
    Assignment,
    AuditEvent,
    Completion,
    Course,
    Group,
    JobRole,
    RecordRequest,
    Role,
    User,
    utcnow,
)
from tests.test_learning import RIGHT, item_id, take_quiz

WRONG = {"principles": "3", "incentive": "惩罚", "weekly": "false", "who": "客户经理"}


@pytest.fixture
def hr(app, make_user):
    return app.test_client(user=make_user("hr", roles={Role.HR}))


def course_id(slug: str) -> int:
    return db.session.scalar(select(Course.id).where(Course.slug == slug))


def person(make_user, username, job_role, branch, is_active=True) -> User:
    user = make_user(username, job_role)
    user.branch, user.is_active = branch, is_active
    db.session.commit()
    return user


def complete(user: User, slug: str, at: datetime) -> Completion:
    record = Completion(user_id=user.id, course_id=course_id(slug), completed_at=at, percent=90.0)
    db.session.add(record)
    db.session.commit()
    return record


def charts(page: str) -> list[list[tuple[str, str]]]:
    """The figures of each chart on a page, from the tables screen readers get."""
    tables = re.findall(r"<caption>.*?</caption>(.*?)</table>", page, re.S)
    return [re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td>', t) for t in tables]


def months_ago(now: datetime, n: int) -> datetime:
    return datetime.combine(add_months(now.date(), -n), now.time())


def month(day) -> str:
    return f"{day:%Y-%m}"


# Dashboard --------------------------------------------------------------------------------------


@pytest.fixture
def bank(load_courses, make_user):
    """Five people; the rates worked out by hand in the test below."""
    load_courses()
    now = utcnow()
    a = person(make_user, "a", JobRole.NEW_CUSTOMER_MANAGER, "东城支行")
    b = person(make_user, "b", JobRole.NEW_CUSTOMER_MANAGER, "西城支行")
    c = person(make_user, "c", JobRole.SENIOR_CUSTOMER_MANAGER, "东城支行")
    d = person(make_user, "d", JobRole.CREDIT_OFFICER, "东城支行")
    e = person(make_user, "e", JobRole.NEW_CUSTOMER_MANAGER, "东城支行", is_active=False)
    complete(a, "starter-basics", now)
    # Valid three months and done 80 days ago: due for renewal, still met.
    db.session.add(Assignment(user_id=c.id, course_id=course_id("advanced-course"), valid_months=3))
    complete(c, "advanced-course", now - timedelta(days=80))
    # Optional: in no rate, but its record counts in the months.
    db.session.add(
        Assignment(user_id=d.id, course_id=course_id("starter-basics"), is_mandatory=False)
    )
    complete(d, "starter-basics", months_ago(now, 11))
    revoked = complete(d, "advanced-course", now)
    db.session.add(
        RecordRequest(
            kind="revoke",
            user_id=d.id,
            course_id=revoked.course_id,
            completion_id=revoked.id,
            status="approved",
            requested_by_id=a.id,
        )
    )
    complete(e, "starter-basics", months_ago(now, 13))  # inactive, and too old for the months
    db.session.commit()
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "now": now}


def test_the_dashboard_shows_rates_by_branch_and_track_and_completions_a_month(hr, bank):
    now = bank["now"]
    standing = requirements.rows_for([bank["c"]], requirements.catalogue(), now.date())[0]
    assert standing.cells[course_id("advanced-course")].status == Status.RENEWAL_DUE

    page = hr.get("/reports/dashboard").get_data(as_text=True)
    by_branch, by_track, months = charts(page)
    # Mandatory: a 1 of 2 (starter track), b 0 of 2, c 1 of 1 (advanced); d's is optional.
    assert by_branch == [("东城支行", "66.7%"), ("西城支行", "0%")]
    assert dict(by_track) == {"入门": "25%", "进阶": "100%"}  # in curriculum order
    assert '<span class="big">40.0%</span>' in page  # 2 of 5
    # a this month, c 80 days ago, d eleven months ago; d's revoked and e's old record left out.
    expected = Counter([month(now), month(now - timedelta(days=80)), month(months_ago(now, 11))])
    assert len(months) == 12
    assert months[0][0] == month(months_ago(now, 11))
    assert months[-1][0] == month(now)
    assert {label: int(n) for label, n in months if n != "0"} == expected
    assert '<svg role="img"' in page
    assert "<script" not in page


def test_the_dashboard_costs_the_same_queries_for_more_people(hr, bank, count_queries):
    with count_queries() as few:
        assert hr.get("/reports/dashboard").status_code == 200
    for n in range(40):
        user = User(
            username=f"more{n}",
            name=f"More{n}",
            password_hash="x",
            job_role=JobRole.NEW_CUSTOMER_MANAGER,
            branch=f"第{n % 7}支行",
        )
        db.session.add(user)
        db.session.flush()
        db.session.add(Completion(user_id=user.id, course_id=course_id("starter-basics")))
    db.session.commit()
    with count_queries() as many:
        page = hr.get("/reports/dashboard").get_data(as_text=True)
    assert many.count == few.count
    assert len(charts(page)[0]) == 2 + 7


def test_the_dashboard_without_training_says_so(hr):
    page = hr.get("/reports/dashboard").get_data(as_text=True)
    by_month = charts(page)
    assert len(by_month) == 1  # the months only: no rate to draw
    assert all(n == "0" for _label, n in by_month[0])


def test_learners_cannot_see_the_dashboard_or_a_roster(app, bank):
    learner = app.test_client(user=bank["a"])
    assert learner.get("/reports/dashboard").status_code == 403
    assert learner.get("/reports/courses/starter-basics").status_code == 403


# Course roster ----------------------------------------------------------------------------------


def cells(page: str, name: str) -> list[str]:
    """The text of each cell of a person's row on the roster."""
    row = re.search(rf"<tr>\s*<td><a [^>]*>{name}</a>.*?</tr>", page, re.S).group(0)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]


@pytest.fixture
def roster(app, load_courses, make_user):
    load_courses()
    a = person(make_user, "a", JobRole.NEW_CUSTOMER_MANAGER, "东城支行")
    person(make_user, "b", JobRole.NEW_CUSTOMER_MANAGER, "西城支行")
    person(make_user, "c", JobRole.SENIOR_CUSTOMER_MANAGER, "东城支行")  # not required
    d = person(make_user, "d", JobRole.CREDIT_OFFICER, "东城支行")
    person(make_user, "g", JobRole.CREDIT_OFFICER, "南城支行")
    e = person(make_user, "e", JobRole.NEW_CUSTOMER_MANAGER, "东城支行", is_active=False)
    person(make_user, "f", JobRole.NEW_CUSTOMER_MANAGER, "东城支行", is_active=False)
    south = Group(name="南城", rule_branch="南城支行")
    db.session.add(south)
    db.session.flush()
    due = utcnow().date() + timedelta(days=30)
    db.session.add_all(
        [
            Assignment(user_id=d.id, course_id=course_id("starter-basics"), due_date=due),
            Assignment(group_id=south.id, track_id=course_track("starter-basics")),
        ]
    )
    complete(e, "starter-basics", utcnow() - timedelta(days=400))
    learner = app.test_client(user=a)
    learner.post(f"/items/{item_id('intro')}/done")
    take_quiz(learner, WRONG)
    take_quiz(learner, RIGHT)
    take_quiz(app.test_client(user=d), WRONG)
    return due


def course_track(slug: str) -> int:
    return db.session.scalar(select(Course.track_id).where(Course.slug == slug))


def test_a_roster_lists_who_must_take_a_course_and_who_took_it(hr, roster):
    page = hr.get("/reports/courses/starter-basics").get_data(as_text=True)
    names = re.findall(r'<td><a href="/reports/people/\d+">(\w+)</a>', page)
    # By branch, then name: job role (A, B), person (D), group (G), a record (E, left since).
    assert names == ["A", "D", "E", "G", "B"]
    code = db.session.scalar(select(Completion.certificate_code).where(Completion.percent == 100))
    _name, branch, status, _due, best, attempts, completed, certificate = cells(page, "A")
    assert (branch, status, best, attempts) == ("东城支行", "已完成", "100.0%", "2")
    assert certificate == code
    assert completed == f"{utcnow():%Y-%m-%d}"
    assert cells(page, "D")[2:6] == ["进行中", roster.isoformat(), "25.0%", "1"]
    assert cells(page, "B")[4:8] == ["—", "0", "", ""]
    assert "(" in cells(page, "E")[0]  # marked as having left
    assert cells(page, "G")[2] == "未开始"


def test_the_matrix_links_each_course_to_its_roster(hr, roster):
    page = hr.get("/reports/matrix").get_data(as_text=True)
    assert 'href="/reports/courses/starter-basics"' in page
    assert hr.get("/reports/courses/no-such-course").status_code == 404


def test_a_roster_pages_by_fifty_in_the_same_queries(hr, roster, count_queries):
    with count_queries() as few:
        hr.get("/reports/courses/starter-basics")
    for n in range(60):
        db.session.add(
            User(
                username=f"more{n:02d}",
                name=f"More{n:02d}",
                password_hash="x",
                job_role=JobRole.NEW_CUSTOMER_MANAGER,
                branch="北城支行",
            )
        )
    db.session.commit()
    with count_queries() as many:
        first = hr.get("/reports/courses/starter-basics").get_data(as_text=True)
    assert many.count == few.count
    assert first.count('<td><a href="/reports/people/') == 50
    second = hr.get("/reports/courses/starter-basics?page=2").get_data(as_text=True)
    assert second.count('<td><a href="/reports/people/') == 65 - 50


@pytest.fixture
def records(app, load_courses, make_user) -> list[str]:
    """120 completion records, two at each time, and their certificate codes newest first."""
    load_courses()
    user = make_user("keeper", JobRole.NEW_CUSTOMER_MANAGER)
    start = utcnow() - timedelta(days=400)
    course = course_id("starter-basics")
    db.session.add_all(
        Completion(
            user_id=user.id, course_id=course, cycle=n, completed_at=start + timedelta(hours=n // 2)
        )
        for n in range(1, 121)
    )
    db.session.commit()
    newest_first = (Completion.completed_at.desc(), Completion.id.desc())
    return db.session.scalars(select(Completion.certificate_code).order_by(*newest_first)).all()


def shown(page: str) -> tuple[list[str], dict[str, str]]:
    """The certificate codes on a page of records, and its links to the newer and older pages."""
    codes = re.findall(r"<td>([A-Z0-9-]{8,})</td>\s*</tr>", page)
    links = dict(re.findall(r'href="/reports/\?(newer|older)=(\d+)"', page))
    return codes, links


def test_the_records_page_from_the_newest_to_the_oldest_and_back(hr, records):
    first, links = shown(hr.get("/reports/").get_data(as_text=True))
    assert first == records[:50]
    assert set(links) == {"older"}
    second, links = shown(hr.get(f"/reports/?older={links['older']}").get_data(as_text=True))
    assert second == records[50:100]
    assert set(links) == {"newer", "older"}
    last, links = shown(hr.get(f"/reports/?older={links['older']}").get_data(as_text=True))
    assert last == records[100:]
    assert set(links) == {"newer"}
    back, links = shown(hr.get(f"/reports/?newer={links['newer']}").get_data(as_text=True))
    assert back == second
    # Fewer than a page newer than this one: the newest page.
    again, links = shown(hr.get(f"/reports/?newer={links['newer']}").get_data(as_text=True))
    assert again == first
    assert set(links) == {"older"}


def test_a_page_of_records_costs_the_same_queries_at_any_depth(hr, records, count_queries):
    _codes, links = shown(hr.get("/reports/").get_data(as_text=True))
    with count_queries() as newest:
        hr.get("/reports/")
    with count_queries() as deeper:
        page = hr.get(f"/reports/?older={links['older']}").get_data(as_text=True)
    assert shown(page)[0] == records[50:100]
    assert deeper.count == newest.count <= 12


@pytest.mark.parametrize("query", ["older=999999", "newer=999999", "older=abc"])
def test_a_page_from_a_record_that_is_not_there_is_the_newest(hr, records, query):
    reply = hr.get(f"/reports/?{query}")
    assert reply.status_code == 200
    assert shown(reply.get_data(as_text=True))[0] == records[:50]


# The audit trail ---------------------------------------------------------------------------------


@pytest.fixture
def trail(app, make_user) -> list[int]:
    """120 audit entries, and their ids newest first."""
    actor = make_user("auditor", roles={Role.HR})
    for n in range(120):
        audit.record(actor, "group", f"group:{n}", {"name": f"组{n}"}, utcnow())
        db.session.commit()
    return db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.id.desc())).all()


def entries(page: str) -> tuple[list[int], dict[str, str]]:
    """The entry ids on a page of the audit trail, and its links to the newer and older pages."""
    ids = [int(i) for i in re.findall(r"<tr><td>(\d+)</td>", page)]
    return ids, dict(re.findall(r'href="/reports/audit\?(newer|older)=(\d+)"', page))


INTACT = "本页记录与其哈希值及前一条记录相符"


def test_the_audit_trail_pages_from_the_newest_entry_to_the_oldest_and_back(hr, trail):
    page = hr.get("/reports/audit").get_data(as_text=True)
    first, links = entries(page)
    assert first == trail[:50]
    assert INTACT in page
    assert set(links) == {"older"}
    second, links = entries(hr.get(f"/reports/audit?older={links['older']}").get_data(True))
    assert second == trail[50:100]
    last, links = entries(hr.get(f"/reports/audit?older={links['older']}").get_data(True))
    assert last == trail[100:]
    assert set(links) == {"newer"}
    back, links = entries(hr.get(f"/reports/audit?newer={links['newer']}").get_data(True))
    assert back == second
    again, links = entries(hr.get(f"/reports/audit?newer={links['newer']}").get_data(True))
    assert again == first


def test_a_page_of_the_audit_trail_costs_the_same_queries_at_any_depth(hr, trail, count_queries):
    with count_queries() as newest:
        hr.get("/reports/audit")
    with count_queries() as deepest:
        page = hr.get(f"/reports/audit?older={trail[99]}").get_data(as_text=True)
    assert entries(page)[0] == trail[100:]
    assert INTACT in page
    assert deepest.count == newest.count <= 12


@pytest.mark.parametrize("query", ["older=999999", "newer=999999", "older=abc"])
def test_an_audit_page_from_an_entry_that_is_not_there_is_the_newest(hr, trail, query):
    assert entries(hr.get(f"/reports/audit?{query}").get_data(as_text=True))[0] == trail[:50]


def test_a_changed_entry_is_shown_on_its_page_and_found_by_the_whole_check(hr, trail):
    changed = db.session.get(AuditEvent, trail[70])
    changed.details = {"name": "改过"}
    db.session.commit()
    assert INTACT in hr.get("/reports/audit").get_data(as_text=True)
    page = hr.get(f"/reports/audit?older={trail[49]}").get_data(as_text=True)
    assert f"第 {trail[70]} 条不相符" in page
    checked = hr.post("/reports/audit/verify", follow_redirects=True).get_data(as_text=True)
    assert f"链条在第 {trail[70]} 条断开" in checked


def test_a_removed_entry_is_shown_at_the_entry_after_it_across_pages(hr, trail):
    # The entry just before the first page's oldest one is on the second page.
    db.session.delete(db.session.get(AuditEvent, trail[50]))
    db.session.commit()
    page = hr.get("/reports/audit").get_data(as_text=True)
    assert f"第 {trail[49]} 条不相符" in page
    assert INTACT not in page
    checked = hr.post("/reports/audit/verify", follow_redirects=True).get_data(as_text=True)
    assert f"链条在第 {trail[49]} 条断开" in checked


def test_the_whole_check_counts_the_entries_of_an_intact_chain(hr, trail):
    checked = hr.post("/reports/audit/verify", follow_redirects=True).get_data(as_text=True)
    assert "整条链条完整：已检查 120 条记录" in checked


def test_learners_cannot_check_the_audit_trail(app, make_user, trail):
    learner = app.test_client(user=make_user("learner", JobRole.NEW_CUSTOMER_MANAGER))
    assert learner.get("/reports/audit").status_code == 403
    assert learner.post("/reports/audit/verify").status_code == 403
