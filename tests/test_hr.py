"""HR: groups by hand and by rule, assignments with due dates, the matrix and the overdue list."""

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from lms import requirements
from lms.extensions import db
from lms.models import (
    Assignment,
    Attempt,
    AuditEvent,
    Completion,
    Course,
    Group,
    Item,
    ItemProgress,
    JobRole,
    RecordRequest,
    Role,
    Track,
    User,
    utcnow,
)
from tests.test_learning import RIGHT, item_id, take_quiz


@pytest.fixture
def hr(app, make_user):
    return app.test_client(user=make_user("hr", roles={Role.HR}))


@pytest.fixture
def staff(load_courses, make_user):
    load_courses()
    people = {}
    for n, (role, branch) in enumerate(
        [
            (JobRole.NEW_CUSTOMER_MANAGER, "东城支行"),
            (JobRole.NEW_CUSTOMER_MANAGER, "西城支行"),
            (JobRole.CREDIT_OFFICER, "东城支行"),
        ]
    ):
        user = make_user(f"staff{n}", role)
        user.branch, user.employee_no = branch, f"E{n:03d}"
        people[n] = user
    db.session.commit()
    return people


def course_id(slug: str) -> int:
    return db.session.scalar(select(Course.id).where(Course.slug == slug))


def test_a_rule_group_follows_a_change_of_post(hr, staff):
    hr.post(
        "/reports/groups",
        data={
            "name": "东城客户经理",
            "rule_branch": "东城支行",
            "rule_job_role": "new_customer_manager",
        },
    )
    group = db.session.scalar(select(Group))
    members = lambda: set(db.session.scalars(group.members()))  # noqa: E731
    assert members() == {staff[0]}
    staff[1].branch = "东城支行"  # transferred
    db.session.commit()
    assert members() == {staff[0], staff[1]}


def test_a_manual_group_is_edited_by_employee_number(hr, staff):
    hr.post("/reports/groups", data={"name": "讲座轮值", "rule_job_role": ""})
    group = db.session.scalar(select(Group))
    hr.post(f"/reports/groups/{group.id}", data={"person": "E002", "remove": "0"})
    hr.post(f"/reports/groups/{group.id}", data={"person": "E000", "remove": "0"})
    hr.post(f"/reports/groups/{group.id}", data={"person": "E000", "remove": "1"})
    assert set(db.session.scalars(group.members())) == {staff[2]}
    actions = [e.action for e in db.session.scalars(select(AuditEvent))]
    assert actions == ["group", "group_member", "group_member", "group_member"]


def test_an_assignment_to_a_group_shows_on_the_learners_dashboard_with_its_due_date(app, hr, staff):
    hr.post("/reports/groups", data={"name": "信贷", "rule_job_role": "credit_officer"})
    group = db.session.scalar(select(Group))
    due = date.today() + timedelta(days=60)
    hr.post(
        "/reports/assignments",
        data={
            "target": str(group.id),
            "what": f"course:{course_id('starter-basics')}",
            "is_mandatory": "y",
            "due_date": due.isoformat(),
            "due_from": "assignment",
            "window_days": "30",
        },
    )
    assert db.session.scalar(select(Assignment)).course_id == course_id("starter-basics")
    officer = app.test_client(user=staff[2])
    page = officer.get("/dashboard").get_data(as_text=True)
    assert "基础知识" in page
    assert due.isoformat() in page
    assert "跟班实习" not in page  # only the assigned course, not its whole track


def test_the_matrix_filters_by_branch_and_status_and_pages(app, hr, staff, count_queries):
    learner = app.test_client(user=staff[0])
    learner.post(f"/items/{item_id('intro')}/done")
    take_quiz(learner, RIGHT)
    page = hr.get("/reports/matrix").get_data(as_text=True)
    assert all(f"Staff{n}" in page for n in range(3))
    east = hr.get("/reports/matrix?branch=东城支行").get_data(as_text=True)
    assert "Staff0" in east
    assert "Staff1" not in east
    complete = hr.get("/reports/matrix?status=complete").get_data(as_text=True)
    assert "Staff0" in complete
    assert "Staff1" not in complete
    with count_queries() as few:
        hr.get("/reports/matrix")
    for n in range(3, 40):
        db.session.add(
            User(
                username=f"more{n}",
                name=f"More{n}",
                password_hash="x",
                job_role=JobRole.NEW_CUSTOMER_MANAGER,
                branch="北城支行",
            )
        )
    db.session.commit()
    with count_queries() as many:
        hr.get("/reports/matrix")
    assert many.count == few.count


def test_the_matrix_shows_names_and_branches_as_text(app, hr, staff):
    staff[0].name, staff[0].branch = "<b>Bold</b>", "东城&支行"
    db.session.commit()
    page = hr.get("/reports/matrix").get_data(as_text=True)
    assert f'<a href="/reports/people/{staff[0].id}">&lt;b&gt;Bold&lt;/b&gt;</a>' in page
    assert "<td>东城&amp;支行</td>" in page
    assert "<b>Bold" not in page
    assert hr.get(f"/reports/people/{staff[0].id}").status_code == 200


def test_the_matrix_pages_follow_people_joining_and_leaving(app, hr, staff):
    def names(page: int) -> list[str]:
        html = hr.get(f"/reports/matrix?page={page}").get_data(as_text=True)
        return re.findall(r'<a href="/reports/people/\d+">(\w+)</a>', html)

    for n in range(55):
        db.session.add(User(username=f"m{n:02d}", name=f"M{n:02d}", password_hash="x"))
    db.session.commit()
    first, second = names(1), names(2)
    assert (len(first), len(second)) == (50, 9)  # with HR and the three staff
    db.session.add(User(username="a0", name="A0", password_hash="x"))  # sorts first
    db.session.commit()
    assert names(1) == ["A0", *first[:49]]
    assert names(2) == [first[49], *second]
    leaver = db.session.scalar(select(User).where(User.username == "a0"))
    leaver.is_active = False
    db.session.commit()
    assert (names(1), names(2)) == (first, second)


def test_overdue_lists_people_past_a_due_date(app, hr, staff):
    overdue = Assignment(
        user_id=staff[1].id,
        course_id=course_id("starter-basics"),
        due_date=date.today() - timedelta(days=1),
        created_at=utcnow(),
    )
    db.session.add(overdue)
    db.session.commit()
    page = hr.get("/reports/overdue").get_data(as_text=True)
    assert "Staff1" in page
    assert "Staff0" not in page


def test_learners_cannot_reach_hr_pages(app, staff):
    learner = app.test_client(user=staff[0])
    for url in ("/reports/matrix", "/reports/overdue", "/reports/groups", "/reports/assignments"):
        assert learner.get(url).status_code == 403
    assert db.session.scalar(select(Track.id)) is not None


def test_the_matrix_export_has_the_columns_on_screen_and_agrees_with_the_page(app, hr, staff):
    import csv
    import io

    learner = app.test_client(user=staff[0])
    learner.post(f"/items/{item_id('intro')}/done")
    take_quiz(learner, RIGHT)
    response = hr.get("/reports/matrix.csv?branch=东城支行")
    assert response.headers["Content-Disposition"].startswith('attachment; filename="matrix-')
    text = response.get_data(as_text=True).removeprefix("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["employee_id"] for r in rows] == ["E000", "E002"]
    assert rows[0]["starter-basics.status"] == "complete"
    assert rows[1]["starter-basics.status"] == ""  # not required of a credit officer
    xlsx = hr.get("/reports/matrix.xlsx")
    assert xlsx.data[:2] == b"PK"


def test_records_export_as_csv_and_xapi(app, hr, staff):
    import json

    learner = app.test_client(user=staff[0])
    learner.post(f"/items/{item_id('intro')}/done")
    take_quiz(learner, {})
    take_quiz(learner, RIGHT)
    lines = hr.get("/reports/records.csv").get_data(as_text=True).strip().splitlines()
    assert len(lines) == 2
    assert ",starter-basics," in lines[1]
    statements = json.loads(hr.get("/reports/xapi.json").get_data(as_text=True))
    verbs = [s["verb"]["id"].rsplit("/", 1)[1] for s in statements]
    assert sorted(verbs) == ["attempted", "attempted", "completed", "failed", "passed"]


def test_a_roster_of_hundreds_is_assigned_by_rule_and_the_matrix_agrees_with_its_export(
    app, load_courses, make_user, tmp_path
):
    import csv
    import io

    from lms import audit

    load_courses()
    lines = ["employee_id,name,email,branch,department,job_role,level,hire_date,manager_id"]
    roles = ["新任客户经理", "客户经理", "信贷员"]
    for n in range(300):
        lines.append(
            f"E{n:04d},员工{n},e{n}@bank.example,第{n % 5}支行,公司部,{roles[n % 3]},P1,2026-01-05,"
        )
    roster = tmp_path / "roster.csv"
    roster.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["staff", "import", str(roster)])
    assert "created 300, updated 0, unchanged 0, deactivated 0" in result.output

    hr = app.test_client(user=make_user("hr-lead", roles={Role.HR}))
    hr.post("/reports/groups", data={"name": "信贷员", "rule_job_role": "credit_officer"})
    group = db.session.scalar(select(Group))
    hr.post(
        "/reports/assignments",
        data={
            "target": str(group.id),
            "what": f"course:{course_id('starter-basics')}",
            "is_mandatory": "y",
            "due_days": "30",
            "due_from": "hire",
            "window_days": "30",
        },
    )
    for number in ("E0000", "E0002", "E0005"):  # a new manager and two credit officers
        learner = db.session.scalar(select(User).where(User.employee_no == number))
        client = app.test_client(user=learner)
        client.post(f"/items/{item_id('intro')}/done")
        take_quiz(client, RIGHT)

    track = db.session.scalar(select(Track).where(Track.slug == "starter"))
    query = f"?branch=第0支行&track={track.id}"
    exported = hr.get(f"/reports/matrix.csv{query}").get_data(as_text=True)
    rows = {r["employee_id"]: r for r in csv.DictReader(io.StringIO(exported.lstrip("\ufeff")))}
    assert len(rows) == 60  # every fifth person is in 第0支行
    assert rows["E0000"]["starter-basics.status"] == "complete"
    assert rows["E0005"]["starter-basics.status"] == "complete"
    assert rows["E0015"]["starter-basics.due"] == ""  # new managers: no due date
    assert rows["E0020"]["starter-basics.status"] == "overdue"  # a credit officer, due 30 days
    assert rows["E0010"]["starter-basics.status"] == ""  # a customer manager: not required
    page = "".join(
        hr.get(f"/reports/matrix{query}&page={n}").get_data(as_text=True) for n in (1, 2)
    )
    assert page.count('<span class="badge ok"') == 2  # E0000 and E0005 complete in 第0支行
    statements = hr.get("/reports/xapi.json").json
    assert sum(s["verb"]["id"].endswith("/completed") for s in statements) == 3
    assert audit.first_broken_link() is None


def test_the_overdue_list_exports_what_the_page_shows(app, hr, staff):
    db.session.add(
        Assignment(
            user_id=staff[1].id,
            course_id=course_id("starter-basics"),
            due_date=date.today() - timedelta(days=3),
            created_at=utcnow(),
        )
    )
    db.session.commit()
    text = hr.get("/reports/overdue.csv").get_data(as_text=True).lstrip("\ufeff")
    lines = text.strip().splitlines()
    assert lines[0] == "employee_id,name,branch,department,job_role,course,course_title,due,status"
    assert lines[1].startswith(
        "E001,Staff1,西城支行,,new_customer_manager,starter-basics,基础知识,"
    )
    assert lines[1].endswith(",overdue")


def test_a_practical_step_assigned_by_hr_waits_for_a_sign_off(app, staff, make_user):
    practical = db.session.scalar(select(Course).where(Course.slug == "starter-practice"))
    db.session.add(Assignment(user_id=staff[2].id, course_id=practical.id, created_at=utcnow()))
    db.session.commit()
    mentor = app.test_client(user=make_user("mentor", roles={Role.TRAINER}))
    page = mentor.get("/author/signoffs").get_data(as_text=True)
    assert f'/{staff[2].id}"' in page  # the credit officer, by assignment
    assert f'/{staff[0].id}"' in page  # a new manager, by job role


def test_latest_completions_are_each_course_s_highest_cycle_revoked_or_not(app, staff, make_user):
    first, second = staff[0], staff[1]
    basics, advanced = course_id("starter-basics"), course_id("advanced-course")
    # The later cycle written first: the latest record is the highest cycle, not the last row.
    renewed = Completion(user_id=first.id, course_id=basics, cycle=2)
    db.session.add(renewed)
    db.session.flush()
    revoked = Completion(user_id=first.id, course_id=advanced, cycle=1)
    db.session.add_all(
        [
            Completion(user_id=first.id, course_id=basics, cycle=1),
            revoked,
            Completion(user_id=second.id, course_id=basics, cycle=3),
            Completion(user_id=staff[2].id, course_id=basics, cycle=1),  # not asked for
        ]
    )
    db.session.flush()
    db.session.add(
        RecordRequest(
            kind="revoke",
            user_id=first.id,
            course_id=advanced,
            completion_id=revoked.id,
            status="approved",
            requested_by_id=make_user("hr1").id,
        )
    )
    db.session.commit()

    latest = requirements.latest_completions([first.id, second.id])

    assert {key: (r.cycle, r.is_revoked) for key, r in latest.items()} == {
        (first.id, basics): (2, False),
        (first.id, advanced): (1, True),
        (second.id, basics): (3, False),
    }
    assert latest[first.id, basics].id == renewed.id
    assert all(type(r.is_revoked) is bool for r in latest.values())


def test_a_course_is_begun_by_an_item_done_or_a_quiz_tried(app, staff):
    lesson, quiz = db.session.get(Item, item_id("only")), db.session.get(Item, item_id("check"))
    db.session.add_all(
        [
            ItemProgress(user_id=staff[0].id, item_id=lesson.id, course_id=lesson.course_id),
            Attempt(user_id=staff[1].id, item_id=quiz.id, number=1),  # failed: no item done
            Attempt(user_id=staff[0].id, item_id=quiz.id, number=1),
        ]
    )
    db.session.commit()

    begun = requirements.started([staff[0].id, staff[1].id, staff[2].id])

    assert begun == {
        (staff[0].id, lesson.course_id),
        (staff[0].id, quiz.course_id),
        (staff[1].id, quiz.course_id),
    }
    # Plain tuples: the standings test membership a thousand times a page.
    assert {type(pair) for pair in begun} == {tuple}


def test_people_of_one_post_share_their_rules_and_a_person_assigned_by_name_has_their_own(
    app, staff, make_user
):
    basics = course_id("starter-basics")
    # staff[0] and staff[1], new customer managers in two branches, are both in the group.
    group = Group(name="新客户经理", rule_job_role=JobRole.NEW_CUSTOMER_MANAGER)
    db.session.add(group)
    db.session.flush()
    staff[0].hire_date, staff[1].hire_date = date(2026, 1, 1), date(2025, 1, 1)
    db.session.add_all(
        [
            Assignment(group_id=group.id, course_id=basics, due_days=30, due_from="hire"),
            Assignment(user_id=staff[0].id, course_id=basics, due_days=10, due_from="hire"),
        ]
    )
    db.session.commit()
    cat = requirements.catalogue()
    index = requirements.assigned(cat)

    colleague = make_user("colleague", JobRole.NEW_CUSTOMER_MANAGER)
    assert index.candidates(colleague, cat) is index.candidates(staff[1], cat)
    assert len(index.candidates(staff[1], cat)[basics]) == 2  # the job role's and the group's
    assert len(index.candidates(staff[0], cat)[basics]) == 3  # and their own
    rules = requirements.rules_of([staff[0], staff[1]], cat)
    # The strictest: due first, from each person's own hire date.
    assert rules[staff[0].id][basics].due_days == 10
    assert rules[staff[1].id][basics].due_days == 30
    assert rules[staff[1].id][course_id("starter-practice")] == requirements.JOB_ROLE_RULE
    # A credit officer is in neither the group nor the job role's track.
    assert requirements.rules_of([staff[2]], cat)[staff[2].id] == {}


def test_the_matrix_shows_each_cell_s_own_due_date_in_branch_and_name_order(
    app, hr, staff, count_queries
):
    basics = course_id("starter-basics")
    soon, later = date.today() + timedelta(days=100), date.today() + timedelta(days=200)
    db.session.add_all(
        [
            Assignment(user_id=staff[0].id, course_id=basics, due_date=soon),
            Assignment(user_id=staff[2].id, course_id=basics, due_date=later),
        ]
    )
    db.session.commit()
    hr.get("/reports/matrix")
    # Most pages at scale find the catalogue, rules and staff count kept, but not their people's
    # standings: the signed-in user, the page's people, their latest records and begun courses.
    app.extensions["lms.cache"].pop("standings")
    with count_queries(warm=True) as cold:
        page = hr.get("/reports/matrix").get_data(as_text=True)
    assert cold.count <= 4
    rows = re.findall(r">(Staff\d)</a></td>.*?</tr>", page, re.S)
    assert rows == ["Staff0", "Staff2", "Staff1"]  # 东城 before 西城, then by name
    cells = {
        name: re.findall(r'<span class="badge ?\w*" title="([^"]*)">', row)
        for name, row in re.findall(r">(Staff\d)</a></td>(.*?)</tr>", page, re.S)
    }
    # Both not started, each due on their own date; staff1 has only the job role's rule.
    assert cells["Staff0"][0] == str(soon)
    assert cells["Staff2"][0] == str(later)
    assert cells["Staff1"][0] == ""


def test_the_matrix_form_and_heading_follow_the_filters_the_people_and_the_language(app, hr, staff):
    page = hr.get("/reports/matrix").get_data(as_text=True)
    assert "<option >东城支行</option>" in page
    assert "北城支行" not in page
    east = hr.get("/reports/matrix?branch=东城支行").get_data(as_text=True)
    assert "<option selected>东城支行</option>" in east
    staff[1].branch = "北城支行"  # a new branch: the filters offer it
    db.session.commit()
    assert "<option >北城支行</option>" in hr.get("/reports/matrix").get_data(as_text=True)
    advanced = db.session.scalar(select(Track.id).where(Track.title_zh == "进阶"))
    heading = lambda page: re.search(r"<thead>.*?</thead>", page, re.S).group(0)  # noqa: E731
    only = heading(hr.get(f"/reports/matrix?track={advanced}").get_data(as_text=True))
    assert "/reports/courses/advanced-course" in only
    assert "/reports/courses/starter-basics" not in only
    hr.post("/language", data={"locale": "en", "next": "/reports/matrix"})
    english = hr.get("/reports/matrix").get_data(as_text=True)
    assert "<th>Name</th>" in heading(english)
    assert "All branches" in english
    assert ">Not started</span>" in english  # the badges, in the chosen language too
    assert "未开始" not in english
