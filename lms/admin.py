"""The administrator's pages: people, their platform roles, and site settings."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from . import audit, roster
from .extensions import db
from .forms import RosterForm, SettingsForm, UserForm
from .models import JOB_ROLE_NAMES, Role, Setting, User, utcnow
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


def _user_form(user: User | None) -> UserForm:
    form = UserForm(obj=user)
    form.job_role.choices = [SelectChoice("", "—")] + [
        SelectChoice(code, f"{names['zh']} / {names['en']}")
        for code, names in JOB_ROLE_NAMES.items()
    ]
    form.roles.choices = [SelectChoice(r.value, r.value) for r in Role]
    if user is not None and not form.is_submitted():
        form.roles.data = sorted(user.role_names)
        form.manager.data = user.manager.employee_no if user.manager else ""
    return form


@bp.route("/users/new", methods=["GET", "POST"])
@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int | None = None):
    """Create or edit a person: their post, their platform roles, their password."""
    user = db.get_or_404(User, user_id) if user_id else None
    form = _user_form(user)
    if form.validate_on_submit():
        error = _save_user(user, form)
        if error is None:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("admin.index"))
        db.session.rollback()
        flash(error, "error")
    return render_template("admin/user.html", form=form, user=user)


def _save_user(user: User | None, form: UserForm) -> str | None:
    """Apply the form, or say which field is wrong (nothing is kept then)."""
    taken = select(User.id).where(User.username == form.username.data.strip())
    if user is not None:
        taken = taken.where(User.id != user.id)
    if db.session.scalar(taken):
        return _("That username is taken.")
    manager = None
    manager_no = (form.manager.data or "").strip()
    if manager_no:
        manager = db.session.scalar(select(User).where(User.employee_no == manager_no))
        if manager is None or manager is user:
            return _("No other person has the line manager's employee number.")
    if user is None:
        if not form.password.data:
            return _("A new person needs a first password.")
        user = User(password_hash="")
        db.session.add(user)
    for field in ("username", "name", "email", "branch", "department", "level"):
        setattr(user, field, (getattr(form, field).data or "").strip())
    user.employee_no = (form.employee_no.data or "").strip() or None
    user.job_role = form.job_role.data or None
    user.hire_date, user.manager_id = form.hire_date.data, manager.id if manager else None
    user.is_active = form.is_active.data
    user.set_roles(set(form.roles.data))
    if form.password.data:
        user.set_password(form.password.data)
    db.session.flush()
    audit.record(
        current_user, "user", f"user:{user.id}", {"roles": sorted(form.roles.data)}, utcnow()
    )
    return None
