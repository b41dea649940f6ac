"""Command line: thin click commands over the same functions the web pages use."""

import os
import secrets
import sys
from collections import Counter
from pathlib import Path
from typing import NoReturn

import click
from flask import Flask, current_app
from flask.cli import AppGroup, ScriptInfo
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from . import audit, drafts, publishing, reminders, roster
from .content import ContentError, lint_catalog, read_catalog, sync_catalog
from .export import LANGUAGES, course_items, quiz_gift
from .extensions import db, init_migrate
from .gift import QTYPES, GiftError, parse_gift
from .models import Course, ItemKind, JobRole, Role, User, utcnow

courses_cli = AppGroup("courses", help="Check and load the course files.")
gift_cli = AppGroup("gift", help="Check, import and export GIFT quiz files.")

DEMO_USERS = (
    ("new.manager", "王新", JobRole.NEW_CUSTOMER_MANAGER, {Role.LEARNER}),
    ("customer.manager", "李明", JobRole.CUSTOMER_MANAGER, {Role.LEARNER}),
    ("senior.manager", "张华", JobRole.SENIOR_CUSTOMER_MANAGER, {Role.LEARNER}),
    ("corporate.manager", "赵强", JobRole.CORPORATE_CUSTOMER_MANAGER, {Role.LEARNER}),
    ("keyaccount.manager", "陈静", JobRole.KEY_ACCOUNT_MANAGER, {Role.LEARNER}),
    ("credit.officer", "刘洋", JobRole.CREDIT_OFFICER, {Role.LEARNER}),
    ("trainer", "周老师", None, {Role.TRAINER, Role.LEARNER}),
    ("hr", "孙丽", None, {Role.HR}),
    ("admin", "Administrator", None, {Role.ADMIN}),
)


def _catalog_path(path: str | None) -> Path:
    return Path(path or current_app.config["COURSES_PATH"])


def _read_or_exit(path: Path):
    try:
        return read_catalog(path)
    except ContentError as e:
        for line in e.errors:
            click.echo(line, err=True)
        sys.exit(1)


@courses_cli.command("check")
@click.argument("path", required=False)
def check_courses(path: str | None) -> None:
    """Validate course files without writing; exit 1 on any problem."""
    catalog = _read_or_exit(_catalog_path(path))
    findings = lint_catalog(catalog)
    for finding in findings:
        click.echo(finding, err=True)
    click.echo(catalog.summary())
    if findings:
        sys.exit(1)


@courses_cli.command("load")
@click.argument("path", required=False)
def load_courses(path: str | None) -> None:
    """Load or update course files into the database, all or nothing."""
    catalog = _read_or_exit(_catalog_path(path))
    summary = sync_catalog(catalog)
    db.session.commit()
    click.echo(f"{catalog.summary()}; {summary}")


def ensure_user(username: str, name: str, job_role, roles, password: str) -> bool:
    """Create the account unless it exists; True when created."""
    if db.session.scalar(select(User.id).where(User.username == username)):
        return False
    user = User(username=username, name=name, job_role=job_role, branch="总行营业部")
    user.set_password(password)
    user.set_roles({str(r) for r in roles})
    db.session.add(user)
    return True


def _demo_password() -> str:
    """The demo password from the environment, else one generated once and kept in instance/."""
    if os.environ.get("LMS_DEMO_PASSWORD"):
        return os.environ["LMS_DEMO_PASSWORD"]
    path = Path(current_app.instance_path) / "demo_password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


def setup_site(demo: bool) -> list[str]:
    """Migrate, load the courses and create the accounts; return lines to show the operator."""
    from flask_migrate import upgrade

    upgrade(directory=init_migrate(current_app._get_current_object()).directory)
    catalog = read_catalog(_catalog_path(None))
    summary = sync_catalog(catalog)
    lines = [f"Courses: {catalog.summary()} ({summary})."]
    if demo:
        password = _demo_password()
        for username, name, job_role, roles in DEMO_USERS:
            ensure_user(username, name, job_role, roles, password)
        _name_demo_trainer()
        names = ", ".join(u[0] for u in DEMO_USERS)
        lines.append(f"Demo users: {names}\nPassword for all of them: {password}")
    else:
        # Printed once, on creation, and kept nowhere: the admin changes it after signing in.
        password = os.environ.get("LMS_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        if ensure_user("admin", "Administrator", None, {Role.ADMIN}, password):
            lines.append(f"Admin user: admin\nPassword: {password}")
    db.session.commit()
    return lines


def _name_demo_trainer() -> None:
    """The demo trainer may edit every course."""
    db.session.flush()
    trainer = db.session.scalar(select(User).where(User.username == "trainer"))
    for course in db.session.scalars(select(Course)):
        if trainer not in course.trainers:
            course.trainers.append(trainer)


def _fail(message: str) -> NoReturn:
    """Report a problem on stderr and exit 1."""
    click.echo(message, err=True)
    sys.exit(1)


@gift_cli.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def check_gift(file: Path) -> None:
    """Parse a GIFT file without writing: count its questions by type, or list its errors."""
    try:
        # UTF-8 as the course loader reads it, so a file that passes here loads there.
        questions = parse_gift(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        _fail("line 1: not UTF-8 text")
    except GiftError as e:
        for line, message in e.errors:
            click.echo(f"line {line}: {message}", err=True)
        sys.exit(1)
    counts = Counter(q.qtype for q in questions)
    click.echo(f"{len(questions)} question{'' if len(questions) == 1 else 's'}")
    for qtype in QTYPES:
        if counts[qtype]:
            click.echo(f"{qtype}: {counts[qtype]}")


@gift_cli.command("export")
@click.option("--course", "slug", required=True, help="The course slug.")
@click.option("--quiz", "key", help="One quiz, by its file name; all quizzes if left out.")
@click.option("--language", type=click.Choice(LANGUAGES), default="zh", show_default=True)
def export_gift(slug: str, key: str | None, language: str) -> None:
    """Print a course's quiz questions from the database as GIFT."""
    course = db.session.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        _fail(f"no course {slug!r}")
    quizzes = [i for i in course_items(course) if i.kind == ItemKind.QUIZ]
    if key is not None:
        quizzes = [i for i in quizzes if i.key == key]
        if not quizzes:
            _fail(f"course {slug!r} has no quiz {key!r}")
    texts = [(item.key, text) for item in quizzes if (text := quiz_gift(item, language))]
    if not texts:
        _fail(f"course {slug!r} has no {language} quiz questions")
    if key is not None:
        # One quiz prints exactly its .gift file, ready to save as one.
        click.echo(texts[0][1], nl=False)
    else:
        click.echo("\n".join(f"// quiz: {k}\n{text}" for k, text in texts), nl=False)


@gift_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--course", "slug", required=True, help="The course slug.")
@click.option(
    "--quiz", "key", help="The quiz, by its file name; the course's last quiz if left out."
)
@click.option("--language", type=click.Choice(LANGUAGES), default="zh", show_default=True)
@click.option("--author", "username", required=True, help="The trainer the draft is opened for.")
def import_gift(file: Path, slug: str, key: str | None, language: str, username: str) -> None:
    """Append a GIFT file's questions to a quiz in the course's draft, all or nothing.

    As in the browser, the draft goes live only once a second trainer approves it.
    """
    course = db.session.scalar(select(Course).where(Course.slug == slug))
    author = db.session.scalar(select(User).where(User.username == username))
    if course is None or author is None or not course.can_edit(author):
        _fail(f"{username!r} cannot edit a course {slug!r}")
    text = file.read_text(encoding="utf-8")
    preview = drafts.gift_preview(text)
    for line, message in preview.errors:
        click.echo(f"line {line}: {message}", err=True)
    if preview.errors:
        sys.exit(1)
    draft = publishing.open_draft(course, author)
    quizzes = [i.key for m in drafts.outline(draft.files) for i in m.items if i.kind == "quiz"]
    key = key or (quizzes[-1] if quizzes else None)
    if key not in quizzes:
        _fail(f"the draft of {slug!r} has no quiz {key!r}")
    draft.files = drafts.append_gift(draft.files, f"{key}.{language}.gift", text)
    db.session.commit()
    click.echo(f"{len(preview.questions)} questions added to quiz {key!r} in the draft of {slug!r}")


audit_cli = AppGroup("audit", help="The audit trail.")


@audit_cli.command("verify")
def verify_audit() -> None:
    """Check every link of the audit trail; exit 1 at the first broken one."""
    check = audit.check_chain()
    if check.broken is not None:
        broken = check.broken
        click.echo(f"broken at entry {broken.id} ({broken.action} {broken.subject})", err=True)
        sys.exit(1)
    click.echo(f"{check.checked} entries, chain intact")


staff_cli = AppGroup("staff", help="The staff roster from HR.")


@staff_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would change and write nothing.")
@click.option("--full", is_flag=True, help="The file lists everyone: deactivate who is not in it.")
def import_staff(file: Path, dry_run: bool, full: bool) -> None:
    """Create and update staff accounts from a roster CSV, all or nothing."""
    try:
        plan = roster.prepare_import(roster.decode_roster(file.read_bytes()), full)
    except roster.RosterError as e:
        for error in e.errors:
            click.echo(roster.format_error(*error), err=True)
        sys.exit(1)
    if dry_run:
        click.echo("dry run: nothing is written")
    for line in roster.describe(plan):
        click.echo(line)
    if dry_run:
        click.echo(plan.summary)
        return
    # The operator at the console has no account: the entry's actor stays empty.
    summary = roster.apply_import(plan, None, utcnow())
    db.session.commit()
    click.echo(summary)


class MigrateCommands(click.Group):
    """`flask db ...`: Flask-Migrate's commands, bound to the app and imported (Alembic with
    them) only when one is run, not by every `flask` command or server that builds the app."""

    def make_context(self, info_name, args, parent=None, **extra):
        from flask_migrate.cli import db as commands

        init_migrate(parent.ensure_object(ScriptInfo).load_app())
        # The real group parses the arguments (its options, --help) and runs in our stead.
        return commands.make_context(info_name, args, parent=parent, **extra)


def register_cli(app: Flask) -> None:
    app.cli.add_command(MigrateCommands("db", help="Perform database migrations."))
    app.cli.add_command(courses_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(gift_cli)
    app.cli.add_command(staff_cli)
    app.cli.add_command(reminders_cli)


reminders_cli = AppGroup("reminders", help="Due-soon and overdue reminders.")


@reminders_cli.command("send")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Remind as of this day (YYYY-MM-DD) instead of today (UTC), e.g. to back-fill.",
)
def send_reminders(today) -> None:
    """Make the reminders due today and email them, one email a person; run daily from cron.

    A second run on the same day makes and sends nothing. Email needs SMTP_HOST (and SMTP_PORT,
    SMTP_USER, SMTP_PASSWORD, SMTP_STARTTLS=1, SMTP_FROM); without it only in-app reminders are
    made.
    """
    made = _collect_reminders(today.date() if today else utcnow().date())
    settings = reminders.smtp_settings(os.environ)
    if settings is None:
        click.echo(f"{made} new reminders, 0 emails sent")
        click.echo("email not configured: set SMTP_HOST")
        return
    if not settings.sender:
        _fail(f"{made} new reminders; email not configured: set SMTP_FROM")
    try:
        sent = reminders.send_email(reminders.pending(), settings)
    except OSError as e:  # smtplib's errors included
        # Each email already sent is committed: the next run sends only the rest.
        _fail(f"{made} new reminders; email stopped: {e}")
    click.echo(f"{made} new reminders, {sent} emails sent")


def _collect_reminders(today) -> int:
    """Make and commit the reminders, once more if an overlapping run made some meanwhile."""
    for _attempt in range(2):
        try:
            made = len(reminders.collect(today))
            db.session.commit()
            return made
        except (IntegrityError, OperationalError):
            # The unique key (SQLite: the write lock) refused a reminder the other run made.
            db.session.rollback()
    _fail("reminders not made: another run kept writing them at the same time")
