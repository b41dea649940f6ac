"""The administrator's pages: people and their platform roles."""

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select

from .extensions import db
from .models import Role, User

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def require_admin():
    if not current_user.has_role(Role.ADMIN):
        abort(403)


@bp.route("/")
def index():
    """Everyone with an account."""
    page = db.paginate(
        select(User).order_by(User.username),
        page=request.args.get("page", 1, type=int),
        per_page=50,
    )
    return render_template("admin/index.html", page=page)
