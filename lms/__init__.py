"""The bank's training platform: create_app builds the Flask application."""

import os
import secrets
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

from flask import Flask, g, has_request_context, render_template, request, session
from flask_babel import get_locale, get_translations
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup

from . import cache
from .extensions import babel, csrf, db, login_manager

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("zh", "en")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; `config` overrides the environment (tests pass their own)."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(_default_config(app, config or {}))
    app.config.update(config or {})
    _init_extensions(app)
    _register_blueprints(app)
    _register_errors(app)
    _register_template_helpers(app)
    from .cli import register_cli

    register_cli(app)
    if app.config.get("BENCHMARK"):
        _register_benchmark(app)
    return app


def _register_benchmark(app: Flask) -> None:
    """bench/ only: the ceiling of this stack, a fixed page with no database and no template."""
    page = "<!doctype html><html><head><title>ceiling</title></head><body><p>ok</p></body></html>"
    app.add_url_rule("/bench/ceiling", "bench_ceiling", lambda: page)


def _default_config(app: Flask, config: dict[str, Any]) -> dict[str, Any]:
    os.makedirs(app.instance_path, exist_ok=True)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(app.instance_path) / 'lms.db'}"
    return {
        "SECRET_KEY": config.get("SECRET_KEY") or os.environ.get("SECRET_KEY") or _secret_key(app),
        "SQLALCHEMY_DATABASE_URI": _driver_url(url),
        "COURSES_PATH": os.environ.get("LMS_COURSES_PATH") or str(ROOT / "courses"),
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).parent / "translations"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": None,
        # A roster of some thousands of staff is posted back once to be confirmed.
        "MAX_FORM_MEMORY_SIZE": 16 * 1024 * 1024,
        # Failed sign-ins are counted where every worker sees them: Redis when there is one.
        "SIGN_IN_LIMIT_STORAGE": os.environ.get("REDIS_URL") or "memory://",
        # HR's standings are shared between workers there too (lms/cache.py); else memory only.
        "CACHE_REDIS_URL": os.environ.get("REDIS_URL") or None,
    }


def _driver_url(url: str) -> str:
    """PostgreSQL URLs go through psycopg 3, whatever driver the URL names."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _secret_key(app: Flask) -> str:
    """A key generated once into instance/, so sessions survive a restart."""
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def select_locale() -> str:
    if current_user.is_authenticated:
        return current_user.locale
    return session.get("locale") or request.accept_languages.best_match(LOCALES) or "zh"


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    # Flask-Babel's template gettext looks up the locale and its catalogue on every call, and a
    # page makes dozens of calls: look them up once a request.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
    )
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None


def _translations():
    if not has_request_context():
        return get_translations()
    if "translations" not in g:
        g.translations = get_translations()
    return g.translations


def _register_blueprints(app: Flask) -> None:
    from . import admin, auth, authoring, learning, reports, team

    for module in (auth, learning, authoring, reports, admin, team):
        app.register_blueprint(module.bp)


def _register_errors(app: Flask) -> None:
    from flask_babel import gettext as _

    messages = {
        400: lambda: _("The request could not be understood."),
        403: lambda: _("You do not have access to this page."),
        404: lambda: _("This page does not exist."),
        405: lambda: _("This action is not allowed here."),
        409: lambda: _("This was changed at the same time elsewhere. Please reload and retry."),
        429: lambda: _("Too many failed sign-ins. Wait a few minutes, then try again."),
        500: lambda: _("Something went wrong on our side. Nothing you saved was lost."),
    }

    def render_error(code: int, message: str):
        if code == 500:
            # The failed request's transaction must end before the page can load the user.
            db.session.rollback()
        return render_template("error.html", code=code, message=message), code

    for code, message in messages.items():
        app.register_error_handler(code, lambda e, c=code, m=message: render_error(c, m()))
    app.register_error_handler(
        CSRFError,
        lambda e: render_error(
            400, _("The form expired or was sent from elsewhere. Reload the page and try again.")
        ),
    )


def layout_part(name: str, *key: Hashable, caller: Callable[[], str]) -> Markup:
    """A part of a layout that shows only what `key` names (the signed-in person's roles,
    say), in their language: rendered once per process, as plan_part keeps a learner's. Every
    page has one, and its links and labels were a tenth of a learner page's cost.

        {% call layout_part("top", current_user.role_names) %}...{% endcall %}

    No form may be inside: a CSRF token belongs to one session.
    """
    key = tuple(frozenset(k) if isinstance(k, set) else k for k in key)
    kept = (str(get_locale()), request.script_root, *key)
    return cache.cached(f"layout:{name}", kept, lambda: Markup(caller()), size=64)


def _register_template_helpers(app: Flask) -> None:
    from .models import JOB_ROLE_NAMES, Role
    from .progress import plan_part, review_answer
    from .render import formatted_to_html

    app.add_template_filter(formatted_to_html, "formatted")
    app.add_template_global(review_answer)
    app.add_template_global(plan_part)
    app.add_template_global(layout_part)

    @app.context_processor
    def inject():
        locale = str(get_locale() or "zh")
        return {
            "locale": locale,
            "Role": Role,
            "tr": lambda obj, field: obj.tr(field, locale),
            "job_role_name": lambda code: JOB_ROLE_NAMES.get(code, {}).get(locale, code or ""),
        }
