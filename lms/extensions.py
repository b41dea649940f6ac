"""The Flask extensions, created once and bound to the app in create_app (Flask-Migrate when a
command migrates: see init_migrate)."""

from pathlib import Path
from typing import Any

from flask import Flask, has_request_context, request
from flask_babel import Babel
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Stable constraint names, so migrations can refer to them on every database.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def init_migrate(app: Flask) -> Any:
    """Bind Flask-Migrate to the app, once; its settings (`.directory`) as `flask db` uses them.

    Called by what migrates (`flask db ...`, setup_site), not by create_app: flask_migrate
    imports Alembic, 0.6 s that every worker of a server would spend for nothing.
    """
    if "migrate" not in app.extensions:
        from flask_migrate import Migrate

        Migrate(app, db, directory=str(MIGRATIONS))
    return app.extensions["migrate"]


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, _record):
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    # Let SQLAlchemy emit BEGIN itself (see _begin), instead of the driver's own guesswork.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin(conn):
    if conn.dialect.name != "sqlite":
        return
    # A write request takes SQLite's write lock up front: a deferred transaction that reads and
    # then writes can fail with "database is locked" instead of waiting its turn.
    is_write = (
        has_request_context()
        and request.method not in ("GET", "HEAD", "OPTIONS")
        and not conn.get_execution_options().get("lms_read_only")
    )
    conn.exec_driver_sql("BEGIN IMMEDIATE" if is_write else "BEGIN")
