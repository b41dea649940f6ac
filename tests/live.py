"""The real app on a real HTTP server in a background thread, for tests that need one.

No app context stays pushed while the server runs: each request gets its own, as in production,
and the test pushes one only for the moment it reads or writes the database.
"""

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from werkzeug.serving import make_server

from lms import create_app


def database_url_for(tmp_path: Path) -> str:
    """LMS_TEST_DATABASE_URL when set (e.g. PostgreSQL), else a SQLite file of this test's own."""
    return os.environ.get("LMS_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'live.db'}"


def create_live_app(database_url: str, **config) -> Flask:
    """The app as production runs it (CSRF on, errors rendered as pages) on this database."""
    return create_app({"SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": database_url, **config})


@contextmanager
def live_server(app: Flask) -> Iterator[str]:
    """Serve the app on a free local port, one thread per request; yield the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling out of this closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
