"""HR's pages: completion records and each person's transcript."""

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from . import progress
from .extensions import db
from .models import Completion, Role, User

bp = Blueprint("reports", __name__, url_prefix="/reports")

PAGE_SIZE = 50


@bp.before_request
@login_required
def require_hr():
    if not (current_user.has_role(Role.HR) or current_user.has_role(Role.ADMIN)):
        abort(403)


@bp.route("/")
def index():
    """The completion records, newest first."""
    page = db.paginate(
        select(Completion)
        .options(selectinload(Completion.user), selectinload(Completion.course))
        .order_by(Completion.completed_at.desc(), Completion.id.desc()),
        page=request.args.get("page", 1, type=int),
        per_page=PAGE_SIZE,
    )
    return render_template("reports/index.html", page=page)


@bp.route("/people/<int:user_id>")
def person(user_id: int):
    """One person's transcript."""
    user = db.get_or_404(User, user_id)
    return render_template(
        "learning/transcript.html", user=user, completions=progress.transcript(user.id)
    )
