"""Starting on a fresh machine: migrations, demo accounts, a second start that loses nothing."""

import os
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from lms import create_app
from lms.cli import DEMO_USERS, setup_site
from lms.extensions import db
from lms.models import Course, User
from tests.conftest import FIXTURES


@pytest.fixture
def fresh_app(tmp_path, monkeypatch):
    """An app on an empty database, as `python run.py` finds it on a new machine."""
    if os.environ.get("LMS_TEST_DATABASE_URL"):
        pytest.skip("runs on its own SQLite file: the shared test database is not empty")
    monkeypatch.setenv("LMS_DEMO_PASSWORD", "demo password 123")
    app = create_app(
        {
            "SECRET_KEY": "test",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'fresh.db'}",
            "COURSES_PATH": str(FIXTURES / "courses"),
        }
    )
    with app.app_context():
        yield app
        db.engine.dispose()


def test_the_migrations_build_exactly_the_models_schema(fresh_app):
    setup_site(demo=False)
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []


def test_demo_start_creates_every_persona_and_a_second_start_duplicates_nothing(fresh_app):
    lines = setup_site(demo=True)
    assert "demo password 123" in "\n".join(lines)
    setup_site(demo=True)
    usernames = set(db.session.scalars(select(User.username)))
    assert usernames == {u[0] for u in DEMO_USERS}
    assert db.session.scalar(select(func.count()).select_from(Course)) == 3
    new_manager = db.session.scalar(select(User).where(User.username == "new.manager"))
    assert new_manager.check_password("demo password 123")


def test_without_demo_only_an_admin_is_created_and_its_password_printed_once(
    fresh_app, monkeypatch
):
    monkeypatch.delenv("LMS_ADMIN_PASSWORD", raising=False)
    first = "\n".join(setup_site(demo=False))
    second = "\n".join(setup_site(demo=False))
    admin = db.session.scalars(select(User)).one()
    password = first.split("Password: ")[1].split()[0]
    assert admin.username == "admin"
    assert admin.check_password(password)
    assert password not in second


def test_serving_the_app_does_not_import_alembic():
    # Flask-Migrate imports Alembic (0.6 s): bound only by what migrates, not by create_app.
    code = (
        "import sys; from lms import create_app; "
        "create_app({'SECRET_KEY': 'x', 'SQLALCHEMY_DATABASE_URI': 'sqlite://'}); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'flask_migrate')))"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_flask_db_commands_migrate_an_app_built_without_them(fresh_app):
    assert "migrate" not in fresh_app.extensions
    result = fresh_app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == []
    help_text = fresh_app.test_cli_runner().invoke(args=["db", "--help"]).output
    assert "--directory" in help_text
    assert "upgrade" in help_text


def test_a_gunicorn_worker_starts_with_empty_database_pools(fresh_app):
    # preload_app builds the app before forking: a worker must not use the parent's connections.
    config = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
    assert config["preload_app"] is True
    with db.engine.connect() as connection:
        parents = connection.connection.dbapi_connection
    assert db.engine.pool.checkedin() == 1
    worker = SimpleNamespace(app=SimpleNamespace(wsgi=lambda: fresh_app))
    config["post_fork"](None, worker)
    assert db.engine.pool.checkedin() == 0
    # Left open for the parent that owns it (close=False): the worker only forgets it.
    assert parents.execute("SELECT 1").fetchone() == (1,)
    parents.close()
