"""Reminders: made once a person, course, kind and due date; emailed once; read on the dashboard."""

import smtplib
import socket
from datetime import date, timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import insert, select

from lms import reminders
from lms.extensions import db
from lms.models import Assignment, Completion, Course, Group, JobRole, Reminder, User, utcnow

TODAY = date(2031, 5, 20)


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, _server, _session, envelope):
        message = message_from_bytes(envelope.content, policy=default)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 OK"

    def to(self, address: str) -> list:
        return [m for rcpt, m in self.messages if rcpt == [address]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(inbox: Inbox, monkeypatch, **options) -> Controller:
    """Start a real SMTP server on 127.0.0.1 and point the SMTP_* settings at it."""
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **options)
    controller.start()
    inbox.port = controller.port
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(controller.port))
    monkeypatch.setenv("SMTP_FROM", "training@bank.example")
    for name in ("SMTP_USER", "SMTP_PASSWORD", "SMTP_STARTTLS"):
        monkeypatch.delenv(name, raising=False)
    return controller


@pytest.fixture
def inbox(monkeypatch):
    inbox = Inbox()
    controller = serve(inbox, monkeypatch)
    yield inbox
    controller.stop()


def course_id(slug: str) -> int:
    return db.session.scalar(select(Course.id).where(Course.slug == slug))


def assign(user: User, slug: str, days: int, **kwargs) -> None:
    """Assign a course to a person, due `days` after TODAY (negative: before)."""
    db.session.add(
        Assignment(
            user_id=user.id,
            course_id=course_id(slug),
            due_date=TODAY + timedelta(days=days),
            created_at=utcnow(),
            **kwargs,
        )
    )


@pytest.fixture
def staff(load_courses, make_user):
    """ann: one course due soon, one overdue; bob: due later; cat: overdue, no email;
    dan: overdue but optional; eve: overdue but gone; fay: due soon through her group."""
    load_courses()
    people = {
        name: make_user(name, JobRole.NEW_CUSTOMER_MANAGER)
        for name in ("ann", "bob", "cat", "dan", "eve", "fay")
    }
    for name, user in people.items():
        user.email = "" if name == "cat" else f"{name}@bank.example"
    assign(people["ann"], "starter-basics", 5)
    assign(people["ann"], "advanced-course", -3)
    assign(people["bob"], "starter-basics", 60)
    assign(people["cat"], "starter-basics", -1)
    assign(people["dan"], "starter-basics", -1, is_mandatory=False)
    assign(people["eve"], "starter-basics", -1)
    people["eve"].is_active = False
    people["fay"].branch = "东城支行"
    group = Group(name="东城", rule_branch="东城支行")
    db.session.add(group)
    db.session.flush()
    db.session.add(
        Assignment(
            group_id=group.id,
            course_id=course_id("starter-basics"),
            due_date=TODAY + timedelta(days=1),
            created_at=utcnow(),
        )
    )
    db.session.commit()
    return people


def send(app, *args: str):
    result = app.test_cli_runner().invoke(args=["reminders", "send", *args])
    db.session.expire_all()
    return result


def made() -> set[tuple[str, str, str, date]]:
    rows = db.session.execute(
        select(User.username, Course.slug, Reminder.kind, Reminder.due)
        .join(User, User.id == Reminder.user_id)
        .join(Course, Course.id == Reminder.course_id)
    )
    return {tuple(row) for row in rows}


EXPECTED = {
    ("ann", "starter-basics", "due_soon", TODAY + timedelta(days=5)),
    ("ann", "advanced-course", "overdue", TODAY - timedelta(days=3)),
    ("cat", "starter-basics", "overdue", TODAY - timedelta(days=1)),
    ("fay", "starter-basics", "due_soon", TODAY + timedelta(days=1)),
}


def test_each_person_due_gets_one_email_listing_their_courses_and_only_once(app, inbox, staff):
    result = send(app, "--today", TODAY.isoformat())
    assert result.exit_code == 0, result.output
    assert result.output == "4 new reminders, 2 emails sent\n"
    assert made() == EXPECTED
    assert sorted(rcpt for rcpt, _m in inbox.messages) == [
        ["ann@bank.example"],
        ["fay@bank.example"],
    ]
    (ann,) = inbox.to("ann@bank.example")
    assert "培训提醒" in ann["Subject"]
    assert "Training reminder" in ann["Subject"]
    assert ann["From"] == "training@bank.example"
    body = ann.get_content()
    assert body.index("您好") < body.index("Dear")  # Chinese first, English below
    for text in ("基础知识", "Basics", "进阶课程", "Advanced course", "即将到期", "已逾期"):
        assert text in body
    assert (TODAY + timedelta(days=5)).isoformat() in body
    assert (TODAY - timedelta(days=3)).isoformat() in body
    (fay,) = inbox.to("fay@bank.example")
    assert "基础知识" in fay.get_content()
    assert "进阶课程" not in fay.get_content()
    assert all(r.emailed_at for r in db.session.scalars(select(Reminder)) if r.user.email)

    again = send(app, "--today", TODAY.isoformat())
    assert again.output == "0 new reminders, 0 emails sent\n"
    assert len(inbox.messages) == 2


def test_a_reminder_made_later_is_emailed_on_its_own_day(app, inbox, staff):
    send(app, "--today", (TODAY - timedelta(days=20)).isoformat())
    assert not inbox.messages  # nothing due within two weeks yet
    send(app, "--today", TODAY.isoformat())
    send(app, "--today", (TODAY + timedelta(days=6)).isoformat())
    mail = [m.get_content() for m in inbox.to("ann@bank.example")]
    (later,) = [m for m in mail if "2031-05-25 到期（已逾期）" in m]
    assert "进阶课程" not in later  # its overdue reminder went the first day
    assert len(mail) == 2


def test_the_reminder_shows_on_the_dashboard_until_marked_read(app, inbox, staff, count_queries):
    send(app, "--today", TODAY.isoformat())
    ann = app.test_client(user=staff["ann"])
    with count_queries() as shown:
        page = ann.get("/dashboard").get_data(as_text=True)
    box = page[page.index('id="reminders"') : page.index("</section>")]
    assert "基础知识" in box
    assert "进阶课程" in box
    assert (TODAY + timedelta(days=5)).isoformat() in box
    assert 'name="csrf_token"' in box
    response = ann.post("/reminders/read")
    assert response.status_code == 302
    assert response.location.endswith("/dashboard")
    with count_queries() as hidden:
        assert 'id="reminders"' not in ann.get("/dashboard").get_data(as_text=True)
    assert shown.count == hidden.count
    fay = app.test_client(user=staff["fay"])
    assert 'id="reminders"' in fay.get("/dashboard").get_data(as_text=True)


def test_a_course_completed_after_its_reminder_no_longer_shows_nor_is_emailed(
    app, monkeypatch, staff
):
    monkeypatch.delenv("SMTP_HOST", raising=False)
    send(app, "--today", TODAY.isoformat())
    db.session.add(Completion(user_id=staff["ann"].id, course_id=course_id("advanced-course")))
    db.session.commit()
    assert [course for course, _kind, _due in reminders.unread(staff["ann"])] == [
        course_id("starter-basics")
    ]
    assert {r.user.username for r in reminders.pending()} == {"ann", "cat", "fay"}
    assert len([r for r in reminders.pending() if r.user.username == "ann"]) == 1


def test_without_smtp_host_reminders_are_made_and_no_email_is_tried(app, monkeypatch, staff):
    monkeypatch.delenv("SMTP_HOST", raising=False)

    def refuse(*_args, **_kwargs):
        raise AssertionError("no SMTP connection expected")

    monkeypatch.setattr(smtplib, "SMTP", refuse)
    result = send(app, "--today", TODAY.isoformat())
    assert result.exit_code == 0
    assert result.output == "4 new reminders, 0 emails sent\nemail not configured: set SMTP_HOST\n"
    assert made() == EXPECTED
    assert all(r.emailed_at is None for r in db.session.scalars(select(Reminder)))
    assert reminders.unread(staff["ann"])


def test_an_unreachable_server_fails_the_run_and_the_next_run_sends(app, inbox, monkeypatch, staff):
    monkeypatch.setenv("SMTP_PORT", str(free_port()))
    failed = send(app, "--today", TODAY.isoformat())
    assert failed.exit_code == 1
    assert "4 new reminders; email stopped" in failed.output
    assert all(r.emailed_at is None for r in db.session.scalars(select(Reminder)))
    monkeypatch.setenv("SMTP_PORT", str(inbox.port))
    result = send(app, "--today", TODAY.isoformat())
    assert result.output == "0 new reminders, 2 emails sent\n"
    assert len(inbox.messages) == 2


class Refusing(Inbox):
    """Refuses mail to ann."""

    async def handle_RCPT(self, _server, _session, envelope, address, _options):
        if address.startswith("ann@"):
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_refused_address_is_skipped_and_left_to_retry(app, monkeypatch, staff):
    inbox = Refusing()
    controller = serve(inbox, monkeypatch)
    try:
        result = send(app, "--today", TODAY.isoformat())
    finally:
        controller.stop()
    assert result.output == "4 new reminders, 1 emails sent\n"
    assert [rcpt for rcpt, _m in inbox.messages] == [["fay@bank.example"]]
    assert len([r for r in reminders.pending() if r.user.username == "ann"]) == 2


def test_the_smtp_user_signs_in(app, monkeypatch, staff):
    logins = []

    def authenticate(_server, _session, _envelope, mechanism, data):
        logins.append((mechanism, data.login, data.password))
        return AuthResult(success=data.password == b"secret")

    inbox = Inbox()
    controller = serve(inbox, monkeypatch, authenticator=authenticate, auth_require_tls=False)
    try:
        monkeypatch.setenv("SMTP_USER", "lms")
        monkeypatch.setenv("SMTP_PASSWORD", "secret")
        result = send(app, "--today", TODAY.isoformat())
    finally:
        controller.stop()
    assert result.output == "4 new reminders, 2 emails sent\n"
    assert [login[1:] for login in logins] == [(b"lms", b"secret")]
    assert len(inbox.messages) == 2


def test_an_overlapping_run_that_made_a_reminder_first_does_not_double_it(
    app, inbox, monkeypatch, staff
):
    collect = reminders.collect
    calls = []
    fay, basics = staff["fay"].id, course_id("starter-basics")

    def racing_collect(today):
        result = collect(today)
        if not calls:
            # Another run commits the same reminder between this run's read and its write.
            with db.engine.begin() as other:
                other.execute(
                    insert(Reminder).values(
                        user_id=fay,
                        course_id=basics,
                        kind="due_soon",
                        due=TODAY + timedelta(days=1),
                        created_at=utcnow(),
                    )
                )
        calls.append(today)
        return result

    monkeypatch.setattr(reminders, "collect", racing_collect)
    result = send(app, "--today", TODAY.isoformat())
    assert result.exit_code == 0, result.output
    assert result.output == "3 new reminders, 2 emails sent\n"
    assert len(calls) == 2
    assert made() == EXPECTED
    assert len(inbox.to("fay@bank.example")) == 1


def test_collect_costs_the_same_queries_for_few_or_many_people(app, staff, count_queries):
    with count_queries() as few:
        reminders.collect(TODAY)
    db.session.rollback()
    for n in range(40):
        db.session.add(
            User(
                username=f"more{n}",
                name=f"More{n}",
                password_hash="x",
                job_role=JobRole.NEW_CUSTOMER_MANAGER,
                branch="东城支行",
            )
        )
    db.session.commit()
    with count_queries() as many:
        assert len(reminders.collect(TODAY)) == len(EXPECTED) + 40
    assert many.count == few.count


def test_batches_make_each_reminder_once(app, staff, monkeypatch):
    monkeypatch.setattr(reminders, "BATCH", 2)
    reminders.collect(TODAY)
    db.session.commit()
    assert made() == EXPECTED
