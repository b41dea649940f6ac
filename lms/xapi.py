"""xAPI 1.0.3 statements of attempts and completions: JSON-ready dicts for a Learning Record Store.

Pure functions over model objects already loaded: no database access, no Flask. Statement ids
are derived from the record they describe, so exporting the same records again sends the same
ids and an LRS keeps one copy of each.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from .models import Attempt, Completion, Course, Item, User

VERSION = "1.0.3"
ADL_VERB = "http://adlnet.gov/expapi/verbs/"
ADL_ACTIVITY = "http://adlnet.gov/expapi/activities/"
VERBS = ("attempted", "completed", "passed", "failed")
# RFC 5646 tags for the app's two languages, as xAPI language maps require.
LANGUAGE_TAGS = {"zh": "zh-CN", "en": "en-US"}

Statement = dict[str, Any]


def _base(base_url: str) -> str:
    return base_url.rstrip("/")


def _language_map(zh: str, en: str) -> dict[str, str]:
    # An empty translation is left out rather than sent as a blank name.
    names = {LANGUAGE_TAGS["zh"]: zh, LANGUAGE_TAGS["en"]: en}
    return {tag: text for tag, text in names.items() if text}


def timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z`; the app stores naive datetimes that are UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


def duration(elapsed: timedelta) -> str:
    """An ISO 8601 duration such as PT12M30S, to the hundredth of a second xAPI keeps."""
    hundredths = max(0, round(elapsed.total_seconds() * 100))
    hours, hundredths = divmod(hundredths, 360_000)
    minutes, hundredths = divmod(hundredths, 6_000)
    text = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if hundredths or not text:
        text += f"{hundredths / 100:.2f}".rstrip("0").rstrip(".") + "S"
    return "PT" + text


def statement_id(base_url: str, name: str) -> str:
    """A UUID fixed by the site and the record, e.g. name = "attempt:12:passed"."""
    # The namespace is the site, so two sites reporting to one LRS cannot collide on row ids.
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"{_base(base_url)}/xapi")
    return str(uuid.uuid5(namespace, name))


def actor(user: User, homepage: str, include_email: bool = False) -> dict[str, Any]:
    """The learner as an Agent identified by their account, not their email address."""
    # Privacy: the bank's account id (employee number, else username) identifies the learner
    # without sending an address to a third-party LRS. xAPI allows one identifier per Agent, so
    # an email, when asked for and known, replaces the account instead of joining it.
    agent: dict[str, Any] = {"objectType": "Agent", "name": user.name}
    if include_email and user.email:
        agent["mbox"] = f"mailto:{user.email}"
    else:
        agent["account"] = {"homePage": homepage, "name": user.employee_no or user.username}
    return agent


def verb(name: str) -> dict[str, Any]:
    """An ADL verb: attempted, completed, passed or failed."""
    if name not in VERBS:
        raise ValueError(f"not an ADL verb this app sends: {name!r}")
    return {"id": ADL_VERB + name, "display": {"en-US": name}}


def course_activity(course: Course, base_url: str) -> dict[str, Any]:
    """The course as an xAPI Activity, identified by its slug."""
    return {
        "objectType": "Activity",
        "id": f"{_base(base_url)}/courses/{course.slug}",
        "definition": {
            "name": _language_map(course.title_zh, course.title_en),
            "type": ADL_ACTIVITY + "course",
        },
    }


def item_activity(item: Item, base_url: str) -> dict[str, Any]:
    """A quiz as an xAPI assessment Activity."""
    return {
        "objectType": "Activity",
        "id": f"{_base(base_url)}/items/{item.id}",
        "definition": {
            "name": _language_map(item.title_zh, item.title_en),
            "type": ADL_ACTIVITY + "assessment",
        },
    }


def extension(base_url: str, name: str) -> str:
    """The IRI of one of this app's context extensions."""
    return f"{_base(base_url)}/xapi/extensions/{name}"


def _context(base_url: str, parent: Course | None = None, **extensions: Any) -> dict[str, Any]:
    """Extensions named like course_version become IRIs like …/xapi/extensions/course-version."""
    context: dict[str, Any] = {
        "extensions": {extension(base_url, k.replace("_", "-")): v for k, v in extensions.items()}
    }
    if parent is not None:
        context["contextActivities"] = {"parent": [course_activity(parent, base_url)]}
    return context


def score(
    percent: float | None, points: float | None = None, out_of: float | None = None
) -> dict[str, float]:
    """An xAPI score: scaled always, raw/min/max only where the spec's bounds allow them."""
    result: dict[str, float] = {}
    if percent is not None:
        result["scaled"] = round(min(1.0, max(-1.0, percent / 100)), 4)
    # max must exceed min, and raw lie between them.
    if out_of and out_of > 0:
        result.update(min=0, max=out_of)
        if points is not None and 0 <= points <= out_of:
            result["raw"] = points
    return result


def _statement(
    record: str, verb_name: str, agent: dict, activity: dict, at: datetime, base_url: str
) -> Statement:
    """A statement id'd by its record ("attempt:12") and verb, so re-exports repeat the id."""
    return {
        "id": statement_id(base_url, f"{record}:{verb_name}"),
        "version": VERSION,
        "actor": agent,
        "verb": verb(verb_name),
        "object": activity,
        "timestamp": timestamp(at),
    }


def _attempt_context(attempt: Attempt, course: Course, base_url: str) -> dict[str, Any]:
    """The course as parent, the language the quiz was taken in, and where the attempt falls."""
    context = _context(
        base_url,
        course,
        course_version=attempt.course_version,
        cycle=attempt.cycle,
        attempt_number=attempt.number,
    )
    context["language"] = LANGUAGE_TAGS.get(attempt.language, attempt.language)
    return context


def attempt_statements(
    attempt: Attempt,
    user: User,
    item: Item,
    course: Course,
    base_url: str,
    include_email: bool = False,
) -> list[Statement]:
    """`attempted` when started; `passed` or `failed` once finished and fully graded."""
    record, agent = f"attempt:{attempt.id}", actor(user, _base(base_url), include_email)
    activity = item_activity(item, base_url)
    started = _statement(record, "attempted", agent, activity, attempt.started_at, base_url)
    statements = [started | {"context": _attempt_context(attempt, course, base_url)}]
    # An essay awaiting its grader has no outcome yet: it is sent once graded, under its own id.
    if attempt.is_open or attempt.needs_grading or attempt.finished_at is None:
        return statements
    outcome = "passed" if attempt.is_passed else "failed"
    finished = _statement(record, outcome, agent, activity, attempt.finished_at, base_url)
    finished["result"] = {
        "score": score(attempt.percent, attempt.points, attempt.out_of),
        "success": bool(attempt.is_passed),
        "completion": True,
        "duration": duration(attempt.finished_at - attempt.started_at),
    }
    statements.append(finished | {"context": _attempt_context(attempt, course, base_url)})
    return statements


def completion_statement(
    completion: Completion,
    user: User,
    course: Course,
    base_url: str,
    include_email: bool = False,
) -> Statement:
    """`completed` for a course, naming the course version and cycle it was earned on."""
    agent = actor(user, _base(base_url), include_email)
    activity = course_activity(course, base_url)
    statement = _statement(
        f"completion:{completion.id}",
        "completed",
        agent,
        activity,
        completion.completed_at,
        base_url,
    )
    statement["result"] = {"completion": True}
    if completion.percent is not None:
        statement["result"]["score"] = score(completion.percent)
    statement["context"] = _context(
        base_url, course_version=completion.course_version, cycle=completion.cycle
    )
    return statement
