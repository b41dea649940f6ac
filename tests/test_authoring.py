"""Trainers edit drafts in the browser; a second trainer approves; learners see new versions."""

import io

import pytest
from sqlalchemy import select

from lms import audit, drafts, publishing
from lms.extensions import db
from lms.models import (
    AuditEvent,
    Completion,
    Course,
    CourseVersion,
    Item,
    JobRole,
    Role,
    Setting,
    Track,
)
from tests.test_learning import RIGHT, form_for, item_id, start

QUIZ = "::added::新增的问题？{=对 ~错}\n\n::added2::第二个问题。{T}\n"


@pytest.fixture
def course(load_courses):
    load_courses()
    return db.session.scalar(select(Course).where(Course.slug == "starter-basics"))


@pytest.fixture
def author(app, course, make_user):
    user = make_user("author", roles={Role.TRAINER})
    course.trainers.append(user)
    db.session.commit()
    return app.test_client(user=user)


@pytest.fixture
def reviewer(app, course, make_user):
    user = make_user("reviewer", roles={Role.TRAINER})
    course.trainers.append(user)
    db.session.commit()
    return app.test_client(user=user)


def build_module_with_lesson_and_quiz(author):
    base = "/author/courses/starter-basics/draft"
    author.post(base)
    author.post(f"{base}/modules", data={"title_zh": "第二单元", "title_en": "Unit 2"})
    new = {"module": 1, "title_zh": "新课时", "title_en": "New lesson"}
    author.post(f"{base}/items", data={**new, "kind": "lesson", "key": "new-lesson"})
    lesson = {"title_zh": "新课时", "title_en": "New lesson", "is_required": "y"}
    author.post(f"{base}/items/new-lesson", data={**lesson, "body_zh": "# 新内容\n\n**重点**"})
    quiz = {"module": 1, "title_zh": "新测验", "title_en": "New quiz"}
    author.post(f"{base}/items", data={**quiz, "kind": "quiz", "key": "new-quiz"})
    upload = {"language": "zh", "upload": (io.BytesIO(QUIZ.encode()), "quiz.gift")}
    preview = author.post(f"{base}/items/new-quiz/import", data=upload)
    assert "共 2 题" in preview.get_data(as_text=True)
    author.post(
        f"{base}/items/new-quiz/import", data={"language": "zh", "text": QUIZ, "confirm": "1"}
    )
    author.post(f"{base}/submit", data={"note": "加一个单元"})


def test_a_reviewed_draft_becomes_the_next_version_that_learners_see(
    app, course, author, reviewer, make_user
):
    build_module_with_lesson_and_quiz(author)
    assert author.post("/author/courses/starter-basics/draft/approve").status_code == 302
    assert course.version == 1  # the author alone cannot publish
    reviewer.post("/author/courses/starter-basics/draft/approve")
    db.session.refresh(course)
    assert course.version == 2
    version = db.session.scalar(select(CourseVersion).where(CourseVersion.number == 2))
    assert (version.note, version.approved_by.username) == ("加一个单元", "reviewer")
    assert "new-quiz.zh.gift" in version.files

    learner = app.test_client(user=make_user("learner", JobRole.NEW_CUSTOMER_MANAGER))
    outline = learner.get("/courses/starter-basics").get_data(as_text=True)
    assert "新课时" in outline
    assert "新测验" in outline
    page = learner.get(f"/items/{item_id('new-lesson')}").get_data(as_text=True)
    assert "<strong>重点</strong>" in page
    changes = reviewer.get("/author/courses/starter-basics/versions/1/2").get_data(as_text=True)
    assert "+::added::新增的问题？{=对 ~错}" in changes


def test_a_broken_gift_file_is_refused_with_its_line_and_nothing_is_imported(course, author):
    base = "/author/courses/starter-basics/draft"
    author.post(base)
    before = dict(publishing.draft_of(course).files)
    page = author.post(
        f"{base}/items/check/import", data={"language": "zh", "text": "::x::好{=a ~b\n"}
    )
    assert "第 1 行" in page.get_data(as_text=True)
    author.post(
        f"{base}/items/check/import",
        data={"language": "zh", "text": "::x::好{=a ~b\n", "confirm": "1"},
    )
    db.session.expire_all()
    assert publishing.draft_of(course).files == before


def test_self_publishing_is_an_admin_setting(course, author):
    db.session.add(Setting(key="allow_self_publish", value="1"))
    db.session.commit()
    author.post("/author/courses/starter-basics/draft")
    author.post("/author/courses/starter-basics/draft/submit", data={"note": "无变化"})
    author.post("/author/courses/starter-basics/draft/approve")
    db.session.refresh(course)
    assert course.version == 2


def test_a_learner_mid_attempt_finishes_on_the_old_version(
    app, course, author, reviewer, make_user
):
    learner = app.test_client(user=make_user("learner", JobRole.NEW_CUSTOMER_MANAGER))
    learner.post(f"/items/{item_id('intro')}/done")
    attempt = start(learner)
    base = "/author/courses/starter-basics/draft"
    author.post(base)
    fields = drafts.item_fields(publishing.draft_of(course).files, "check")
    fields["gift_zh"] = fields["gift_zh"].replace("{=嘉奖 ~惩罚", "{~嘉奖 =惩罚")
    fields["gift_en"] = fields["gift_en"].replace(
        "{=a reward ~a punishment", "{~a reward =a punishment"
    )
    author.post(f"{base}/items/check", data={k: v for k, v in fields.items() if v is not False})
    author.post(f"{base}/submit", data={"note": "改答案", "is_material": "y"})
    reviewer.post(f"{base}/approve")
    db.session.refresh(course)
    assert course.version == 2

    learner.post(f"/attempts/{attempt.id}/submit", data=form_for(attempt, RIGHT))
    db.session.refresh(attempt)
    assert (attempt.percent, attempt.course_version) == (100.0, 1)
    assert db.session.scalars(select(Completion)).one().course_version == 1
    second = start(learner)
    incentive = next(a for a in second.answers if a.snapshot["name"] == "incentive")
    assert [c["weight"] for c in incentive.snapshot["choices"]][:2] == [0.0, 100.0]


def test_a_trainer_cannot_edit_a_course_they_are_not_named_on(app, course, make_user):
    outsider = app.test_client(user=make_user("outsider", roles={Role.TRAINER}))
    assert outsider.get("/author/courses/starter-basics").status_code == 403
    assert outsider.post("/author/courses/starter-basics/draft").status_code == 403
    learner = app.test_client(user=make_user("learner", JobRole.NEW_CUSTOMER_MANAGER))
    assert learner.get("/author/courses/starter-basics").status_code == 403


def test_statistics_show_facility_and_discrimination(app, course, author, make_user):
    for n, answers in enumerate([RIGHT, RIGHT, {}, {"who": "客户经理"}, RIGHT]):
        client = app.test_client(user=make_user(f"l{n}", JobRole.NEW_CUSTOMER_MANAGER))
        attempt = start(client)
        client.post(f"/attempts/{attempt.id}/submit", data=form_for(attempt, answers))
    page = author.get(f"/author/quizzes/{item_id('check')}/statistics").get_data(as_text=True)
    assert "60.0%" in page  # facility of principles: 3 of 5 right
    assert "80.0%" in page  # facility of who: 4 of 5 right
    assert db.session.get(Item, item_id("check")) is not None


def test_a_material_change_assigns_the_course_again_and_keeps_the_old_record(
    app, course, author, reviewer, make_user
):
    learner = make_user("learner", JobRole.NEW_CUSTOMER_MANAGER)
    client = app.test_client(user=learner)
    client.post(f"/items/{item_id('intro')}/done")
    attempt = start(client)
    client.post(f"/attempts/{attempt.id}/submit", data=form_for(attempt, RIGHT))
    base = "/author/courses/starter-basics/draft"
    author.post(base)
    author.post(f"{base}/submit", data={"note": "法规更新", "is_material": "y"})
    reviewer.post(f"{base}/approve")

    outline = client.get("/courses/starter-basics").get_data(as_text=True)
    assert "/certificates/" not in outline  # the old completion no longer counts
    client.post(f"/items/{item_id('intro')}/done")
    again = start(client)
    assert (again.number, again.cycle) == (2, 2)
    client.post(f"/attempts/{again.id}/submit", data=form_for(again, RIGHT))
    records = db.session.scalars(select(Completion).order_by(Completion.cycle)).all()
    assert [(r.cycle, r.course_version) for r in records] == [(1, 1), (2, 2)]
    assert "/certificates/" in client.get("/courses/starter-basics").get_data(as_text=True)


def publish_key_change(author, reviewer, course, zh_old, zh_new, en_old, en_new):
    base = "/author/courses/starter-basics/draft"
    author.post(base)
    fields = drafts.item_fields(publishing.draft_of(course).files, "check")
    fields["gift_zh"] = fields["gift_zh"].replace(zh_old, zh_new)
    fields["gift_en"] = fields["gift_en"].replace(en_old, en_new)
    author.post(f"{base}/items/check", data={k: v for k, v in fields.items() if v is not False})
    author.post(f"{base}/submit", data={"note": "修正答案"})
    reviewer.post(f"{base}/approve")


def test_a_changed_key_offers_a_regrade_with_a_preview_recorded_in_the_audit_trail(
    app, course, author, reviewer, make_user
):
    learner = app.test_client(user=make_user("learner", JobRole.NEW_CUSTOMER_MANAGER))
    wrong_incentive = {**RIGHT, "incentive": "惩罚"}
    attempt = start(learner)
    learner.post(f"/attempts/{attempt.id}/submit", data=form_for(attempt, wrong_incentive))
    db.session.refresh(attempt)
    assert attempt.percent == 75.0
    publish_key_change(
        author, reviewer, course, "{=嘉奖 ~惩罚", "{=嘉奖 =惩罚", "{=a reward ~a", "{=a reward =a"
    )
    quiz = item_id("check")
    preview = author.get(f"/author/quizzes/{quiz}/regrade").get_data(as_text=True)
    assert "Learner" in preview
    assert "100.0%" in preview
    db.session.refresh(attempt)
    assert attempt.percent == 75.0  # the preview changed nothing
    author.post(f"/author/quizzes/{quiz}/regrade")
    db.session.refresh(attempt)
    assert attempt.percent == 100.0
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["publish", "regrade"]
    assert events[1].details["before"]["percent"] == 75.0
    assert audit.first_broken_link() is None


def test_the_audit_trail_reports_the_first_broken_link(app, course, author, reviewer):
    for note in ("一", "二", "三"):
        base = "/author/courses/starter-basics/draft"
        author.post(base)
        author.post(f"{base}/submit", data={"note": note})
        reviewer.post(f"{base}/approve")
    runner = app.test_cli_runner()
    assert "3 entries, chain intact" in runner.invoke(args=["audit", "verify"]).output
    second = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()[1]
    second.details = {**second.details, "note": "改过"}
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"broken at entry {second.id}" in result.output


def test_a_flagged_question_can_be_retired_through_a_draft(
    app, course, author, reviewer, make_user
):
    for n in range(6):  # everyone answers `weekly` right: facility 100%, too easy
        client = app.test_client(user=make_user(f"l{n}", JobRole.NEW_CUSTOMER_MANAGER))
        attempt = start(client)
        answers = {"weekly": "true", "who": "客户经理"} if n % 2 else {"weekly": "true"}
        client.post(f"/attempts/{attempt.id}/submit", data=form_for(attempt, answers))
    queue = author.get("/author/review-queue").get_data(as_text=True)
    assert "<code>weekly</code>" in queue
    author.post(f"/author/quizzes/{item_id('check')}/questions/weekly/retire")
    author.post("/author/courses/starter-basics/draft/submit", data={"note": "删除过易题"})
    reviewer.post("/author/courses/starter-basics/draft/approve")
    names = [q.name for q in db.session.get(Item, item_id("check")).questions]
    assert "weekly" not in names
    assert len(names) == 3


def test_an_admin_turns_self_publishing_on_and_the_change_is_audited(app, make_user):
    admin = app.test_client(user=make_user("boss", roles={Role.ADMIN}))
    admin.post("/admin/settings", data={"allow_self_publish": "y"})
    assert Setting.is_on("allow_self_publish")
    admin.post("/admin/settings", data={"csrf_token": ""})  # a browser always sends a field
    assert not Setting.is_on("allow_self_publish")
    assert [e.action for e in db.session.scalars(select(AuditEvent))] == ["setting", "setting"]


def test_a_trainer_creates_a_track_and_assigns_it_to_job_roles(app, make_user):
    trainer = app.test_client(user=make_user("maker", roles={Role.TRAINER}))
    form = {"slug": "credit-basics", "title_zh": "信贷基础", "job_roles": ["credit_officer"]}
    assert trainer.post("/author/tracks/new", data=form).status_code == 302
    assert trainer.post("/author/tracks/new", data=form).status_code == 200  # taken
    bad = trainer.post("/author/tracks/new", data={**form, "slug": "Not A Slug"})
    assert bad.status_code == 200
    track = db.session.scalar(select(Track).where(Track.slug == "credit-basics"))
    assert [r.job_role for r in track.job_roles] == ["credit_officer"]
    edit = {"title_zh": "信贷基础", "job_roles": ["credit_officer", "customer_manager"]}
    trainer.post("/author/tracks/credit-basics/edit", data=edit)
    db.session.refresh(track)
    assert sorted(r.job_role for r in track.job_roles) == ["credit_officer", "customer_manager"]
    assert [e.action for e in db.session.scalars(select(AuditEvent))] == ["track", "track"]


def test_a_quiz_downloads_as_gift_that_parses_back_to_its_questions(course, author):
    from lms.gift import parse_gift

    response = author.get(f"/author/quizzes/{item_id('check')}/zh.gift")
    assert response.headers["Content-Disposition"].endswith('check.zh.gift"')
    names = [q.name for q in parse_gift(response.get_data(as_text=True))]
    assert names == ["principles", "incentive", "weekly", "who"]
