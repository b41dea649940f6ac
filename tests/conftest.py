"""Fixtures: a fresh app and database per test, factories for people, a logged-in client.

Set LMS_TEST_DATABASE_URL (e.g. postgresql://127.0.0.1/test) to run the suite on PostgreSQL.
"""

import os
from pathlib import Path

import pytest
from flask.globals import _cv_app
from flask_login import FlaskLoginClient
from sqlalchemy import event

from lms import cache, create_app
from lms.cli import ensure_user
from lms.content import read_catalog, sync_catalog
from lms.extensions import db
from lms.models import Role, User

FIXTURES = Path(__file__).parent / "fixtures"
PASSWORD = "correct horse battery"


class Client(FlaskLoginClient):
    """Runs each request in its own app context and session, as a real server does.

    The test keeps its own context for reading the database; sharing it with the request would
    share `g` and the session, and hide bugs that only show across requests.
    """

    def open(self, *args, **kwargs):
        db.session.commit()
        token = _cv_app.set(None)
        # A streamed body runs inside the request's context: read it before leaving.
        kwargs.setdefault("buffered", True)
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(token)
            db.session.rollback()


@pytest.fixture
def app(tmp_path):
    url = os.environ.get("LMS_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.db'}"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": url,
            "COURSES_PATH": str(FIXTURES / "courses"),
            "WTF_CSRF_ENABLED": False,
        }
    )
    app.test_client_class = Client
    with app.app_context():
        db.drop_all()
        db.create_all()
        yield app
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def load_courses(app):
    """Load a course tree (the fixture courses by default) and return the catalog."""

    def load(path: Path = FIXTURES / "courses"):
        catalog = read_catalog(path)
        sync_catalog(catalog)
        db.session.commit()
        return catalog

    return load


@pytest.fixture
def make_user(app):
    """Create a user: make_user("name", job_role="...", roles={Role.LEARNER})."""

    def make(username: str, job_role: str | None = None, roles=frozenset({Role.LEARNER})) -> User:
        ensure_user(username, username.title(), job_role, roles, PASSWORD)
        db.session.commit()
        return db.session.scalar(db.select(User).filter_by(username=username))

    return make


@pytest.fixture
def count_queries(app):
    """Count the SQL statements run inside the `with` block: `with count_queries() as n: ...`.

    The block starts with the app's caches empty (lms/cache.py), so counts compare like with
    like; `count_queries(warm=True)` keeps what earlier requests cached.
    """

    class Counter:
        def __init__(self, warm: bool = False):
            self.count = 0
            self.warm = warm

        def __call__(self, _conn, _cursor, statement, *_args):
            # SQLite's BEGIN is ours to send (see lms/extensions.py); it is not a query.
            if not statement.startswith(("BEGIN", "COMMIT", "ROLLBACK")):
                self.count += 1

        def __enter__(self):
            if not self.warm:
                cache.clear()
            event.listen(db.engine, "before_cursor_execute", self)
            return self

        def __exit__(self, *_exc):
            event.remove(db.engine, "before_cursor_execute", self)

    return Counter


@pytest.fixture
def transaction_states(app):
    """After each statement: its first word, and whether PostgreSQL holds a transaction open."""
    if db.engine.url.get_backend_name() != "postgresql":
        pytest.skip("reading outside a transaction is PostgreSQL's (psycopg sends BEGIN apart)")
    from psycopg.pq import TransactionStatus

    states: list[tuple[str, bool]] = []

    def after(conn, _cursor, statement, *_args):
        status = conn.connection.dbapi_connection.info.transaction_status
        states.append((statement.split()[0], status == TransactionStatus.INTRANS))

    db.session.close()  # the next statement checks a connection out inside the request
    event.listen(db.engine, "after_cursor_execute", after)
    yield states
    event.remove(db.engine, "after_cursor_execute", after)


@pytest.fixture
def browser():
    """Debian's Chromium driven by Playwright (`playwright install` cannot download here)."""
    from playwright.sync_api import sync_playwright

    from tests.live import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
