"""The learner's pages: dashboard, courses, lessons, quizzes, transcript and certificates."""

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from . import completion as rules
from . import progress, reminders, requirements
from .extensions import db
from .models import Attempt, Completion, Course, Item, ItemKind, Role, utcnow

bp = Blueprint("learning", __name__)


@bp.before_request
@login_required
def require_learner():
    if not current_user.has_role(Role.LEARNER):
        abort(403)


def _plan() -> progress.Plan:
    return progress.learner_plan(current_user, utcnow().date())


def _course_state(course: Course) -> progress.CourseState:
    """The learner's state in a course; 403 when the course is not theirs."""
    state = progress.course_states(_plan()).get(course.id)
    if state is None:
        abort(403)
    return state


def _load_item(item_id: int, kind: str | None = None) -> tuple[Item, int]:
    """An item of an unlocked course of the learner's, and their cycle in it; else 404, 403 or
    400. For a write: it works out only the one course, not the plan the write makes stale."""
    item = _active_item(item_id)
    access = progress.course_access(current_user, item.course)
    if access is None or access.is_locked:
        abort(403)
    if kind and item.kind != kind:
        abort(400)
    return item, access.cycle


def _active_item(item_id: int) -> Item:
    """The catalogue's copy of an active item; 403 for one of a course no longer active (none
    of the learner's), 404 for a retired item or none at all."""
    item = requirements.catalogue().items.get(item_id)
    if item is None:
        abort(403 if db.get_or_404(Item, item_id).is_active else 404)
    return item


def _load_attempt(attempt_id: int) -> Attempt:
    """The learner's own attempt, to show."""
    return _own(db.session.get(Attempt, attempt_id))


def _attempt_to_write(attempt_id: int, lock: bool) -> tuple[Attempt, dict[int, Any]]:
    """The learner's own attempt, its row locked if `lock` (progress.attempt_to_write), and
    the responses saved so far."""
    attempt, responses = progress.attempt_to_write(attempt_id, lock)
    return _own(attempt), responses


def _own(attempt: Attempt | None) -> Attempt:
    if attempt is None:
        abort(404)
    if attempt.user_id != current_user.id:
        abort(403)
    return attempt


@bp.route("/dashboard")
def dashboard():
    """The tracks assigned to the learner, with progress."""
    plan = _plan()
    states = progress.course_states(plan)
    return render_template(
        "learning/dashboard.html",
        tracks=plan.tracks,
        states=states,
        standings=plan.standings,
        track_states=progress.track_states(plan.tracks, states),
        reminders=plan.notices,
    )


@bp.route("/reminders/read", methods=["POST"])
def read_reminders():
    """Mark the learner's reminders read."""
    reminders.mark_read(current_user, utcnow())
    db.session.commit()
    return redirect(url_for("learning.dashboard"))


@bp.route("/courses/<slug>")
def course(slug: str):
    """A course's outline and what is done."""
    course = requirements.catalogue().slugs.get(slug)
    if course is None:
        # Not an active course: none of the learner's, if it exists at all.
        db.first_or_404(select(Course.id).where(Course.slug == slug))
        abort(403)
    state, plan = _course_state(course), _plan()
    return render_template(
        "learning/course.html",
        course=course,
        is_locked=state.is_locked,
        done={i for c, cycle, i in plan.finished if c == course.id and cycle == state.cycle},
        quizzes=plan.quizzes,
        completion=state.completion,
    )


@bp.route("/items/<int:item_id>")
def item(item_id: int):
    """A lesson to read, a quiz to take or a practical step to have signed off."""
    item = _active_item(item_id)
    state = _course_state(item.course)
    if state.is_locked:
        flash(_("Complete the required courses first."), "error")
        return redirect(url_for("learning.course", slug=item.course.slug))
    cycle = state.cycle
    is_quiz = item.kind == ItemKind.QUIZ
    attempts = progress.attempts_of(current_user, item, cycle) if is_quiz else []
    return render_template(
        f"learning/{item.kind}.html",
        item=item,
        is_done=(item.course_id, cycle, item.id) in _plan().finished,
        attempts=attempts,
        attempts_left=rules.attempts_left(item.max_attempts, len(attempts)),
        neighbours=_neighbours(item),
    )


def _neighbours(item: Item) -> tuple[Item | None, Item | None]:
    """The items before and after this one in the course outline."""
    course = requirements.catalogue().courses.get(item.course_id)
    items = [i for m in course.modules for i in m.items] if course else []
    at = next((n for n, i in enumerate(items) if i.id == item.id), None)
    if at is None:
        return None, None
    return (items[at - 1] if at else None, items[at + 1] if at + 1 < len(items) else None)


@bp.route("/items/<int:item_id>/done", methods=["POST"])
def mark_lesson_done(item_id: int):
    """Mark a lesson read."""
    item, _cycle = _load_item(item_id, ItemKind.LESSON)
    progress.mark_done(current_user, item, utcnow())
    db.session.commit()
    _, following = _neighbours(item)
    if following:
        return redirect(url_for("learning.item", item_id=following.id))
    return redirect(url_for("learning.course", slug=item.course.slug))


@bp.route("/items/<int:item_id>/attempts", methods=["POST"])
def start_attempt(item_id: int):
    """Start (or resume) an attempt at a quiz."""
    item, cycle = _load_item(item_id, ItemKind.QUIZ)
    try:
        attempt = progress.start_attempt(current_user, item, cycle, str(get_locale()), utcnow())
        attempt_id = attempt.id  # the commit expires it
        db.session.commit()
    except progress.AttemptLimitReached:
        flash(_("No attempt is left on this quiz."), "error")
        return redirect(url_for("learning.item", item_id=item.id))
    except IntegrityError:
        # Another request started one at the same moment: continue that one.
        db.session.rollback()
        attempts = progress.attempts_of(current_user, item, cycle)
        attempt = next((a for a in attempts if a.is_open), None)
        if attempt is None:
            abort(409)
        attempt_id = attempt.id
    return redirect(url_for("learning.attempt", attempt_id=attempt_id))


def _close_if_expired(attempt: Attempt) -> bool:
    """Submit an attempt whose time ran out with what was saved; True if it is closed."""
    if attempt.is_open and rules.is_past(attempt.deadline_at, utcnow()):
        progress.finish_attempt(attempt, attempt.deadline_at)
        db.session.commit()
    return not attempt.is_open


@bp.route("/attempts/<int:attempt_id>")
def attempt(attempt_id: int):
    """Answer the questions of an open attempt."""
    attempt = _load_attempt(attempt_id)
    if _close_if_expired(attempt):
        return redirect(url_for("learning.review_attempt", attempt_id=attempt.id))
    return render_template(
        "learning/attempt.html", attempt=attempt, item=attempt.item, now=utcnow()
    )


@bp.route("/attempts/<int:attempt_id>/save", methods=["POST"])
def save_attempt(attempt_id: int):
    """Save the answers so far (the page calls this on every change)."""
    attempt, responses = _attempt_to_write(attempt_id, lock=False)
    if _close_if_expired(attempt):
        return _after_save(attempt_id, False, _("Time is up: the attempt was submitted."), 409)
    if not progress.save_responses(attempt, request.form, utcnow(), responses):
        db.session.rollback()
        return _after_save(attempt_id, False, _("The attempt was submitted meanwhile."), 409)
    # The reply is made before the commit, which would expire what it reads.
    reply = _after_save(attempt_id, True, _("Your answers are saved."), 200)
    db.session.commit()
    return reply


def _after_save(attempt_id: int, is_open: bool, message: str, status: int):
    if request.accept_mimetypes.best == "application/json":
        return jsonify(message=message, is_open=is_open), status
    flash(message, "success" if status == 200 else "error")
    endpoint = "learning.attempt" if is_open else "learning.review_attempt"
    return redirect(url_for(endpoint, attempt_id=attempt_id))


@bp.route("/attempts/<int:attempt_id>/submit", methods=["POST"])
def submit_attempt(attempt_id: int):
    """Save the last answers and grade the attempt, once."""
    attempt, responses = _attempt_to_write(attempt_id, lock=True)
    if not _close_if_expired(attempt):
        progress.finish_attempt(attempt, utcnow(), request.form, responses)
        db.session.commit()
    return redirect(url_for("learning.review_attempt", attempt_id=attempt_id))


@bp.route("/attempts/<int:attempt_id>/review")
def review_attempt(attempt_id: int):
    """The result of a finished attempt, showing what the quiz's review policy allows."""
    attempt = _load_attempt(attempt_id)
    if attempt.is_open:
        return redirect(url_for("learning.attempt", attempt_id=attempt.id))
    cycle = progress.course_cycle(current_user, attempt.item.course)
    used = len(progress.attempts_of(current_user, attempt.item, cycle.cycle))
    view = rules.review_view(attempt.item.review, progress.is_review_final(attempt, used))
    return render_template(
        "learning/review.html",
        attempt=attempt,
        item=attempt.item,
        view=view,
        attempts_left=rules.attempts_left(attempt.item.max_attempts, used),
        completion=cycle.completion,
    )


@bp.route("/transcript")
def transcript():
    """Every course the learner completed, with score, date and version."""
    return render_template(
        "learning/transcript.html",
        user=current_user,
        completions=progress.transcript(current_user.id),
    )


@bp.route("/certificates/<code>")
def certificate(code: str):
    """A printable certificate of one's own completion."""
    completion = db.first_or_404(select(Completion).where(Completion.certificate_code == code))
    if completion.user_id != current_user.id:
        abort(403)
    return render_template("learning/certificate.html", completion=completion)
