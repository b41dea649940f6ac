"""The administrator's pages: people, their platform roles, and site settings."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from . import audit
from .extensions import db
from .forms import SettingsForm
from .models import Role, Setting, User, utcnow
from .publishing import SELF_PUBLISH

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


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    """Site settings: whether a trainer may publish their own draft without a second trainer."""
    form = SettingsForm(allow_self_publish=Setting.is_on(SELF_PUBLISH))
    if form.validate_on_submit():
        row = db.session.get(Setting, SELF_PUBLISH) or Setting(key=SELF_PUBLISH)
        row.value = "1" if form.allow_self_publish.data else "0"
        db.session.add(row)
        audit.record(current_user, "setting", SELF_PUBLISH, {"value": row.value}, utcnow())
        db.session.commit()
        flash(_("Settings saved."), "success")
        return redirect(url_for("admin.settings"))
    return render_template("admin/settings.html", form=form)
