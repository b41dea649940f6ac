"""Records HR can trust: second-HR approval, append-only revocation, recertification, evidence."""

import io
import json
import zipfile
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from lms import audit
from lms.extensions import db
from lms.models import (
    Assignment,
    AuditEvent,
    Completion,
    Course,
    Group,
    GroupMember,
    JobRole,
    RecordRequest,
    Role,
    utcnow,
)
from tests.test_learning import RIGHT, item_id, take_quiz


@pytest.fixture
def learner(load_courses, make_user):
    load_courses()
    return make_user("learner", JobRole.NEW_CUSTOMER_MANAGER)


@pytest.fixture
def hr_pair(app, make_user):
    first = app.test_client(user=make_user("hr1", roles={Role.HR}))
    second = app.test_client(user=make_user("hr2", roles={Role.HR}))
    return first, second


def basics() -> Course:
    return db.session.scalar(select(Course).where(Course.slug == "starter-basics"))


def completions() -> int:
    return db.session.scalar(select(func.count()).select_from(Completion))


def test_an_external_record_counts_only_once_a_second_hr_user_approves_it(app, learner, hr_pair):
    first, second = hr_pair
    form = {"course": basics().id, "completed_on": "2026-10-01", "note": "总行面授，证书号 A-17"}
    first.post(f"/reports/people/{learner.id}/record", data=form)
    request = db.session.scalar(select(RecordRequest))
    first.post(f"/reports/requests/{request.id}/approve")
    assert completions() == 0  # the requester cannot approve their own request
    second.post(f"/reports/requests/{request.id}/approve")
    record = db.session.scalars(select(Completion)).one()
    assert (record.source, record.completed_at.date()) == ("external", date(2026, 10, 1))
    page = app.test_client(user=learner).get("/courses/starter-basics").get_data(as_text=True)
    assert "/certificates/" in page
    assert [e.action for e in db.session.scalars(select(AuditEvent))] == [
        "request_external",
        "approved_external",
    ]


def test_a_revoked_record_stays_but_no_longer_counts_and_the_course_can_be_redone(
    app, learner, hr_pair
):
    first, second = hr_pair
    client = app.test_client(user=learner)
    client.post(f"/items/{item_id('intro')}/done")
    take_quiz(client, RIGHT)
    record = db.session.scalars(select(Completion)).one()
    first.post(f"/reports/completions/{record.id}/revoke", data={"note": "测验作弊"})
    request = db.session.scalar(select(RecordRequest))
    second.post(f"/reports/requests/{request.id}/approve")
    assert completions() == 1  # nothing is deleted
    assert "/certificates/" not in client.get("/courses/starter-basics").get_data(as_text=True)
    client.post(f"/items/{item_id('intro')}/done")
    take_quiz(client, RIGHT)
    cycles = [c.cycle for c in db.session.scalars(select(Completion).order_by(Completion.id))]
    assert cycles == [1, 2]
    assert audit.first_broken_link() is None


def test_an_expired_completion_is_assigned_again_and_each_cycle_keeps_its_own_dates(app, learner):
    client = app.test_client(user=learner)
    client.post(f"/items/{item_id('intro')}/done")
    take_quiz(client, RIGHT)
    first = db.session.scalars(select(Completion)).one()
    first.completed_at = utcnow() - timedelta(days=400)  # completed more than a year ago
    db.session.add(
        Assignment(user_id=learner.id, course_id=basics().id, valid_months=12, window_days=30)
    )
    db.session.commit()
    outline = client.get("/courses/starter-basics").get_data(as_text=True)
    assert "/certificates/" not in outline  # expired: assigned again
    client.post(f"/items/{item_id('intro')}/done")
    take_quiz(client, RIGHT)
    records = db.session.scalars(select(Completion).order_by(Completion.cycle)).all()
    assert [r.cycle for r in records] == [1, 2]
    assert records[0].completed_at.date() < records[1].completed_at.date()
    certificate = client.get(f"/certificates/{records[1].certificate_code}").get_data(as_text=True)
    assert records[1].completed_at.date().isoformat() in certificate


def test_the_why_page_names_the_requirement_and_what_is_missing(app, learner, hr_pair):
    first, _second = hr_pair
    page = first.get(f"/reports/people/{learner.id}/why/{basics().id}").get_data(as_text=True)
    assert "新任客户经理" in page  # required by the job role
    assert "介绍" in page
    assert "小测验" in page


def test_the_why_page_names_each_assignment_the_requirement_comes_from(app, learner, hr_pair):
    first, _second = hr_pair
    cohort, others = Group(name="三月新员工班"), Group(name="其他班")
    db.session.add_all([cohort, others])
    db.session.flush()
    db.session.add_all(
        [
            GroupMember(group_id=cohort.id, user_id=learner.id),
            Assignment(group_id=cohort.id, course_id=basics().id),
            Assignment(group_id=others.id, course_id=basics().id),
            Assignment(user_id=learner.id, course_id=basics().id),
        ]
    )
    db.session.commit()
    page = first.get(f"/reports/people/{learner.id}/why/{basics().id}").get_data(as_text=True)
    assert "分配给 三月新员工班 的培训" in page
    assert "分配给 Learner 的培训" in page
    assert "其他班" not in page  # not one of the learner's groups


def test_the_evidence_pack_holds_attempts_records_and_requests(app, learner, hr_pair):
    first, _second = hr_pair
    client = app.test_client(user=learner)
    client.post(f"/items/{item_id('intro')}/done")
    take_quiz(client, RIGHT)
    response = first.get(f"/reports/people/{learner.id}/evidence.zip")
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    attempts = json.loads(archive.read("attempts.json"))
    assert attempts[0]["percent"] == 100.0
    assert json.loads(archive.read("completions.json"))[0]["course_version"] == 1
    assert json.loads(archive.read("versions-seen.json"))[0]["version"] == 1
    assert {"person.json", "standing.json", "requests.json", "audit.json"} <= set(
        archive.namelist()
    )


def test_hr_reads_the_audit_trail_and_sees_a_broken_link(app, learner, hr_pair):
    first, second = hr_pair
    form = {"course": basics().id, "completed_on": "2026-10-01", "note": "外部培训"}
    first.post(f"/reports/people/{learner.id}/record", data=form)
    page = first.get("/reports/audit").get_data(as_text=True)
    assert "request_external" in page
    assert "本页记录与其哈希值及前一条记录相符" in page
    event = db.session.scalar(select(AuditEvent))
    event.details = {**event.details, "note": "改过"}
    db.session.commit()
    assert f"第 {event.id} 条不相符" in first.get("/reports/audit").get_data(as_text=True)
    checked = first.post("/reports/audit/verify", follow_redirects=True)
    assert f"在第 {event.id} 条断开" in checked.get_data(as_text=True)
