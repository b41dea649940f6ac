"""Drafts, four-eyes review and publishing of course versions. The caller commits."""

from __future__ import annotations

from sqlalchemy import select

from . import audit
from .content import ContentError, CourseSpec, publish, read_course_files
from .extensions import db
from .models import Course, CourseDraft, CourseVersion, DraftStatus, Setting, User, utcnow

SELF_PUBLISH = "allow_self_publish"


class ReviewError(Exception):
    """A review step this person may not take now."""


def latest_version(course: Course) -> CourseVersion | None:
    query = (
        select(CourseVersion)
        .where(CourseVersion.course_id == course.id)
        .order_by(CourseVersion.number.desc())
        .limit(1)
    )
    return db.session.scalar(query)


def draft_of(course: Course) -> CourseDraft | None:
    return db.session.scalar(select(CourseDraft).where(CourseDraft.course_id == course.id))


def open_draft(course: Course, author: User) -> CourseDraft:
    """The course's draft, started from its latest version when there is none."""
    draft = draft_of(course)
    if draft is None:
        version = latest_version(course)
        draft = CourseDraft(
            course=course,
            author_id=author.id,
            base_version=course.version,
            files=dict(version.files) if version else {},
        )
        db.session.add(draft)
    return draft


def validate(draft: CourseDraft) -> CourseSpec:
    """The draft as a course, or ContentError naming every problem by file and line."""
    spec = read_course_files(draft.course.slug, draft.files)
    known = set(db.session.scalars(select(Course.slug).where(Course.is_active)))
    unknown = [s for s in spec.requires if s not in known or s == draft.course.slug]
    if unknown:
        raise ContentError([f"course.toml:1: requires unknown course {s!r}" for s in unknown])
    return spec


def submit(draft: CourseDraft, note: str, is_material: bool) -> None:
    """Send a valid draft to review with its change note."""
    if draft.status != DraftStatus.EDITING:
        raise ReviewError("the draft is already waiting for review")
    validate(draft)
    draft.note, draft.is_material = note.strip(), is_material
    draft.status, draft.review_comment = DraftStatus.IN_REVIEW, ""


def can_approve(draft: CourseDraft, reviewer: User) -> bool:
    """A second trainer of the course approves; the author only where self-publishing is on."""
    return (
        draft.status == DraftStatus.IN_REVIEW
        and draft.course.can_edit(reviewer)
        and (reviewer.id != draft.author_id or Setting.is_on(SELF_PUBLISH))
    )


def approve(draft: CourseDraft, reviewer: User) -> CourseVersion:
    """Publish the draft as the course's next version."""
    if not can_approve(draft, reviewer):
        raise ReviewError("a second trainer of this course must approve the draft")
    course = draft.course
    spec = validate(draft)
    course.requires = list(db.session.scalars(select(Course).where(Course.slug.in_(spec.requires))))
    version = publish(
        course,
        spec,
        note=draft.note,
        is_material=draft.is_material,
        author_id=draft.author_id,
        approved_by_id=reviewer.id,
    )
    course.is_active = True
    if draft.is_material:
        course.recertify_from = version.number
    audit.record(
        reviewer,
        "publish",
        f"course:{course.slug}",
        {"version": version.number, "note": draft.note, "material": draft.is_material},
        version.created_at or utcnow(),
    )
    db.session.delete(draft)
    return version


def reject(draft: CourseDraft, reviewer: User, comment: str) -> None:
    """Send the draft back to its author with the reviewer's comment."""
    if draft.status != DraftStatus.IN_REVIEW or not draft.course.can_edit(reviewer):
        raise ReviewError("only a trainer of this course can send a draft back")
    draft.status, draft.review_comment = DraftStatus.EDITING, comment.strip()
