"""Line managers' pages: where their direct reports stand, and each report's transcript."""

from __future__ import annotations

from flask import Blueprint, abort, g, render_template
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import aliased

from . import progress, requirements
from .extensions import db
from .models import User, utcnow

bp = Blueprint("team", __name__, url_prefix="/team")


def reports_of(manager_id: int):
    """A select() of a manager's active direct reports."""
    return select(User).where(User.manager_id == manager_id, User.is_active)


def has_reports(manager_id):
    """An EXISTS of active direct reports; `manager_id` may be a column of an outer query."""
    report = aliased(User)
    return select(report.id).where(report.manager_id == manager_id, report.is_active).exists()


@bp.app_template_global()
def has_team() -> bool:
    """Whether the signed-in person manages anyone (read with the user: lms/auth.py)."""
    if not current_user.is_authenticated:
        return False
    if "has_team" not in g:
        g.has_team = bool(db.session.scalar(select(has_reports(current_user.id))))
    return g.has_team


@bp.before_request
@login_required
def require_reports():
    if not has_team():
        abort(403)


@bp.route("/")
def index():
    """The manager's direct reports, with their standing on each required course."""
    reports = db.session.scalars(reports_of(current_user.id).order_by(User.name, User.id)).all()
    cat = requirements.catalogue()
    rows = requirements.rows_for(list(reports), cat, utcnow().date())
    required = {course_id for row in rows for course_id in row.cells}
    courses = [c for c in requirements.columns(cat, requirements.Filters()) if c.id in required]
    return render_template("team/index.html", rows=rows, courses=courses)


@bp.route("/people/<int:user_id>")
def person(user_id: int):
    """A direct report's transcript; anyone else's is not the manager's to see."""
    user = db.get_or_404(User, user_id)
    if user.manager_id != current_user.id or not user.is_active:
        abort(403)
    return render_template(
        "learning/transcript.html", user=user, completions=progress.transcript(user.id)
    )
