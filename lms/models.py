"""Typed SQLAlchemy models: people, curricula, progress and the records HR relies on."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class JobRole(StrEnum):
    NEW_CUSTOMER_MANAGER = "new_customer_manager"
    CUSTOMER_MANAGER = "customer_manager"
    SENIOR_CUSTOMER_MANAGER = "senior_customer_manager"
    CORPORATE_CUSTOMER_MANAGER = "corporate_customer_manager"
    KEY_ACCOUNT_MANAGER = "key_account_manager"
    CREDIT_OFFICER = "credit_officer"


JOB_ROLE_NAMES: dict[str, dict[str, str]] = {
    JobRole.NEW_CUSTOMER_MANAGER: {"zh": "新任客户经理", "en": "New customer manager"},
    JobRole.CUSTOMER_MANAGER: {"zh": "客户经理", "en": "Customer manager"},
    JobRole.SENIOR_CUSTOMER_MANAGER: {"zh": "高级客户经理", "en": "Senior customer manager"},
    JobRole.CORPORATE_CUSTOMER_MANAGER: {"zh": "对公客户经理", "en": "Corporate customer manager"},
    JobRole.KEY_ACCOUNT_MANAGER: {"zh": "大客户经理", "en": "Key-account manager"},
    JobRole.CREDIT_OFFICER: {"zh": "信贷员", "en": "Credit officer"},
}


class Role(StrEnum):
    LEARNER = "learner"
    TRAINER = "trainer"
    HR = "hr"
    ADMIN = "admin"


class UserRole(db.Model):
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)


class User(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(200), default="")
    employee_no: Mapped[str | None] = mapped_column(String(40), unique=True)
    branch: Mapped[str] = mapped_column(String(120), default="")
    department: Mapped[str] = mapped_column(String(120), default="")
    job_role: Mapped[str | None] = mapped_column(String(40), index=True)
    level: Mapped[str] = mapped_column(String(40), default="")
    hire_date: Mapped[date | None] = mapped_column(Date)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(10), default="zh")
    # Part of the login cookie's id: rotating it ends every session of this user.
    session_token: Mapped[str] = mapped_column(String(32), default=lambda: secrets.token_hex(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Moves whenever the person's own records change (lms/cache.py): what is cached of them
    # under an older stamp is no longer current.
    stamp: Mapped[int] = mapped_column(default=0, server_default="0")

    roles: Mapped[list[UserRole]] = relationship(lazy="selectin", cascade="all, delete-orphan")
    manager: Mapped[User | None] = relationship(remote_side=[id])

    # HR's lists page through active people by branch and name: with is_active first, skipping
    # to a page reads the index alone.
    __table_args__ = (Index("ix_user_active_branch_name", "is_active", "branch", "name", "id"),)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)
        self.session_token = secrets.token_hex(16)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def role_names(self) -> set[str]:
        return {r.role for r in self.roles}

    def has_role(self, role: Role) -> bool:
        return role in self.role_names

    def set_roles(self, roles: set[str]) -> None:
        self.roles = [r for r in self.roles if r.role in roles] + [
            UserRole(role=r) for r in sorted(roles - self.role_names)
        ]


track_prerequisite_table = Table(
    "track_prerequisite",
    db.metadata,
    Column("track_id", ForeignKey("track.id"), primary_key=True),
    Column("required_track_id", ForeignKey("track.id"), primary_key=True),
)

course_prerequisite_table = Table(
    "course_prerequisite",
    db.metadata,
    Column("course_id", ForeignKey("course.id"), primary_key=True),
    Column("required_course_id", ForeignKey("course.id"), primary_key=True),
)


class Bilingual:
    """Mixin for rows with `<field>_zh` / `<field>_en` columns."""

    def tr(self, field: str, locale: str) -> str:
        english = getattr(self, f"{field}_en", "")
        return english if locale == "en" and english else getattr(self, f"{field}_zh")


class TrackJobRole(db.Model):
    track_id: Mapped[int] = mapped_column(ForeignKey("track.id"), primary_key=True)
    job_role: Mapped[str] = mapped_column(String(40), primary_key=True)


class Track(Bilingual, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200), default="")
    summary_zh: Mapped[str] = mapped_column(Text, default="")
    summary_en: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(default=True)

    job_roles: Mapped[list[TrackJobRole]] = relationship(cascade="all, delete-orphan")
    courses: Mapped[list[Course]] = relationship(back_populates="track", order_by="Course.position")
    requires: Mapped[list[Track]] = relationship(
        secondary=track_prerequisite_table,
        primaryjoin="Track.id == track_prerequisite.c.track_id",
        secondaryjoin="Track.id == track_prerequisite.c.required_track_id",
    )

    @classmethod
    def assigned_to(cls, job_role: str | None):
        """Active tracks assigned to a job role, in curriculum order."""
        return (
            select(cls)
            .join(TrackJobRole)
            .where(TrackJobRole.job_role == job_role, cls.is_active)
            .order_by(cls.position, cls.id)
        )


class Course(Bilingual, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    track_id: Mapped[int] = mapped_column(ForeignKey("track.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200), default="")
    summary_zh: Mapped[str] = mapped_column(Text, default="")
    summary_en: Mapped[str] = mapped_column(Text, default="")
    delivery: Mapped[str] = mapped_column(String(20), default="online")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(default=1)
    # Completions earned on a version before this one no longer count (a material change).
    recertify_from: Mapped[int] = mapped_column(default=0)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    is_active: Mapped[bool] = mapped_column(default=True)

    track: Mapped[Track] = relationship(back_populates="courses")
    modules: Mapped[list[Module]] = relationship(
        back_populates="course", order_by="Module.position", cascade="all, delete-orphan"
    )
    trainers: Mapped[list[User]] = relationship(secondary="course_trainer")
    requires: Mapped[list[Course]] = relationship(
        secondary=course_prerequisite_table,
        primaryjoin="Course.id == course_prerequisite.c.course_id",
        secondaryjoin="Course.id == course_prerequisite.c.required_course_id",
    )

    def can_edit(self, user: User) -> bool:
        """Trainers named on the course edit it; admins edit every course."""
        return user.has_role(Role.ADMIN) or (
            user.has_role(Role.TRAINER) and any(t.id == user.id for t in self.trainers)
        )

    def detail(self, field: str, locale: str) -> str:
        value = self.details.get(field) or {}
        if not isinstance(value, dict):
            return str(value)
        return (locale == "en" and value.get("en")) or value.get("zh", "")


course_trainer_table = Table(
    "course_trainer",
    db.metadata,
    Column("course_id", ForeignKey("course.id"), primary_key=True),
    Column("user_id", ForeignKey("user.id"), primary_key=True),
)


class DraftStatus(StrEnum):
    EDITING = "editing"
    IN_REVIEW = "in_review"


class CourseDraft(db.Model):
    """The next version of a course, being edited or waiting for a second trainer's review."""

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), unique=True)
    base_version: Mapped[int] = mapped_column(default=0)
    files: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=DraftStatus.EDITING)
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    is_material: Mapped[bool] = mapped_column(default=False)
    review_comment: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    course: Mapped[Course] = relationship()
    author: Mapped[User] = relationship()


class Setting(db.Model):
    """Site settings an admin can change."""

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")

    @staticmethod
    def is_on(key: str) -> bool:
        row = db.session.get(Setting, key)
        return row is not None and row.value == "1"


class SiteStamp(db.Model):
    """One row whose value moves whenever something that applies to everyone changes: the
    curricula, groups, assignments, people's posts (lms/cache.py)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(default=0)


class CourseVersion(db.Model):
    """Each published state of a course, never changed: completion records name the version."""

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    number: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    # The course in the courses/ file format, for diffs, drafts and exports.
    files: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    is_material: Mapped[bool] = mapped_column(default=False)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    course: Mapped[Course] = relationship()
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])

    __table_args__ = (UniqueConstraint("course_id", "number"),)


class Module(Bilingual, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200), default="")

    course: Mapped[Course] = relationship(back_populates="modules")
    items: Mapped[list[Item]] = relationship(
        back_populates="module",
        order_by="Item.position",
        primaryjoin="and_(Module.id == Item.module_id, Item.is_active)",
        viewonly=True,
    )


class ItemKind(StrEnum):
    LESSON = "lesson"
    QUIZ = "quiz"
    PRACTICAL = "practical"


class Review(StrEnum):
    IMMEDIATE = "immediate"
    AFTER_FINAL = "after_final"
    SCORE = "score"


class Item(Bilingual, db.Model):
    """A lesson, quiz or practical step of a course; retired items stay for their history."""

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    module_id: Mapped[int | None] = mapped_column(ForeignKey("module.id"), index=True)
    key: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(default=0)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200), default="")
    body_zh: Mapped[str] = mapped_column(Text, default="")
    body_en: Mapped[str] = mapped_column(Text, default="")
    # Sanitised HTML rendered once at load time, never per request.
    html_zh: Mapped[str] = mapped_column(Text, default="")
    html_en: Mapped[str] = mapped_column(Text, default="")
    is_required: Mapped[bool] = mapped_column(default=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    pass_mark: Mapped[float] = mapped_column(Float, default=80.0)
    max_attempts: Mapped[int] = mapped_column(default=0)
    time_limit: Mapped[int] = mapped_column(default=0)
    is_shuffled: Mapped[bool] = mapped_column(default=False)
    review: Mapped[str] = mapped_column(String(20), default=Review.AFTER_FINAL)
    # Which attempts make the quiz's grade: highest, last, first or average.
    grading: Mapped[str] = mapped_column(String(10), default="highest")
    # Questions drawn at random for each attempt (0 = all), from a category and its children.
    draw: Mapped[int] = mapped_column(default=0)
    draw_category: Mapped[str] = mapped_column(String(200), default="")

    module: Mapped[Module | None] = relationship(back_populates="items")
    course: Mapped[Course] = relationship()
    questions: Mapped[list[Question]] = relationship(
        back_populates="item",
        order_by="Question.position",
        primaryjoin="and_(Item.id == Question.item_id, Question.is_active)",
        viewonly=True,
    )

    __table_args__ = (UniqueConstraint("course_id", "key"),)


class Question(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=0)
    category: Mapped[str] = mapped_column(String(200), default="")
    qtype: Mapped[str] = mapped_column(String(20))
    # {"zh": question_to_dict(...), "en": ...}: graded in the language the learner saw.
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_active: Mapped[bool] = mapped_column(default=True)

    item: Mapped[Item] = relationship(back_populates="questions")

    __table_args__ = (UniqueConstraint("item_id", "name"),)


class ItemProgress(db.Model):
    """An item a learner has done: a lesson read, a quiz passed, a practical signed off."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    cycle: Mapped[int] = mapped_column(default=1)
    done_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    signed_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    note: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        UniqueConstraint("user_id", "item_id", "cycle"),
        Index("ix_item_progress_user_course", "user_id", "course_id"),
    )


class AttemptState(StrEnum):
    IN_PROGRESS = "in_progress"
    FINISHED = "finished"


class Attempt(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), index=True)
    number: Mapped[int]
    cycle: Mapped[int] = mapped_column(default=1)
    state: Mapped[str] = mapped_column(String(20), default=AttemptState.IN_PROGRESS)
    language: Mapped[str] = mapped_column(String(10), default="zh")
    course_version: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    points: Mapped[float | None] = mapped_column(Float)
    out_of: Mapped[float | None] = mapped_column(Float)
    percent: Mapped[float | None] = mapped_column(Float)
    is_passed: Mapped[bool] = mapped_column(default=False)
    needs_grading: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship()
    item: Mapped[Item] = relationship()
    answers: Mapped[list[AttemptAnswer]] = relationship(
        back_populates="attempt", order_by="AttemptAnswer.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        # The database, not the view, keeps the attempt count and one open attempt per quiz.
        UniqueConstraint("user_id", "item_id", "number"),
        Index(
            "uq_attempt_open",
            "user_id",
            "item_id",
            unique=True,
            sqlite_where=text("state = 'in_progress'"),
            postgresql_where=text("state = 'in_progress'"),
        ),
    )

    @property
    def is_open(self) -> bool:
        return self.state == AttemptState.IN_PROGRESS


class AttemptAnswer(db.Model):
    """One question of an attempt: the question as it was shown, and the learner's response."""

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"))
    position: Mapped[int]
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id"))
    # The question's dict at the start of the attempt, so a later edit cannot change it.
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The display order of choices or matching answers (indexes into the snapshot).
    order: Mapped[list[int]] = mapped_column(JSON, default=list)
    response: Mapped[Any] = mapped_column(JSON, nullable=True)
    fraction: Mapped[float | None] = mapped_column(Float)
    saved_at: Mapped[datetime | None] = mapped_column(DateTime)
    # A trainer's grade of an essay.
    comment: Mapped[str] = mapped_column(Text, default="")
    graded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    graded_at: Mapped[datetime | None] = mapped_column(DateTime)

    attempt: Mapped[Attempt] = relationship(back_populates="answers")

    __table_args__ = (UniqueConstraint("attempt_id", "position"),)


def new_certificate_code() -> str:
    raw = secrets.token_hex(6).upper()
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


class Completion(db.Model):
    """A course completed: written once per person, course and cycle, never changed."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    cycle: Mapped[int] = mapped_column(default=1)
    completed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    percent: Mapped[float | None] = mapped_column(Float)
    course_version: Mapped[int] = mapped_column(default=1)
    certificate_code: Mapped[str] = mapped_column(
        String(20), unique=True, default=new_certificate_code
    )
    # "platform", or "external" for training done elsewhere, added by an approved request.
    source: Mapped[str] = mapped_column(String(20), default="platform")
    # Set by the queries that load it (an approved revocation is a separate event).
    is_revoked = False

    user: Mapped[User] = relationship()
    course: Mapped[Course] = relationship()

    __table_args__ = (
        UniqueConstraint("user_id", "course_id", "cycle"),
        # The records export streams in this order.
        Index("ix_completion_completed_at", "completed_at", "id"),
    )


class AuditEvent(db.Model):
    """One entry of the tamper-evident audit trail (see lms/audit.py)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))

    actor: Mapped[User | None] = relationship()


class GroupMember(db.Model):
    group_id: Mapped[int] = mapped_column(ForeignKey("group.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)


class Group(db.Model):
    """People trained together: named by hand, or by a rule on job role, level and branch.

    A rule group's members are computed from the people's current post, so they follow every
    change of job role, level or branch without anyone editing the group.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    rule_job_role: Mapped[str | None] = mapped_column(String(40))
    rule_level: Mapped[str | None] = mapped_column(String(40))
    rule_branch: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    manual_members: Mapped[list[User]] = relationship(secondary="group_member")

    @property
    def is_rule(self) -> bool:
        return any((self.rule_job_role, self.rule_level, self.rule_branch))

    def rule_conditions(self) -> list:
        """SQL conditions on User that a rule group's members meet."""
        pairs = (
            (User.job_role, self.rule_job_role),
            (User.level, self.rule_level),
            (User.branch, self.rule_branch),
        )
        return [column == value for column, value in pairs if value]

    def members(self):
        """A select() of the group's active members, for the view to page or count."""
        query = select(User).where(User.is_active)
        if self.is_rule:
            return query.where(*self.rule_conditions())
        return query.join(GroupMember, GroupMember.user_id == User.id).where(
            GroupMember.group_id == self.id
        )


class Assignment(db.Model):
    """A track or course assigned to a group or a person, with its due date and validity."""

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("group.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    track_id: Mapped[int | None] = mapped_column(ForeignKey("track.id"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("course.id"))
    is_mandatory: Mapped[bool] = mapped_column(default=True)
    due_date: Mapped[date | None] = mapped_column(Date)
    # Or due N days after the person's hire date ("hire") or after the assignment ("assignment").
    due_days: Mapped[int | None] = mapped_column()
    due_from: Mapped[str] = mapped_column(String(20), default="assignment")
    # Recertification: a completion is valid this many months; reassigned `window_days` before.
    valid_months: Mapped[int | None] = mapped_column()
    # Or valid until this calendar date each year, "MM-DD".
    renew_on: Mapped[str | None] = mapped_column(String(5))
    window_days: Mapped[int] = mapped_column(default=30)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    group: Mapped[Group | None] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    track: Mapped[Track | None] = relationship()
    course: Mapped[Course | None] = relationship()


class RecordRequest(db.Model):
    """HR's request to add a record of training done elsewhere, or to revoke a record.

    Records are never edited: a request is a new event, and it counts only once a second HR
    user approves it.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "external" or "revoke"
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    completion_id: Mapped[int | None] = mapped_column(ForeignKey("completion.id"), index=True)
    completed_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    requested_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    course: Mapped[Course] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class Reminder(db.Model):
    """A due-soon or overdue reminder, made once per person, course, kind and due date."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    kind: Mapped[str] = mapped_column(String(20))  # "due_soon" or "overdue"
    due: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    emailed_at: Mapped[datetime | None] = mapped_column(DateTime)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()
    course: Mapped[Course] = relationship()

    __table_args__ = (UniqueConstraint("user_id", "course_id", "kind", "due"),)
