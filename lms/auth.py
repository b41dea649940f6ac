"""Signing in and out, passwords, language, and the public certificate check."""

import functools

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from . import cache, team
from .extensions import db, login_manager
from .forms import ChangePasswordForm, LanguageForm, LoginForm
from .models import Completion, Role, User

bp = Blueprint("auth", __name__)

HOME_BY_ROLE = (
    (Role.LEARNER, "learning.dashboard"),
    (Role.TRAINER, "authoring.index"),
    (Role.HR, "reports.index"),
    (Role.ADMIN, "admin.index"),
)


@login_manager.user_loader
def load_user(cookie_id: str) -> User | None:
    user_id, _sep, token = cookie_id.partition(":")
    if not user_id.isdigit():
        return None
    row = db.session.execute(_user_query(), {"id": int(user_id)}).unique().first()
    if row is None:
        return None
    user, g.site_stamp, g.has_team = row
    return user if user.session_token == token and user.is_active else None


@functools.cache
def _user_query():
    """One query for what every page needs: the roles for the role gate, the site stamp for the
    caches (lms/cache.py), and whether to show "My team". Built once: building it costs more
    than running it."""
    return (
        select(User, cache.site_stamp_query(), team.has_reports(User.id))
        .where(User.id == bindparam("id"))
        .options(joinedload(User.roles))
    )


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect would let a phishing link borrow our login page.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("learning.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with username and password."""
    form = LoginForm()
    # Failed sign-ins are counted per address and username: guessing one person's password is
    # stopped, and colleagues behind the same office address still sign in.
    who = (request.remote_addr or "", (form.username.data or "").strip().lower())
    if request.method == "POST" and not _failures().test(SIGN_IN_LIMIT, *who):
        abort(429)
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == form.username.data.strip()))
        if user and user.is_active and user.check_password(form.password.data):
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        _failures().hit(SIGN_IN_LIMIT, *who)
        flash(_("Wrong username or password."), "error")
    return render_template("auth/login.html", form=form)


SIGN_IN_LIMIT = parse("10 per 15 minutes")


def _failures() -> FixedWindowRateLimiter:
    """The failed sign-ins' counter: in Redis when REDIS_URL is set, so that every worker sees
    the same counts; in the worker's memory otherwise."""
    if "lms.sign_in_failures" not in current_app.extensions:
        store = storage_from_string(current_app.config["SIGN_IN_LIMIT_STORAGE"])
        current_app.extensions["lms.sign_in_failures"] = FixedWindowRateLimiter(store)
    return current_app.extensions["lms.sign_in_failures"]


@bp.route("/logout", methods=["POST"])
def logout():
    """End the session."""
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password; other sessions end."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not current_user.check_password(form.current.data):
            form.current.errors.append(_("The current password is wrong."))
        else:
            current_user.set_password(form.new.data)
            db.session.commit()
            login_user(current_user._get_current_object())
            flash(_("Your password was changed."), "success")
            return redirect(url_for("learning.dashboard"))
    return render_template("auth/password.html", form=form)


@bp.route("/language", methods=["POST"])
def set_language():
    """Remember the chosen interface language."""
    form = LanguageForm()
    if form.validate_on_submit():
        session["locale"] = form.locale.data
        if current_user.is_authenticated:
            current_user.locale = form.locale.data
            db.session.commit()
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/verify/<code>")
def verify_certificate(code: str):
    """Anyone can check a certificate: name, course and date only."""
    completion = db.session.scalar(
        select(Completion).where(Completion.certificate_code == code.strip().upper())
    )
    if completion is None:
        abort(404)
    return render_template("auth/verify.html", completion=completion)


@bp.route("/")
def index():
    """Send each person to the area of their main role."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    for role, endpoint in HOME_BY_ROLE:
        if current_user.has_role(role):
            return redirect(url_for(endpoint))
    abort(403)
