"""The Flask extensions, created once and bound to the app in create_app (Flask-Migrate when a
command migrates: see init_migrate)."""

import fcntl
import os
import time
from pathlib import Path
from typing import Any

from flask import Flask, has_request_context
from flask_babel import Babel
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, Select, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import Pool


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


# Transactions in a request --------------------------------------------------------------------
# A request reads outside a transaction and opens one at its first statement that writes or
# locks rows, so what it writes still commits or rolls back whole. Reads outside a transaction
# see what they would see inside one at READ COMMITTED, PostgreSQL's level: each statement its
# own snapshot. What it buys:
# - PostgreSQL: psycopg sends BEGIN as a round trip of its own and the end of the request a
#   ROLLBACK, so a page served from the caches made three round trips for its one query.
# - SQLite: the write lock is held from the first write, not through the reads before it, so
#   writers take turns for no longer than they write.
# Outside requests (commands, tests) a transaction begins with its first statement.
# A write that is whole by itself (the execution option `alone`: one statement, or one
# executemany, which psycopg sends as one pipeline and PostgreSQL runs as one implicit
# transaction) runs so on PostgreSQL when no transaction is open: BEGIN and COMMIT are two of an
# autosave's five round trips. SQLite still opens the request's, for the writers' turn.

_READS_OUTSIDE = "lms.reads_outside_transaction"


@event.listens_for(Engine, "begin")
def _begin(conn):
    if conn.dialect.name != "sqlite":
        return
    # sqlite3 is in autocommit mode (_configure_sqlite): BEGIN is ours to send, or not yet.
    if has_request_context():
        conn.connection.info[_READS_OUTSIDE] = True
        return
    conn.connection.info.pop(_READS_OUTSIDE, None)
    conn.exec_driver_sql("BEGIN")


@event.listens_for(Pool, "checkout")
def _prepare_postgresql(dbapi_connection, record, _proxy) -> None:
    if not type(dbapi_connection).__module__.startswith("psycopg"):
        return
    dbapi_connection.autocommit = True
    _ping_if_idle(dbapi_connection, record)
    reads_outside = has_request_context()
    dbapi_connection.autocommit = reads_outside
    record.info[_READS_OUTSIDE] = reads_outside


@event.listens_for(Engine, "before_cursor_execute")
def _begin_before_writing(conn, _cursor, _statement, _parameters, context, _executemany):
    if conn.connection.info.get(_READS_OUTSIDE) and not (
        _is_plain_read(context) or _runs_alone(context)
    ):
        begin_transaction(conn)


def begin_transaction(connection) -> None:
    """Open the transaction now, if the connection reads outside one; also for statements
    SQLAlchemy does not see, such as those of a driver's own server-side cursor. (A connection
    given AUTOCOMMIT on purpose, as VACUUM needs, is left as it is.)"""
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return
    if not connection.connection.info.pop(_READS_OUTSIDE, False):
        return
    if connection.dialect.name == "sqlite":
        # IMMEDIATE: a deferred transaction that read first can fail with "database is locked"
        # when it writes, instead of waiting its turn.
        _take_writer_turn(connection)
        connection.connection.dbapi_connection.execute("BEGIN IMMEDIATE")
    else:
        # Allowed here: between statements an autocommit connection is never in a transaction;
        # psycopg sends BEGIN with the next statement.
        connection.connection.dbapi_connection.autocommit = False


def _is_plain_read(context) -> bool:
    """A SELECT that neither locks rows nor needs a server-side cursor (those live in a
    transaction); anything else, including SQL given as text, counts as a write.

    SQLite has no row locks (FOR UPDATE is not even rendered): taking the database's write
    lock at such a read would hold every other writer back through all this request does
    before it writes. There the writes that need the row as it was read check it themselves
    (progress.attempt_to_write)."""
    statement = context.compiled.statement if context.compiled is not None else None
    return (
        isinstance(statement, Select)
        and (statement._for_update_arg is None or context.dialect.name == "sqlite")
        and not context._is_server_side
    )


def _runs_alone(context) -> bool:
    return context.execution_options.get("alone", False) and context.dialect.name != "sqlite"


# SQLite's writers take turns ------------------------------------------------------------------


def _take_writer_turn(conn) -> None:
    """Queue for the write lock on a lock file beside the database.

    SQLite's own wait for its write lock sleeps 1, 2, 5, 10, 15... ms between tries, so under
    load writers spend more time asleep than writing. An flock() waiter is woken the moment
    the lock is free; the kernel drops it if the process dies. Released when the connection
    goes back to the pool, that is when the transaction has ended (_end_writer_turn).

    Each database connection queues on a descriptor of its own, opened by the process that uses
    the connection: flock() excludes open files, not threads, so threads sharing one
    descriptor would each take a turn another holds (and a conversion can drop it), and a
    descriptor inherited through a fork would share its lock with the parent.
    """
    path = conn.engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    info = conn.connection.info  # the pooled connection's, for as long as it is open
    if "turn_file" not in info:
        info["turn_file"] = os.open(f"{path}-writers.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(info["turn_file"], fcntl.LOCK_EX)
    info["writer_turn"] = info["turn_file"]


@event.listens_for(Pool, "checkin")
def _end_writer_turn(_dbapi_connection, record) -> None:
    turn = record.info.pop("writer_turn", None) if record is not None else None
    if turn is not None:
        fcntl.flock(turn, fcntl.LOCK_UN)


@event.listens_for(Pool, "close")
def _close_turn_file(_dbapi_connection, record) -> None:
    turn_file = record.info.pop("turn_file", None) if record is not None else None
    if turn_file is not None:
        os.close(turn_file)


# PostgreSQL's pings ---------------------------------------------------------------------------
# A connection is pinged only when it has lain idle (as MySqlConnector's ConnectionIdlePingTime
# and sqlx pools do): one back from a request a moment ago is alive, and under load none waits
# long. One that fails its ping is replaced before the request uses it, so the first request
# after a database restart is served.

PING_AFTER_IDLE = 1.0  # seconds


@event.listens_for(Pool, "checkin")
def _idle_from_now(_dbapi_connection, record) -> None:
    if record is not None:
        record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record) -> None:
    idle_since = record.info.get("idle_since")
    if idle_since is not None and time.monotonic() - idle_since > PING_AFTER_IDLE:
        try:
            dbapi_connection.execute("SELECT 1")
        except dbapi_connection.OperationalError as error:
            # The pool drops this connection and checks out another, up to three times.
            raise DisconnectionError("the connection failed its ping") from error
