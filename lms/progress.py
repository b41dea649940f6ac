"""A learner's progress: what is assigned, what is done, and the operations that record it.

Reads are plain functions returning values; writes are small named operations. None commits:
the view does, once.
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from flask_babel import get_locale, gettext
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import (
    and_,
    bindparam,
    func,
    insert,
    literal_column,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from . import audit, cache, reminders, requirements
from . import completion as rules
from .compliance import Standing, Status
from .extensions import db
from .gift import Question, question_from_dict
from .grading import correct_response, feedback_for, grade
from .models import (
    Attempt,
    AttemptAnswer,
    AttemptState,
    Completion,
    Course,
    Item,
    ItemProgress,
    Track,
    User,
    utcnow,
)
from .requirements import Record
from .statistics import AttemptRow


@dataclass(frozen=True)
class CourseState:
    done: int
    total: int
    is_locked: bool
    cycle: int
    completion: Record | None

    @property
    def percent(self) -> int:
        return 100 if self.completion else rules.progress_percent(self.done, self.total)


@dataclass(frozen=True)
class TrackState:
    done: int
    total: int

    @property
    def percent(self) -> int:
        return rules.progress_percent(self.done, self.total)


def track_states(tracks: list[Track], states: dict[int, CourseState]) -> dict[int, TrackState]:
    """Courses complete out of the active courses of each track."""
    result = {}
    for track in tracks:
        courses = [states[c.id] for c in track.courses if c.id in states]
        result[track.id] = TrackState(sum(s.completion is not None for s in courses), len(courses))
    return result


@dataclass(frozen=True)
class Notice:
    """An unread reminder, as the dashboard shows it."""

    course: Course
    kind: str
    due: date


@dataclass(frozen=True)
class Plan:
    """A learner's training: the tracks to show, the courses required of them, and where they
    stand on each."""

    tracks: list[Track]
    course_ids: set[int]
    standings: dict[int, Standing]
    completions: dict[int, Record]
    # The course of every active required item.
    required: dict[int, int]
    # (course, cycle, item) of every active item the learner has done, required or not.
    finished: set[tuple[int, int, int]]
    # Per quiz: attempts finished and the best percent.
    quizzes: dict[int, tuple[int, float | None]]
    # Course ids each course needs first (requirements.Catalogue.needs).
    needs: dict[int, set[int]]
    # Unread reminders of active courses.
    notices: list[Notice]


def learner_plan(user: User, today: date) -> Plan:
    """Courses from the job role's tracks and assignments, with the tracks they require first.

    Kept per process under the person's and the site's stamps (lms/cache.py).
    """
    compute = lambda: _learner_plan(user, today)  # noqa: E731
    return cache.cached("plan", _plan_key(user, today), compute, person=user.id)


def _plan_key(user: User, today: date) -> tuple:
    return (user.id, user.stamp, cache.site_stamp(), today)


def plan_part(name: str, *key: Hashable, caller: Callable[[], str]) -> Markup:
    """A part of a learner's page that shows only their plan, in their language: rendered once
    and kept under the plan's stamps, as Rails keeps a fragment under its record's updated_at.

        {% call plan_part("course", course.id) %}...{% endcall %}

    No form may be inside: a CSRF token belongs to one session, not to the plan.
    """
    user = current_user._get_current_object()
    kept = (*_plan_key(user, utcnow().date()), str(get_locale()), *key)
    render = lambda: Markup(caller())  # noqa: E731
    return cache.cached(f"part:{name}", kept, render, size=1024, person=user.id)


def _learner_plan(user: User, today: date) -> Plan:
    cat = requirements.catalogue()
    latest = requirements.latest_completions([user.id])
    rows = db.session.execute(_items_done_query(), {"user": user.id}).all()
    required = {item_id: course_id for item_id, course_id, is_required, _ in rows if is_required}
    finished = {(course_id, cycle, item_id) for item_id, course_id, _, cycle in rows if cycle}
    begun = {(user.id, course_id) for course_id, _, item_id in finished if item_id in required}
    standings = requirements.standings([user], cat, today, latest, begun)[user.id]
    tracks, course_ids = _scope(cat, standings)
    completions = {course_id: record for (_user, course_id), record in latest.items()}
    notices = [
        Notice(cat.courses[course_id], kind, due)
        for course_id, kind, due in reminders.unread(user)
        if course_id in cat.courses
    ]
    return Plan(
        tracks,
        course_ids,
        standings,
        completions,
        required,
        finished,
        quiz_summaries(user.id),
        cat.needs,
        notices,
    )


def _scope(
    cat: requirements.Catalogue, standings: dict[int, Standing]
) -> tuple[list[Track], set[int]]:
    """The tracks to show and the courses that are the learner's: those required of them, and
    those of the tracks their tracks require first."""
    course_ids = set(standings)
    assigned = sorted(
        {cat.courses[c].track_id for c in course_ids},
        key=lambda t: (cat.tracks[t].position, t),
    )
    requires = {t.id: [r.id for r in t.requires] for t in cat.tracks.values()}
    track_ids = [t for t in rules.with_prerequisites(assigned, requires) if t in cat.tracks]
    for track_id in track_ids:
        if track_id not in assigned:
            course_ids.update(cat.courses_of(track_id))
    return [cat.tracks[t] for t in track_ids], course_ids


@functools.cache
def _items_done_query():
    """One query for both the active items and what the learner has done of them; built once,
    as building it costs more than running it."""
    mine = and_(ItemProgress.item_id == Item.id, ItemProgress.user_id == bindparam("user"))
    return (
        select(Item.id, Item.course_id, Item.is_required, ItemProgress.cycle)
        .outerjoin(ItemProgress, mine)
        .where(Item.is_active)
    )


def transcript(user_id: int) -> list[Completion]:
    """Every completion record of a person, newest first, superseded ones included."""
    query = (
        select(Completion)
        .where(Completion.user_id == user_id)
        .options(selectinload(Completion.course))
        .order_by(Completion.completed_at.desc(), Completion.id.desc())
    )
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class CourseCycle:
    """The cycle a learner works in, and the completion that counts (None until earned)."""

    cycle: int
    completion: Record | None


def _cycle(course: Course, latest: Record | None, standing: Standing | None) -> CourseCycle:
    stands = requirements.stands(course, latest) and (
        standing is None or standing.status != Status.EXPIRED
    )
    renewing = standing is not None and standing.status == Status.RENEWAL_DUE
    cycle, counts = rules.current_cycle(latest and latest.cycle, stands, renewing)
    return CourseCycle(cycle, latest if counts else None)


def course_cycle(user: User, course: Course) -> CourseCycle:
    """The learner's cycle in one course, from their latest record and their requirement.

    Only a completion moves the cycle, and a request asks for the cycle before it writes one:
    a plan kept from before the request's other writes still tells it. Without one, the
    latest records are read (a plan would cost four queries).
    """
    today = utcnow().date()
    plan = cache.kept("plan", _plan_key(user, today))
    if plan is not None:
        return _cycle(course, plan.completions.get(course.id), plan.standings.get(course.id))
    latest = requirements.latest_completions([user.id])
    table = requirements.standings([user], requirements.catalogue(), today, latest, set())
    return _cycle(course, latest.get((user.id, course.id)), table[user.id].get(course.id))


def course_states(plan: Plan) -> dict[int, CourseState]:
    """Progress in every course of the plan, from the plan alone."""
    totals = Counter(plan.required.values())
    done = Counter((c, cycle) for c, cycle, item in plan.finished if item in plan.required)
    courses, cycles, completed = _cycles(
        plan.tracks, plan.course_ids, plan.completions, plan.standings
    )
    return {
        c.id: CourseState(
            done=done.get((c.id, cycles[c.id].cycle), 0),
            total=totals.get(c.id, 0),
            is_locked=rules.is_locked(plan.needs.get(c.id, set()), completed),
            cycle=cycles[c.id].cycle,
            completion=cycles[c.id].completion,
        )
        for c in courses
    }


def _cycles(
    tracks: list[Track],
    course_ids: set[int],
    latest: dict[int, Record],
    standings: dict[int, Standing],
) -> tuple[list[Course], dict[int, CourseCycle], set[int]]:
    """The learner's courses in outline order, their cycle in each, and the courses that count
    as completed (a course needs these first)."""
    courses = [c for t in tracks for c in t.courses if c.id in course_ids]
    cycles = {c.id: _cycle(c, latest.get(c.id), standings.get(c.id)) for c in courses}
    completed = {course_id for course_id, cc in cycles.items() if cc.completion}
    completed |= {course_id for course_id in latest if course_id not in cycles}
    return courses, cycles, completed


@dataclass(frozen=True)
class Access:
    """What a write to a course needs to know of the learner: whether they must complete other
    courses first, and their cycle in it."""

    is_locked: bool
    cycle: int


def course_access(user: User, course: Course) -> Access | None:
    """The learner's access to one of their courses (None: not theirs), as course_states tells
    it, without working out the whole plan when none is kept.

    A write that asks this changes the learner's records, which leaves a plan worked out now
    stale at once. Neither the items done nor the reminders decide access: whether a record
    counts and the cycle rest on the records and the rules (see course_cycle).
    """
    today = utcnow().date()
    plan = cache.kept("plan", _plan_key(user, today))
    if plan is not None:
        state = course_states(plan).get(course.id)
        return state and Access(state.is_locked, state.cycle)
    cat = requirements.catalogue()
    latest = requirements.latest_completions([user.id])
    standings = requirements.standings([user], cat, today, latest, set())[user.id]
    tracks, course_ids = _scope(cat, standings)
    if course.id not in course_ids:
        return None
    completions = {course_id: record for (_user, course_id), record in latest.items()}
    _courses, cycles, completed = _cycles(tracks, course_ids, completions, standings)
    is_locked = rules.is_locked(cat.needs.get(course.id, set()), completed)
    return Access(is_locked, cycles[course.id].cycle)


class CycleWork(NamedTuple):
    """What a learner has done in one cycle of a course: each quiz's graded percents, in the
    order they were taken, and the items done."""

    cycle: int
    percents: dict[int, list[float]]
    done: set[int]


def mark_done(
    user: User,
    item: Item,
    now: datetime,
    signed_off_by: User | None = None,
    note: str = "",
    version: int | None = None,
    work: CycleWork | None = None,
):
    """Record an item as done once per cycle; then the course's completion if that finished it.

    `version` is the course version the work was done on (an attempt keeps the one it began on).
    `work`: the cycle's work (cycle_work), if already read.
    """
    current = course_cycle(user, item.course)
    # The attempt's cycle is the one worked out now but for a completion in between.
    if work is None or work.cycle != current.cycle:
        work = cycle_work(user.id, item.course_id, current.cycle)
    if item.id in work.done:
        return
    db.session.add(
        ItemProgress(
            user_id=user.id,
            item_id=item.id,
            course_id=item.course_id,
            cycle=work.cycle,
            done_at=now,
            signed_off_by_id=signed_off_by.id if signed_off_by else None,
            note=note,
        )
    )
    if signed_off_by:
        audit.record(signed_off_by, "sign_off", f"item:{item.id}", {"user": user.id}, now)
    db.session.flush()
    # The cycle is the latest record's only while that record counts (rules.current_cycle).
    if current.completion is not None and current.completion.cycle == work.cycle:
        return
    version = version or item.course.version
    record_completion(user, item.course, now, version, work._replace(done=work.done | {item.id}))


def record_completion(user: User, course: Course, now: datetime, version: int, work: CycleWork):
    """Write the cycle's completion record, which it has not got yet, when every required item
    is done (`work`: the cycle's, as cycle_work reads it, with the item just done)."""
    required = _required_items(course.id)
    if not required or not rules.is_complete(required, work.done):
        return None
    grades = [rules.quiz_grade(required[i], p) for i, p in work.percents.items() if i in required]
    record = Completion(
        user_id=user.id,
        course_id=course.id,
        cycle=work.cycle,
        completed_at=now,
        percent=rules.course_percent(grades),
        course_version=version,
    )
    db.session.add(record)
    return record


def _required_items(course_id: int) -> dict[int, str]:
    """The active required items of a course, with their grading method: from the catalogue
    when the course is active, as it is whenever a learner can work on it."""
    cat = requirements.catalogue()
    if course_id in cat.courses:
        items = cat.items.values()
        return {i.id: i.grading for i in items if i.course_id == course_id and i.is_required}
    rows = db.session.execute(
        select(Item.id, Item.grading).where(
            Item.course_id == course_id, Item.is_active, Item.is_required
        )
    )
    return dict(rows.all())


# Quizzes ----------------------------------------------------------------------------------------


class AttemptLimitReached(Exception):
    """No attempt is left on this quiz."""


def attempts_of(user: User, item: Item, cycle: int) -> list[Attempt]:
    """The learner's attempts at a quiz in one cycle of its course (see course_cycle)."""
    params = {"user": user.id, "item": item.id, "cycle": cycle}
    return list(db.session.scalars(_attempts_query(), params))


@functools.cache
def _attempts_query():
    return (
        select(Attempt)
        .where(
            Attempt.user_id == bindparam("user"),
            Attempt.item_id == bindparam("item"),
            Attempt.cycle == bindparam("cycle"),
        )
        .order_by(Attempt.number)
    )


def start_attempt(user: User, item: Item, cycle: int, language: str, now: datetime) -> Attempt:
    """Open the next attempt in the learner's cycle of the course, freezing the questions as
    they are now.

    Two starts at the same moment meet the unique keys on (user, quiz, number) and on the one
    open attempt: the loser's flush raises IntegrityError, and the view shows the winner's.
    """
    # Every cycle's: numbers run on across cycles, so the unique (user, quiz, number) key
    # still guards them; the limit counts this cycle's.
    every = db.session.scalars(_every_attempt_query(), {"user": user.id, "item": item.id}).all()
    attempts = [a for a in every if a.cycle == cycle]
    open_attempt = next((a for a in attempts if a.is_open), None)
    if open_attempt:
        return open_attempt
    if not rules.can_start_attempt(item.max_attempts, len(attempts)):
        raise AttemptLimitReached
    attempt = Attempt(
        user_id=user.id,
        item_id=item.id,
        number=max((a.number for a in every), default=0) + 1,
        cycle=cycle,
        language=language,
        course_version=item.course.version,
        started_at=now,
        deadline_at=rules.deadline(now, item.time_limit),
    )
    db.session.add(attempt)
    db.session.flush()
    answers = []
    for position, question in enumerate(_drawn(item)):
        data = question.data.get(language) or question.data["zh"]
        order = _display_order(data, item.is_shuffled)
        answers.append(
            {
                "attempt_id": attempt.id,
                "position": position,
                "question_id": question.id,
                "snapshot": data,
                "order": order,
            }
        )
    # One executemany: as objects, SQLite would insert them one statement each, to read back
    # their ids in order.
    if answers:
        db.session.execute(insert(AttemptAnswer), answers)
    return attempt


@functools.cache
def _every_attempt_query():
    return (
        select(Attempt)
        .where(Attempt.user_id == bindparam("user"), Attempt.item_id == bindparam("item"))
        .order_by(Attempt.number)
    )


def _drawn(item: Item) -> list:
    """The questions of a new attempt: all, or a random draw from a category."""
    questions = [q for q in item.questions if q.category.startswith(item.draw_category)]
    if item.draw:
        return random.sample(questions, min(item.draw, len(questions)))
    if item.is_shuffled:
        random.shuffle(questions)
    return questions


def _display_order(data: dict[str, Any], is_shuffled: bool) -> list[int]:
    size = len(data.get("pairs") or data.get("choices") or [])
    order = list(range(size))
    # Matching answers are always mixed, or the key would be the order itself.
    if is_shuffled or data["qtype"] == "matching":
        random.shuffle(order)
    return order


def response_from_form(position: int, snapshot: dict[str, Any], form) -> Any:
    """The learner's response to one question from the submitted form, in the grader's shape."""
    field = f"q{position}"
    qtype = snapshot["qtype"]
    if qtype == "multichoice":
        return _index(form.get(field), len(snapshot["choices"]))
    if qtype == "multiresponse":
        chosen = {_index(v, len(snapshot["choices"])) for v in form.getlist(field)}
        return sorted(i for i in chosen if i is not None)
    if qtype == "truefalse":
        return {"true": True, "false": False}.get(form.get(field, ""))
    if qtype == "matching":
        rights = {p["right"] for p in snapshot["pairs"]}
        # A pair without a left side is a distractor: it only adds a wrong answer to choose.
        lefts = [i for i, pair in enumerate(snapshot["pairs"]) if pair["left"]]
        chosen = {str(i): form.get(f"{field}_{i}", "") for i in lefts}
        return {k: v for k, v in chosen.items() if v in rights}
    return (form.get(field) or "").strip()[:10000] or None


def _index(value: str | None, size: int) -> int | None:
    return int(value) if value and value.isdigit() and int(value) < size else None


def grade_answer(answer: AttemptAnswer) -> float | None:
    """The fraction earned; None for an essay waiting for a trainer."""
    return _fraction(question_from_dict(answer.snapshot), answer.response)


def _fraction(question: Question, response: Any) -> float | None:
    if question.qtype == "matching":
        response = {int(k): v for k, v in (response or {}).items()}
    if question.qtype == "essay":
        return None
    return grade(question, response)


@dataclass(frozen=True)
class Shown:
    """One question of an open attempt, as it was shown."""

    answer_id: int
    position: int
    snapshot: dict[str, Any]

    @functools.cached_property
    def question(self) -> Question:
        return question_from_dict(self.snapshot)


_ANSWER = AttemptAnswer.__table__.c


def _typed(column) -> Any:
    """A parameter named and typed after the column it is written to: an untyped one would
    skip the column's encoding (JSON's, for one)."""
    return bindparam(column.key, type_=column.type)


def attempt_to_write(attempt_id: int, lock: bool) -> tuple[Attempt | None, dict[int, Any]]:
    """An attempt and its answers' responses so far (per answer id): one statement, an
    autosave's only read but the user's. The questions as shown come with it when this process
    has not kept them (see _answered).

    `lock`: lock the attempt's row, so that two submits take turns. A save needs no lock: it
    writes only into an open attempt, a check that waits for a submit holding the row
    (_save_answers). SQLite locks no rows (lms/extensions.py, _is_plain_read): there the close
    is a compare-and-set, and a save's check runs under the database's write lock."""
    kept = cache.kept("shown", attempt_id)
    query = _attempt_query(with_questions=kept is None, lock=lock)
    rows = db.session.execute(query, {"attempt": attempt_id}).all()
    if not rows:
        return None, {}
    attempt, answers = rows[0][0], [row[1:] for row in rows if row[1] is not None]
    if kept is None and attempt.is_open:
        shown = (Shown(answer, position, snapshot) for answer, _, position, snapshot in answers)
        _keep_shown(attempt, tuple(sorted(shown, key=lambda s: s.position)))
    return attempt, {answer: response for answer, response, *_ in answers}


@functools.cache
def _attempt_query(with_questions: bool, lock: bool):
    questions = (_ANSWER.position, _ANSWER.snapshot) if with_questions else ()
    query = (
        select(Attempt, _ANSWER.id, _ANSWER.response, *questions)
        .outerjoin(AttemptAnswer.__table__, _ANSWER.attempt_id == Attempt.id)
        .where(Attempt.id == bindparam("attempt"))
        .execution_options(populate_existing=True)
    )
    return query.with_for_update(of=Attempt) if lock else query


def _answered(attempt: Attempt, responses: dict[int, Any] | None = None) -> list[tuple[Shown, Any]]:
    """An open attempt's questions with their responses so far (read here unless given).

    The questions are kept per process: an open attempt's snapshots never change (a regrade
    touches finished attempts only), so an autosave reads only the responses. They are kept
    with the attempt's identity, not its id alone, which a deleted attempt could hand on.
    """
    assert attempt.is_open
    params = {"attempt": attempt.id}
    kept = cache.kept("shown", attempt.id)
    if kept is None or kept[0] != _identity(attempt):
        rows = db.session.execute(_shown_query(), params)
        kept = _keep_shown(attempt, tuple(Shown(*row) for row in rows))
    if responses is None:
        responses = dict(db.session.execute(_responses_query(), params).all())
    return [(s, responses.get(s.answer_id)) for s in kept[1]]


def _identity(attempt: Attempt) -> tuple:
    return (attempt.user_id, attempt.item_id, attempt.number, attempt.started_at)


def _keep_shown(attempt: Attempt, shown: tuple[Shown, ...]) -> tuple[tuple, tuple[Shown, ...]]:
    return cache.keep("shown", attempt.id, (_identity(attempt), shown), size=1024)


@functools.cache
def _shown_query():
    return (
        select(_ANSWER.id, _ANSWER.position, _ANSWER.snapshot)
        .where(_ANSWER.attempt_id == bindparam("attempt"))
        .order_by(_ANSWER.position)
    )


@functools.cache
def _responses_query():
    return select(_ANSWER.id, _ANSWER.response).where(_ANSWER.attempt_id == bindparam("attempt"))


@functools.cache
def _save_answers():
    # FOR SHARE: the check waits for a submit that holds the attempt's row, then sees the
    # attempt as the submit left it; without it PostgreSQL would see the attempt as it was when
    # the statement began. Whole by itself (`alone`: on PostgreSQL it needs no transaction of
    # the request's, two round trips fewer).
    still_open = (
        select(Attempt.id)
        .where(Attempt.id == _ANSWER.attempt_id, Attempt.state == AttemptState.IN_PROGRESS)
        .with_for_update(read=True)
        .exists()
    )
    return (
        update(AttemptAnswer.__table__)
        .where(_ANSWER.id == bindparam("answer_id"), still_open)
        .values(response=_typed(_ANSWER.response), saved_at=_typed(_ANSWER.saved_at))
        .execution_options(alone=True)
    )


def save_responses(attempt: Attempt, form, now: datetime, responses: dict[int, Any]) -> bool:
    """Keep the responses in the form, writing only those that changed (`responses`: those
    saved so far, as attempt_to_write read them); False, and nothing written, when the attempt
    was closed since it was read."""
    _shown, changed = _read_form(attempt, form, responses)
    if not changed:
        return True
    rows = [{"answer_id": i, "response": r, "saved_at": now} for i, r in changed.items()]
    written = db.session.execute(_save_answers(), rows).rowcount
    _forget_loaded_answers(attempt)
    return written == len(rows)


def _read_form(
    attempt: Attempt, form, responses: dict[int, Any]
) -> tuple[list[tuple[Shown, Any]], dict[int, Any]]:
    """The questions with their responses in the form, and the changed ones per answer id."""
    answered, changed = [], {}
    for shown, response in _answered(attempt, responses):
        if shown.snapshot["qtype"] != "description":
            new = response_from_form(shown.position, shown.snapshot, form)
            if new != response:
                changed[shown.answer_id] = response = new
        answered.append((shown, response))
    return answered, changed


def _forget_loaded_answers(attempt: Attempt) -> None:
    # Written as table rows: answer objects this session loaded before are out of date.
    for answer in attempt.__dict__.get("answers", ()):
        db.session.expire(answer)


def _gradable(attempt: Attempt) -> list[AttemptAnswer]:
    return [a for a in attempt.answers if a.snapshot["qtype"] != "description"]


def _item_of(attempt: Attempt) -> Item:
    """The attempt's quiz: the catalogue's copy (no query), or the row of a retired quiz."""
    return requirements.catalogue().items.get(attempt.item_id) or attempt.item


def finish_attempt(
    attempt: Attempt, now: datetime, form=None, responses: dict[int, Any] | None = None
) -> bool:
    """Grade and close the attempt once, with the last answers in `form` if one is given
    (`responses`: those saved so far, as attempt_to_write read them); False when it was already
    closed by another request."""
    if form is None:
        answered, changed = _answered(attempt), {}
    else:
        answered, changed = _read_form(attempt, form, responses or {})
    gradable = [(s, r) for s, r in answered if s.snapshot["qtype"] != "description"]
    fractions = [_fraction(shown.question, response) for shown, response in gradable]
    item = _item_of(attempt)
    result = rules.quiz_result(fractions, item.pass_mark)
    values = {
        "state": AttemptState.FINISHED,
        "finished_at": now,
        "points": result.points,
        "out_of": result.out_of,
        "percent": result.percent,
        "is_passed": result.is_passed,
        "needs_grading": result.needs_grading,
    }
    # Compare-and-set: of two submits at once, only the one that still sees it open closes it.
    closed = db.session.execute(_close_statement(*values), {**values, "attempt": attempt.id})
    if not closed.rowcount:
        return False
    cache.touch(attempt.user_id)  # the bulk update above passes by the stamps' hook
    for key, value in values.items():
        set_committed_value(attempt, key, value)
    if gradable:
        # The last responses and the fractions in one statement: a response unchanged since
        # the last save is written as it was, and keeps its time.
        rows = [
            {
                "answer_id": shown.answer_id,
                "response": response,
                "fraction": fraction,
                "saved_at": now if shown.answer_id in changed else None,
            }
            for (shown, response), fraction in zip(gradable, fractions, strict=True)
        ]
        db.session.execute(_grade_answers(), rows)
        _forget_loaded_answers(attempt)
    _settle_quiz(attempt, now, item)
    return True


@functools.cache
def _grade_answers():
    return (
        update(AttemptAnswer.__table__)
        .where(_ANSWER.id == bindparam("answer_id"))
        .values(
            response=_typed(_ANSWER.response),
            fraction=_typed(_ANSWER.fraction),
            saved_at=func.coalesce(_typed(_ANSWER.saved_at), _ANSWER.saved_at),
        )
    )


@functools.cache
def _close_statement(*columns: str):
    table = Attempt.__table__.c
    return (
        update(Attempt.__table__)
        .where(table.id == bindparam("attempt"), table.state == AttemptState.IN_PROGRESS)
        .values({c: _typed(table[c]) for c in columns})
    )


def _settle_quiz(attempt: Attempt, now: datetime, item: Item | None = None) -> None:
    """The quiz is done once its grade, by the quiz's grading method, reaches the pass mark."""
    item = item or _item_of(attempt)
    work = cycle_work(attempt.user_id, item.course_id, attempt.cycle)
    grade = rules.quiz_grade(item.grading, work.percents.get(item.id, []))
    if grade is not None and grade >= item.pass_mark:
        mark_done(attempt.user, item, now, version=attempt.course_version, work=work)


def cycle_work(user_id: int, course_id: int, cycle: int) -> CycleWork:
    """The learner's work in one cycle of a course, in one statement."""
    params = {"user": user_id, "course": course_id, "cycle": cycle}
    percents: dict[int, list[float]] = {}
    done = set()
    for is_done, item_id, percent in db.session.execute(_work_query(), params):
        if is_done:
            done.add(item_id)
        else:
            percents.setdefault(item_id, []).append(percent or 0.0)
    return CycleWork(cycle, percents, done)


@functools.cache
def _work_query():
    attempt, item, finished = Attempt.__table__.c, Item.__table__.c, ItemProgress.__table__.c
    graded = (
        select(
            literal_column("0").label("is_done"), attempt.item_id, attempt.percent, attempt.number
        )
        .join_from(Attempt.__table__, Item.__table__, item.id == attempt.item_id)
        .where(
            attempt.user_id == bindparam("user"),
            attempt.cycle == bindparam("cycle"),
            attempt.state == AttemptState.FINISHED,
            ~attempt.needs_grading,
            item.course_id == bindparam("course"),
        )
    )
    done = select(literal_column("1"), finished.item_id, null(), literal_column("0")).where(
        finished.user_id == bindparam("user"),
        finished.course_id == bindparam("course"),
        finished.cycle == bindparam("cycle"),
    )
    both = union_all(graded, done).subquery()
    return select(both.c.is_done, both.c.item_id, both.c.percent).order_by(
        both.c.is_done, both.c.number
    )


def essays_to_grade():
    """Essay answers of finished attempts that wait for a trainer, oldest first."""
    answers = db.session.scalars(
        select(AttemptAnswer)
        .join(Attempt)
        .where(Attempt.needs_grading, AttemptAnswer.fraction.is_(None))
        .options(selectinload(AttemptAnswer.attempt).selectinload(Attempt.user))
        .order_by(Attempt.finished_at, AttemptAnswer.position)
    )
    return [a for a in answers if a.snapshot["qtype"] == "essay"]


def grade_essay(answer: AttemptAnswer, fraction: float, comment: str, grader: User, now):
    """Record a trainer's grade; the last one settles the attempt's result."""
    answer.fraction, answer.comment = fraction, comment
    answer.graded_by_id, answer.graded_at = grader.id, now
    attempt = answer.attempt
    audit.record(grader, "grade", f"answer:{answer.id}", {"fraction": fraction}, now)
    fractions = [a.fraction for a in _gradable(attempt)]
    if any(f is None for f in fractions):
        return
    result = rules.quiz_result(fractions, attempt.item.pass_mark)
    attempt.points, attempt.out_of, attempt.percent = result.points, result.out_of, result.percent
    attempt.is_passed, attempt.needs_grading = result.is_passed, False
    db.session.flush()
    _settle_quiz(attempt, now)


def is_review_final(attempt: Attempt, attempts_used: int) -> bool:
    left = rules.attempts_left(attempt.item.max_attempts, attempts_used)
    return attempt.is_passed or left == 0


def quiz_summaries(user_id: int) -> dict[int, tuple[int, float | None]]:
    """Per quiz: attempts finished and the best percent."""
    rows = db.session.execute(_summaries_query(), {"user": user_id})
    return {item_id: (count, best) for item_id, count, best in rows}


@functools.cache
def _summaries_query():
    return (
        select(Attempt.item_id, func.count(), func.max(Attempt.percent))
        .where(Attempt.user_id == bindparam("user"), Attempt.state == AttemptState.FINISHED)
        .group_by(Attempt.item_id)
    )


@dataclass(frozen=True)
class AnswerReview:
    """What a finished question shows, before the review policy hides parts of it."""

    answer: AttemptAnswer
    response_text: str
    correct_text: str
    feedback: str


def review_answer(answer: AttemptAnswer) -> AnswerReview:
    question = question_from_dict(answer.snapshot)
    response = answer.response
    if question.qtype == "matching":
        response = {int(k): v for k, v in (response or {}).items()}
    return AnswerReview(
        answer=answer,
        response_text=_describe(question, response),
        correct_text=_describe(question, correct_response(question)),
        feedback="\n".join(
            f for f in (feedback_for(question, response), question.general_feedback) if f
        ),
    )


def _describe(question, response) -> str:
    """A response as the text the learner saw."""
    if response is None or response == [] or response == {}:
        return ""
    if question.qtype == "multichoice":
        return question.choices[response].text
    if question.qtype == "multiresponse":
        return "; ".join(question.choices[i].text for i in response)
    if question.qtype == "truefalse":
        return gettext("True") if response else gettext("False")
    if question.qtype == "matching":
        pairs = enumerate(question.pairs)
        return "; ".join(f"{p.left} → {response.get(i, '')}" for i, p in pairs if p.left)
    return str(response)


def statistics_rows(item: Item) -> tuple[list[AttemptRow], list[str]]:
    """The finished, fully graded attempts of a quiz, as the statistics module reads them."""
    attempts = db.session.scalars(
        select(Attempt)
        .where(
            Attempt.item_id == item.id,
            Attempt.state == AttemptState.FINISHED,
            ~Attempt.needs_grading,
        )
        .options(selectinload(Attempt.answers))
        .order_by(Attempt.id)
    ).all()
    rows = []
    for attempt in attempts:
        graded = [a for a in attempt.answers if a.fraction is not None]
        rows.append(
            AttemptRow(
                user_id=attempt.user_id,
                number=attempt.number,
                fractions={a.snapshot["name"]: a.fraction for a in graded},
                responses={a.snapshot["name"]: review_answer(a).response_text for a in graded},
            )
        )
    return rows, [q.name for q in item.questions]


# Regrading after a key change --------------------------------------------------------------------


@dataclass(frozen=True)
class Regrade:
    """How a finished attempt's result changes under the quiz's current answer key."""

    attempt: Attempt
    fractions: dict[int, float]
    result: rules.QuizResult

    @property
    def changes_pass(self) -> bool:
        return self.result.is_passed != self.attempt.is_passed


def _same_question(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Regrading is sound only where the learner saw the same choices: only weights differ."""

    def shape(q: dict[str, Any]):
        return q["qtype"], [c["text"] for c in q["choices"]], [p["left"] for p in q["pairs"]]

    return shape(old) == shape(new)


def regrade_preview(item: Item) -> list[Regrade]:
    """Finished attempts whose result the current key would change; nothing is written."""
    current = {q.name: q.data for q in item.questions}
    attempts = db.session.scalars(
        select(Attempt)
        .where(Attempt.item_id == item.id, Attempt.state == AttemptState.FINISHED)
        .options(selectinload(Attempt.answers), selectinload(Attempt.user))
        .order_by(Attempt.id)
    )
    changes = []
    for attempt in attempts:
        fractions = {}
        for answer in _gradable(attempt):
            data = current.get(answer.snapshot["name"], {})
            new = data.get(attempt.language) or data.get("zh")
            if new and new != answer.snapshot and _same_question(answer.snapshot, new):
                fraction = grade_answer(replace_snapshot(answer, new))
                if fraction is not None and fraction != answer.fraction:
                    fractions[answer.id] = fraction
        if fractions:
            merged = [fractions.get(a.id, a.fraction) for a in _gradable(attempt)]
            changes.append(Regrade(attempt, fractions, rules.quiz_result(merged, item.pass_mark)))
    return changes


def replace_snapshot(answer: AttemptAnswer, snapshot: dict[str, Any]) -> AttemptAnswer:
    """A detached copy of the answer with another version of its question."""
    return AttemptAnswer(snapshot=snapshot, response=answer.response, position=answer.position)


def apply_regrade(item: Item, actor: User, now: datetime) -> list[Regrade]:
    """Regrade the attempts the preview lists, with an audit entry for each.

    Completion records already written stay as they are: records are never silently changed.
    """
    changes = regrade_preview(item)
    for change in changes:
        attempt = change.attempt
        for answer in _gradable(attempt):
            if answer.id in change.fractions:
                data = {q.name: q.data for q in item.questions}[answer.snapshot["name"]]
                answer.snapshot = data.get(attempt.language) or data["zh"]
                answer.fraction = change.fractions[answer.id]
        before = {"percent": attempt.percent, "passed": attempt.is_passed}
        result = change.result
        attempt.points, attempt.percent = result.points, result.percent
        attempt.is_passed = result.is_passed
        audit.record(
            actor,
            "regrade",
            f"attempt:{attempt.id}",
            {"before": before, "after": {"percent": result.percent, "passed": result.is_passed}},
            now,
        )
        db.session.flush()
        _settle_quiz(attempt, now)
    return changes


def awaiting_signoff(item: Item, today: date) -> list[User]:
    """Active people the practical step is required of, not yet signed off in their cycle."""
    cat = requirements.catalogue()
    users = db.session.scalars(select(User).where(User.is_active).order_by(User.name)).all()
    waiting = []
    for start in range(0, len(users), 500):
        batch = users[start : start + 500]
        ids = [u.id for u in batch]
        latest = requirements.latest_completions(ids)
        table = requirements.standings(batch, cat, today, latest, set())
        done = set(
            db.session.execute(
                select(ItemProgress.user_id, ItemProgress.cycle).where(
                    ItemProgress.item_id == item.id, ItemProgress.user_id.in_(ids)
                )
            ).all()
        )
        for user in batch:
            standing = table[user.id].get(item.course_id)
            if standing is None:
                continue
            cycle = _cycle(item.course, latest.get((user.id, item.course_id)), standing).cycle
            if (user.id, cycle) not in done:
                waiting.append(user)
    return waiting
