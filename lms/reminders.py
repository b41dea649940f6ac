"""Due-soon and overdue reminders: made once, shown on the dashboard, emailed once.

`flask --app run.py reminders send` makes today's reminders and emails them; run it daily from
cron. A reminder is made once per person, course, kind and due date: the database's unique key
refuses a second one, even from two runs at the same time, and a reminder is emailed only if
its `emailed_at` was still empty when the sending run claimed it.
"""

from __future__ import annotations

import functools
import logging
import smtplib
import ssl
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.orm import selectinload

from . import cache, requirements
from .compliance import Status
from .extensions import db
from .models import Completion, Reminder, User, utcnow

BATCH = 500
KINDS = {
    Status.DUE_SOON: "due_soon",
    Status.RENEWAL_DUE: "due_soon",
    Status.OVERDUE: "overdue",
    Status.EXPIRED: "overdue",
}
SUBJECT = "培训提醒：必修课程即将到期或已逾期 / Training reminder: mandatory courses due"
KIND_NAMES = {
    "due_soon": ("即将到期", "due soon"),
    "overdue": ("已逾期", "overdue"),
}

log = logging.getLogger(__name__)


def collect(today: date) -> list[Reminder]:
    """Add the reminders due today that were not made before; the caller commits."""
    cat = requirements.catalogue()
    people = requirements.people(requirements.Filters())
    ids = db.session.scalars(people.with_only_columns(User.id)).all()
    made = []
    # A batch at a time: each costs the same few queries, whatever the number of people.
    for start in range(0, len(ids), BATCH):
        users = db.session.scalars(select(User).where(User.id.in_(ids[start : start + BATCH])))
        made += _collect_batch(list(users), cat, today)
    return made


def _collect_batch(users: list[User], cat: requirements.Catalogue, today: date) -> list[Reminder]:
    made = db.session.execute(
        select(Reminder.user_id, Reminder.course_id, Reminder.kind, Reminder.due).where(
            Reminder.user_id.in_([u.id for u in users])
        )
    )
    new = sorted(_wanted(users, cat, today) - {tuple(row) for row in made})
    reminders = [Reminder(user_id=u, course_id=c, kind=k, due=d) for u, c, k, d in new]
    db.session.add_all(reminders)
    return reminders


def _wanted(
    users: list[User], cat: requirements.Catalogue, today: date
) -> set[tuple[int, int, str, date]]:
    """(person, course, kind, due) of each mandatory requirement due soon or overdue today."""
    rules = requirements.rules_of(users, cat)
    wanted = set()
    for row in requirements.rows_for(users, cat, today):
        for course_id, standing in row.cells.items():
            kind = KINDS.get(standing.status)
            if kind and standing.due and rules[row.user.id][course_id].is_mandatory:
                wanted.add((row.user.id, course_id, kind, standing.due))
    return wanted


def _open():
    """Reminders not read, of courses not completed since the reminder was made."""
    settled = exists().where(
        Completion.user_id == Reminder.user_id,
        Completion.course_id == Reminder.course_id,
        Completion.completed_at >= Reminder.created_at,
    )
    return select(Reminder).where(Reminder.read_at.is_(None), ~settled)


def unread(user: User) -> list[tuple[int, str, date]]:
    """The person's unread reminders, newest first: (course id, kind, due date)."""
    return [tuple(row) for row in db.session.execute(_unread_query(), {"user": user.id})]


@functools.cache
def _unread_query():
    # Built once: it is part of every learner's plan.
    return (
        _open()
        .with_only_columns(Reminder.course_id, Reminder.kind, Reminder.due)
        .where(Reminder.user_id == bindparam("user"))
        .order_by(Reminder.created_at.desc(), Reminder.id.desc())
    )


def mark_read(user: User, now: datetime) -> None:
    """Mark all the person's reminders read; the caller commits."""
    cache.touch(user.id)
    db.session.execute(
        update(Reminder)
        .where(Reminder.user_id == user.id, Reminder.read_at.is_(None))
        .values(read_at=now)
    )


def pending() -> list[Reminder]:
    """Open reminders not emailed yet: today's, and any a failed run left behind."""
    return list(db.session.scalars(_open().where(Reminder.emailed_at.is_(None))))


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    user: str = ""
    password: str = ""
    is_starttls: bool = False
    sender: str = ""


def smtp_settings(environ: Mapping[str, str]) -> SmtpSettings | None:
    """The SMTP_* settings, or None when SMTP_HOST is not set."""
    if not environ.get("SMTP_HOST"):
        return None
    return SmtpSettings(
        host=environ["SMTP_HOST"],
        port=int(environ.get("SMTP_PORT") or 25),
        user=environ.get("SMTP_USER", ""),
        password=environ.get("SMTP_PASSWORD", ""),
        is_starttls=environ.get("SMTP_STARTTLS") == "1",
        sender=environ.get("SMTP_FROM") or environ.get("SMTP_USER", ""),
    )


@dataclass(frozen=True)
class Line:
    reminder_id: int
    title_zh: str
    title_en: str
    kind: str
    due: date


@dataclass(frozen=True)
class Letter:
    to: str
    name: str
    lines: list[Line]


def send_email(reminders: Iterable[Reminder], settings: SmtpSettings) -> int:
    """Email each person their reminders not emailed yet, in one email; return how many sent.

    Each person's reminders are claimed, sent and committed in turn, so a crash halfway never
    sends again what was sent, and a run overlapping this one skips what this one claimed.
    """
    letters = _letters(reminders)
    # End the read: on SQLite each claim below must start a transaction of its own.
    db.session.commit()
    if not letters:
        return 0
    sent = 0
    with _connect(settings) as smtp:
        for letter in letters:
            sent += _send(smtp, letter, settings.sender)
    return sent


def _letters(reminders: Iterable[Reminder]) -> list[Letter]:
    """The emails to write, from plain values read before any commit expires the rows."""
    ids = [r.id for r in reminders]
    by_user: dict[User, list[Line]] = defaultdict(list)
    for start in range(0, len(ids), BATCH):
        query = (
            select(Reminder)
            .where(Reminder.id.in_(ids[start : start + BATCH]), Reminder.emailed_at.is_(None))
            .options(selectinload(Reminder.user), selectinload(Reminder.course))
        )
        for r in db.session.scalars(query):
            if r.user.is_active and r.user.email:
                course = r.course
                line = Line(r.id, course.title_zh, course.tr("title", "en"), r.kind, r.due)
                by_user[r.user].append(line)
    return [
        Letter(user.email, user.name, sorted(lines, key=lambda n: (n.due, n.title_zh)))
        for user, lines in sorted(by_user.items(), key=lambda pair: pair[0].id)
    ]


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    smtp = smtplib.SMTP(settings.host, settings.port, timeout=60)
    try:
        if settings.is_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.user:
            smtp.login(settings.user, settings.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def _send(smtp: smtplib.SMTP, letter: Letter, sender: str) -> int:
    """Claim the letter's reminders, send what was claimed and commit; 1 if an email went."""
    claimed = set(
        db.session.scalars(
            update(Reminder)
            .where(
                Reminder.id.in_([n.reminder_id for n in letter.lines]),
                Reminder.emailed_at.is_(None),
            )
            .values(emailed_at=utcnow())
            .returning(Reminder.id)
        )
    )
    lines = [n for n in letter.lines if n.reminder_id in claimed]
    if not lines:
        db.session.rollback()
        return 0
    try:
        smtp.send_message(message(letter.to, letter.name, lines, sender))
    except smtplib.SMTPRecipientsRefused:
        db.session.rollback()
        log.warning("reminder email refused for %s", letter.to)
        return 0
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()
    return 1


def message(to: str, name: str, lines: list[Line], sender: str) -> EmailMessage:
    """One person's reminder email."""
    msg = EmailMessage()
    msg["Subject"] = SUBJECT
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(body(name, lines))
    return msg


def body(name: str, lines: list[Line]) -> str:
    """The courses and their due dates: Chinese first, then English."""
    zh = [f"- {n.title_zh}：{n.due.isoformat()} 到期（{KIND_NAMES[n.kind][0]}）" for n in lines]
    en = [f"- {n.title_en}: due {n.due.isoformat()} ({KIND_NAMES[n.kind][1]})" for n in lines]
    return "\n".join(
        [
            f"{name}，您好：",
            "",
            "以下必修课程即将到期或已逾期，请登录培训平台按时完成：",
            *zh,
            "",
            "---",
            "",
            f"Dear {name},",
            "",
            "These mandatory courses are due soon or overdue; please sign in to the training "
            "platform and complete them:",
            *en,
            "",
        ]
    )
