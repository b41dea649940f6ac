"""The trainer's pages: the curricula and the sign-off of practical steps."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import exists, select
from sqlalchemy.orm import selectinload

from . import progress
from .extensions import db
from .forms import EssayGradeForm, SignOffForm
from .models import (
    AttemptAnswer,
    Item,
    ItemKind,
    ItemProgress,
    Role,
    Track,
    TrackJobRole,
    User,
    utcnow,
)

bp = Blueprint("authoring", __name__, url_prefix="/author")


@bp.before_request
@login_required
def require_trainer():
    if not current_user.has_role(Role.TRAINER):
        abort(403)


@bp.route("/")
def index():
    """Every track and course, as loaded."""
    tracks = db.session.scalars(
        select(Track).options(selectinload(Track.courses)).order_by(Track.position)
    ).all()
    return render_template("authoring/index.html", tracks=tracks)


def _awaiting(item: Item):
    """Active learners the practical step is assigned to who have not been signed off."""
    done = exists().where(ItemProgress.item_id == item.id, ItemProgress.user_id == User.id)
    return (
        select(User)
        .join(TrackJobRole, TrackJobRole.job_role == User.job_role)
        .where(TrackJobRole.track_id == item.course.track_id, User.is_active, ~done)
        .order_by(User.name)
    )


@bp.route("/signoffs")
def signoffs():
    """Practical steps waiting for a mentor's sign-off."""
    items = db.session.scalars(
        select(Item).where(Item.kind == ItemKind.PRACTICAL, Item.is_active).order_by(Item.id)
    ).all()
    waiting = [(item, db.session.scalars(_awaiting(item)).all()) for item in items]
    return render_template("authoring/signoffs.html", waiting=waiting, form=SignOffForm())


@bp.route("/signoffs/<int:item_id>/<int:user_id>", methods=["POST"])
def sign_off(item_id: int, user_id: int):
    """Sign off a learner's practical step, with a note."""
    item = db.get_or_404(Item, item_id)
    learner = db.session.scalar(_awaiting(item).where(User.id == user_id))
    if item.kind != ItemKind.PRACTICAL or learner is None:
        abort(404)
    form = SignOffForm()
    if form.validate_on_submit():
        progress.mark_done(learner, item, utcnow(), signed_off_by=current_user, note=form.note.data)
        db.session.commit()
        flash(_("%(name)s was signed off.", name=learner.name), "success")
    return redirect(url_for("authoring.signoffs"))


@bp.route("/grading")
def grading():
    """Essay answers waiting for a grade."""
    return render_template(
        "authoring/grading.html", answers=progress.essays_to_grade(), form=EssayGradeForm()
    )


@bp.route("/grading/<int:answer_id>", methods=["POST"])
def grade_essay(answer_id: int):
    """Grade one essay answer, with a comment for the learner."""
    answer = db.get_or_404(AttemptAnswer, answer_id)
    if answer.snapshot["qtype"] != "essay" or answer.attempt.is_open:
        abort(404)
    form = EssayGradeForm()
    if form.validate_on_submit():
        fraction = float(form.percent.data) / 100
        progress.grade_essay(answer, fraction, form.comment.data, current_user, utcnow())
        db.session.commit()
        flash(_("The answer was graded."), "success")
    else:
        flash(_("A score between 0 and 100 is needed."), "error")
    return redirect(url_for("authoring.grading"))
