"""Records HR can trust: external records and revocations as requests a second HR user approves,
the explanation of a person's standing, and the evidence pack for an audit. The caller commits.
"""

from __future__ import annotations

import functools
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, or_, select, tuple_
from sqlalchemy.orm import selectinload

from . import audit, paging, requirements
from .extensions import db
from .models import (
    Assignment,
    Attempt,
    AuditEvent,
    Completion,
    Course,
    CourseVersion,
    Item,
    ItemProgress,
    RecordRequest,
    User,
)


class RecordError(Exception):
    """A request or decision this person may not make."""


def request_external(
    user: User, course: Course, completed_on: date, note: str, requester: User, now: datetime
) -> RecordRequest:
    """Ask to record training done elsewhere; it counts once a second HR user approves."""
    if completed_on > now.date():
        raise RecordError("the training cannot be completed in the future")
    return _request("external", user, course, None, completed_on, note, requester, now)


def request_revoke(completion: Completion, note: str, requester: User, now: datetime):
    """Ask to revoke a record; the record stays, marked revoked once approved."""
    pending = db.session.scalar(
        select(RecordRequest.id).where(
            RecordRequest.completion_id == completion.id, RecordRequest.status == "pending"
        )
    )
    if pending:
        raise RecordError("a request on this record is already waiting")
    return _request(
        "revoke", completion.user, completion.course, completion.id, None, note, requester, now
    )


def _request(kind, user, course, completion_id, completed_on, note, requester, now):
    if not note.strip():
        raise RecordError("say why: the evidence or the reason is part of the record")
    request = RecordRequest(
        kind=kind,
        user_id=user.id,
        course_id=course.id,
        completion_id=completion_id,
        completed_on=completed_on,
        note=note.strip(),
        requested_by_id=requester.id,
        requested_at=now,
    )
    db.session.add(request)
    db.session.flush()
    audit.record(requester, f"request_{kind}", f"request:{request.id}", _details(request), now)
    return request


def _details(request: RecordRequest) -> dict[str, Any]:
    return {
        "user": request.user_id,
        "course": request.course_id,
        "completion": request.completion_id,
        "completed_on": request.completed_on.isoformat() if request.completed_on else None,
        "note": request.note,
    }


def decide(request: RecordRequest, approver: User, is_approved: bool, now: datetime) -> None:
    """A second HR user approves or rejects; an approved external record becomes a completion."""
    if request.status != "pending":
        raise RecordError("this request was decided already")
    if approver.id == request.requested_by_id:
        raise RecordError("a second HR user must decide a request")
    request.status = "approved" if is_approved else "rejected"
    request.decided_by_id, request.decided_at = approver.id, now
    if is_approved and request.kind == "external":
        _record_external(request)
    audit.record(
        approver,
        f"{request.status}_{request.kind}",
        f"request:{request.id}",
        _details(request),
        now,
    )


def _record_external(request: RecordRequest) -> None:
    previous = db.session.scalar(
        select(Completion.cycle)
        .where(Completion.user_id == request.user_id, Completion.course_id == request.course_id)
        .order_by(Completion.cycle.desc())
        .limit(1)
    )
    db.session.add(
        Completion(
            user_id=request.user_id,
            course_id=request.course_id,
            cycle=(previous or 0) + 1,
            completed_at=datetime.combine(request.completed_on, datetime.min.time()),
            course_version=request.course.version,
            source="external",
        )
    )


def pending_requests() -> list[RecordRequest]:
    query = (
        select(RecordRequest)
        .where(RecordRequest.status == "pending")
        .options(
            selectinload(RecordRequest.user),
            selectinload(RecordRequest.course),
            selectinload(RecordRequest.requested_by),
        )
        .order_by(RecordRequest.requested_at)
    )
    return list(db.session.scalars(query))


def evidence_pack(user: User, today: date) -> bytes:
    """Everything the platform knows of a person's training, as one zip of JSON files."""
    files = {
        "person.json": _person(user),
        "standing.json": _standing(user, today),
        "assignments.json": _rows(
            select(Assignment).where(Assignment.user_id == user.id), _assignment
        ),
        "completions.json": _rows(
            select(Completion).where(Completion.user_id == user.id).order_by(Completion.id),
            _completion,
        ),
        "requests.json": _rows(
            select(RecordRequest).where(RecordRequest.user_id == user.id), _details
        ),
        "attempts.json": _rows(
            select(Attempt)
            .where(Attempt.user_id == user.id)
            .options(selectinload(Attempt.answers))
            .order_by(Attempt.id),
            _attempt,
        ),
        "progress.json": _rows(
            select(ItemProgress).where(ItemProgress.user_id == user.id).order_by(ItemProgress.id),
            _progress,
        ),
        "versions-seen.json": _versions_seen(user),
        "audit.json": _rows(
            select(AuditEvent)
            .where(
                or_(
                    AuditEvent.subject == f"user:{user.id}",
                    AuditEvent.details["user"].as_integer() == user.id,
                )
            )
            .order_by(AuditEvent.id),
            _audit,
        ),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, json.dumps(data, ensure_ascii=False, indent=2, default=str))
    return buffer.getvalue()


def _rows(query, shape) -> list[dict[str, Any]]:
    return [shape(row) for row in db.session.scalars(query)]


def _fields(row: Any, *names: str) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


def _person(user: User) -> dict[str, Any]:
    return _fields(
        user,
        "id",
        "username",
        "name",
        "email",
        "employee_no",
        "branch",
        "department",
        "job_role",
        "level",
        "hire_date",
        "is_active",
    )


def _standing(user: User, today: date) -> list[dict[str, Any]]:
    cat = requirements.catalogue()
    row = requirements.rows_for([user], cat, today)[0]
    return [
        {"course": cat.courses[c].slug, "status": s.status, "due": s.due, "expires": s.expires}
        for c, s in row.cells.items()
    ]


def _assignment(a: Assignment) -> dict[str, Any]:
    return _fields(
        a,
        "id",
        "group_id",
        "track_id",
        "course_id",
        "is_mandatory",
        "due_date",
        "due_days",
        "due_from",
        "valid_months",
        "renew_on",
        "is_active",
        "created_at",
    )


def _completion(c: Completion) -> dict[str, Any]:
    return _fields(
        c,
        "id",
        "course_id",
        "cycle",
        "completed_at",
        "percent",
        "course_version",
        "source",
        "certificate_code",
    )


def _attempt(a: Attempt) -> dict[str, Any]:
    return _fields(
        a,
        "id",
        "item_id",
        "number",
        "cycle",
        "state",
        "course_version",
        "started_at",
        "finished_at",
        "percent",
        "is_passed",
    ) | {
        "answers": [
            {"question": x.snapshot["name"], "response": x.response, "fraction": x.fraction}
            for x in a.answers
        ],
    }


def _progress(p: ItemProgress) -> dict[str, Any]:
    return _fields(p, "item_id", "course_id", "cycle", "done_at", "signed_off_by_id", "note")


def _versions_seen(user: User) -> list[dict[str, Any]]:
    """The course versions the person's attempts were taken on, with their publication dates."""
    seen = db.session.execute(
        select(Item.course_id, Attempt.course_version)
        .join(Item, Item.id == Attempt.item_id)
        .where(Attempt.user_id == user.id)
        .distinct()
    ).all()
    published = {
        (v.course_id, v.number): v.created_at
        for v in db.session.scalars(
            select(CourseVersion).where(CourseVersion.course_id.in_({c for c, _n in seen}))
        )
    }
    return [{"course_id": c, "version": n, "published_at": published.get((c, n))} for c, n in seen]


def _audit(e: AuditEvent) -> dict[str, Any]:
    return _fields(e, "id", "at", "actor_id", "action", "subject", "details", "prev_hash", "hash")


def revoked_ids(user_id: int) -> set[int]:
    """The person's completion records that an approved revocation voids."""
    query = select(RecordRequest.completion_id).where(
        RecordRequest.user_id == user_id,
        RecordRequest.kind == "revoke",
        RecordRequest.status == "approved",
    )
    return set(db.session.scalars(query))


@dataclass(frozen=True)
class RecordsPage:
    """Completion records, newest first, with the ids to page from: `newer` is the first one
    shown (the page before starts after it), `older` the last (the page after starts there);
    None at either end."""

    items: list[Completion]
    newer: int | None
    older: int | None


def records_page(size: int, older: int | None = None, newer: int | None = None) -> RecordsPage:
    """The page of `size` records just older, or just newer, than the record with that id, or
    the newest ones.

    A page is sought through the (completed_at, id) index from its neighbour's key, so the
    last of 500,000 records costs what the first does (paging.seek). An id that names no record
    gives the newest page."""
    ids, newer, older = paging.seek(_ids, _same, size, older, newer)
    rows = db.session.scalars(
        select(Completion)
        .where(Completion.id.in_(ids))
        .options(selectinload(Completion.user), selectinload(Completion.course))
        .order_by(*_NEWEST_FIRST)
    ).all()
    return RecordsPage(list(rows), newer, older)


def _ids(towards_newer: bool, anchor: int | None, limit: int) -> list[int]:
    if anchor is None:
        return db.session.scalars(_newest(), {"limit": limit}).all()
    return db.session.scalars(_seek(towards_newer), {"limit": limit, "anchor": anchor}).all()


def _same(record_id: int) -> int:
    return record_id


_NEWEST_FIRST = (Completion.completed_at.desc(), Completion.id.desc())


@functools.cache
def _newest():
    return select(Completion.id).order_by(*_NEWEST_FIRST).limit(bindparam("limit"))


@functools.cache
def _seek(towards_newer: bool):
    anchor = bindparam("anchor")
    at = select(Completion.completed_at).where(Completion.id == anchor).scalar_subquery()
    key, mark = tuple_(Completion.completed_at, Completion.id), tuple_(at, anchor)
    query = select(Completion.id).limit(bindparam("limit"))
    if towards_newer:
        return query.where(key > mark).order_by(Completion.completed_at, Completion.id)
    return query.where(key < mark).order_by(*_NEWEST_FIRST)
