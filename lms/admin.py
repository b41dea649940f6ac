"""The administrator's pages: people, their platform roles, and site settings."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from . import audit, roster
from .extensions import db
from .forms import RosterForm, SettingsForm
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


@bp.route("/roster", methods=["GET", "POST"])
def import_roster():
    """Check a staff roster and show what it would change; apply it once confirmed."""
    form = RosterForm()
    if not form.validate_on_submit():
        return render_template("admin/roster.html", form=form)
    try:
        text = _roster_text(form)
        plan = roster.prepare_import(text, form.full.data)
    except roster.RosterError as e:
        return render_template("admin/roster.html", form=form, errors=e.errors)
    if request.form.get("confirm") != "1":
        return render_template(
            "admin/roster.html",
            form=form,
            plan=plan,
            summary=_summary(plan.summary),
            text=text,
            fits=_fits_in_a_form(text),
        )
    summary = roster.apply_import(plan, current_user, utcnow())
    db.session.commit()
    flash(_("Roster imported: %(summary)s.", summary=_summary(summary)), "success")
    return redirect(url_for("admin.import_roster"))


def _roster_text(form: RosterForm) -> str:
    """The uploaded file's text, or on confirmation the text the check page posted back."""
    return roster.decode_roster(form.upload.data.read()) if form.upload.data else form.text.data


def _fits_in_a_form(text: str) -> bool:
    """Whether the confirmation can post the text back under the server's limit on a field."""
    limit = request.max_form_memory_size
    # Browsers send a textarea's line ends as CRLF.
    return limit is None or len(text.encode()) + text.count("\n") <= limit


def _summary(summary: roster.ImportSummary) -> str:
    return _(
        "created %(created)d, updated %(updated)d, unchanged %(unchanged)d, "
        "deactivated %(deactivated)d",
        created=summary.created,
        updated=summary.updated,
        unchanged=summary.unchanged,
        deactivated=summary.deactivated,
    )
