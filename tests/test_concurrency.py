"""Requests racing on a real server: the database, not luck, keeps one attempt and one grade.

Eight tabs of one learner, each with its own session, send the same action at the same moment
(a barrier releases them together). Runs on SQLite and, with LMS_TEST_DATABASE_URL, PostgreSQL.
"""

import fcntl
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from http.cookiejar import CookieJar
from urllib.error import HTTPError
from urllib.parse import urlencode, urlsplit
from urllib.request import HTTPCookieProcessor, HTTPRedirectHandler, build_opener

import pytest
from sqlalchemy import func, select, update

from lms import completion as rules
from lms import extensions, progress
from lms.cli import ensure_user
from lms.content import read_catalog, sync_catalog
from lms.extensions import db
from lms.gift import question_from_dict
from lms.grading import correct_response
from lms.models import (
    Attempt,
    AttemptState,
    Completion,
    Course,
    Item,
    ItemProgress,
    JobRole,
    Role,
    User,
)
from tests.conftest import FIXTURES, PASSWORD
from tests.live import create_live_app, database_url_for, live_server

N = 8


@dataclass(frozen=True)
class Response:
    status: int
    path: str  # where a redirect points; "" otherwise
    text: str


class _KeepRedirects(HTTPRedirectHandler):
    def redirect_request(self, *_args, **_kwargs):
        return None  # hand the redirect back to the test instead of following it


class Tab:
    """One browser tab: its own cookies and CSRF token; redirects are returned, not followed."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = build_opener(HTTPCookieProcessor(CookieJar()), _KeepRedirects)
        self.csrf_token = ""

    def get(self, path: str) -> Response:
        return self._open(path, None)

    def post(self, path: str, form: dict[str, str] | None = None) -> Response:
        data = {"csrf_token": self.csrf_token, **(form or {})}
        return self._open(path, urlencode(data).encode())

    def _open(self, path: str, data: bytes | None) -> Response:
        try:
            with self.opener.open(self.base_url + path, data, timeout=30) as reply:
                response = Response(reply.status, "", reply.read().decode())
        except HTTPError as error:
            with error:
                location = urlsplit(error.headers.get("Location", "")).path
                response = Response(error.code, location, error.read().decode())
        if token := re.search(r'name="csrf_token"[^>]*value="([^"]+)"', response.text):
            self.csrf_token = token.group(1)
        return response


def signed_in_tab(base_url: str) -> Tab:
    """A tab where the learner signed in through the login form, CSRF token and all."""
    tab = Tab(base_url)
    tab.get("/login")
    signed_in = tab.post("/login", {"username": "learner", "password": PASSWORD})
    assert (signed_in.status, signed_in.path) == (302, "/dashboard")
    assert tab.get("/dashboard").status == 200
    return tab


def all_at_once(calls: list[Callable[[], Response]]) -> list[Response]:
    """Run every call in its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=10)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def basics_item(kind: str) -> Item:
    return db.session.scalar(
        select(Item).join(Course).where(Course.slug == "starter-basics", Item.kind == kind)
    )


def right_fields(attempt: Attempt) -> dict[str, str]:
    """The form fields that answer every question of the attempt right, from its snapshots."""
    fields = {}
    for answer in attempt.answers:
        key = correct_response(question_from_dict(answer.snapshot))
        if isinstance(key, bool):
            key = "true" if key else "false"
        fields[f"q{answer.position}"] = str(key)
    return fields


def quiz_in_progress(site) -> tuple[list[Tab], int, int, dict[str, str]]:
    """N signed-in tabs of the learner, who has done the lesson and started the quiz: the tabs,
    the quiz's and the attempt's ids, and the form fields that answer it all right."""
    app, base_url = site
    with app.app_context():
        lesson_id, quiz_id = basics_item("lesson").id, basics_item("quiz").id
    tabs = [signed_in_tab(base_url) for _ in range(N)]
    assert tabs[0].post(f"/items/{lesson_id}/done").status == 302
    started = tabs[0].post(f"/items/{quiz_id}/attempts")
    attempt_id = int(started.path.rsplit("/", 1)[1])
    with app.app_context():
        right = right_fields(db.session.get(Attempt, attempt_id))
    return tabs, quiz_id, attempt_id, right


@pytest.fixture
def site(tmp_path):
    """The fixture courses and a new customer manager on a real server; the quiz allows one
    attempt. Yields the app (for reading the database afterwards) and the base URL."""
    app = create_live_app(database_url_for(tmp_path))
    with app.app_context():
        db.drop_all()
        db.create_all()
        sync_catalog(read_catalog(FIXTURES / "courses"))
        ensure_user("learner", "Learner", JobRole.NEW_CUSTOMER_MANAGER, {Role.LEARNER}, PASSWORD)
        basics_item("quiz").max_attempts = 1
        db.session.commit()
    try:
        with live_server(app) as base_url:
            yield app, base_url
    finally:
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


def test_eight_starts_at_once_of_a_one_attempt_quiz_open_exactly_one_attempt(site):
    app, base_url = site
    with app.app_context():
        quiz_id = basics_item("quiz").id
    tabs = [signed_in_tab(base_url) for _ in range(N)]

    responses = all_at_once([partial(tab.post, f"/items/{quiz_id}/attempts") for tab in tabs])

    with app.app_context():
        attempt = db.session.scalars(select(Attempt)).one()
        assert (attempt.number, attempt.state) == (1, AttemptState.IN_PROGRESS)
    # Every tab lands on that one attempt, or at worst on the friendly "changed elsewhere" page.
    assert {r.status for r in responses} <= {302, 409}
    assert {r.path for r in responses if r.status == 302} == {f"/attempts/{attempt.id}"}
    assert not [r for r in responses if "Traceback" in r.text]


def test_eight_submits_at_once_of_one_attempt_grade_it_once(site):
    app = site[0]
    tabs, quiz_id, attempt_id, right = quiz_in_progress(site)
    # Each tab sends a different passing form: all right, or one question left blank (75%).
    blanks = [None, *right]
    forms = [{k: v for k, v in right.items() if k != blanks[i % len(blanks)]} for i in range(N)]

    submit = f"/attempts/{attempt_id}/submit"
    responses = all_at_once([partial(tabs[i].post, submit, forms[i]) for i in range(N)])

    assert {(r.status, r.path) for r in responses} == {(302, f"/attempts/{attempt_id}/review")}
    with app.app_context():
        attempt = db.session.scalars(select(Attempt)).one()
        assert attempt.state == AttemptState.FINISHED
        # The stored answers, their marks and the score all come from one and the same grading.
        regraded = [progress.grade_answer(answer) for answer in attempt.answers]
        assert [answer.fraction for answer in attempt.answers] == regraded
        assert attempt.percent == rules.quiz_result(regraded, attempt.item.pass_mark).percent
        assert attempt.is_passed
        assert count(ItemProgress, ItemProgress.item_id == quiz_id) == 1
        assert count(Completion) == 1


def test_saves_racing_a_submit_change_no_answer_once_it_is_graded(site):
    app = site[0]
    tabs, _quiz_id, attempt_id, right = quiz_in_progress(site)
    # One tab submits every answer right; the others save forms that leave some blank.
    forms = [{k: v for n, (k, v) in enumerate(right.items()) if n % N != i} for i in range(N)]
    calls = [partial(tabs[0].post, f"/attempts/{attempt_id}/submit", right)]
    calls += [partial(tabs[i].post, f"/attempts/{attempt_id}/save", forms[i]) for i in range(1, N)]

    responses = all_at_once(calls)

    attempt_page, review = f"/attempts/{attempt_id}", f"/attempts/{attempt_id}/review"
    assert {(r.status, r.path) for r in responses} <= {(302, attempt_page), (302, review)}
    assert responses[0].path == review
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        assert attempt.state == AttemptState.FINISHED
        # What is stored is what was graded: no save wrote over an answer after its grading.
        regraded = [progress.grade_answer(answer) for answer in attempt.answers]
        assert [answer.fraction for answer in attempt.answers] == regraded
        assert attempt.percent == rules.quiz_result(regraded, attempt.item.pass_mark).percent
        assert attempt.is_passed
        assert attempt.percent == 100


def test_sqlite_a_request_takes_the_write_lock_at_its_first_write_not_its_first_read(
    app, make_user
):
    if db.engine.url.get_backend_name() != "sqlite":
        pytest.skip("the writers' queue is SQLite's")
    user = make_user("writer")

    with app.test_request_context("/", method="POST"):
        db.session.close()
        db.session.scalar(select(User.name).where(User.id == user.id))
        assert _writers_turn_is_free()
        # SQLite locks no rows: a locking read waits for no writer and holds none back.
        db.session.scalar(select(User.name).where(User.id == user.id).with_for_update())
        assert _writers_turn_is_free()
        assert not db.session.connection().connection.dbapi_connection.in_transaction
        db.session.get(User, user.id).name = "Renamed"
        db.session.flush()
        assert not _writers_turn_is_free()
        db.session.rollback()
    assert _writers_turn_is_free()
    assert db.session.get(User, user.id).name == "Writer"


def _writers_turn_is_free() -> bool:
    turn = os.open(f"{db.engine.url.database}-writers.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(turn, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(turn)  # closing the descriptor releases a lock taken through it
    return True


def test_sqlite_a_write_whole_by_itself_still_takes_the_writers_turn(app, make_user):
    if db.engine.url.get_backend_name() != "sqlite":
        pytest.skip("the writers' queue is SQLite's")
    user = make_user("writer")
    rename = update(User).where(User.id == user.id).values(name="Renamed")
    with app.test_request_context("/", method="POST"):
        db.session.close()
        # `alone` spares PostgreSQL a transaction (an autosave's); SQLite's writers take turns.
        db.session.execute(rename.execution_options(alone=True))
        assert not _writers_turn_is_free()
        db.session.rollback()
    assert _writers_turn_is_free()
    assert db.session.get(User, user.id).name == "Writer"


def test_sqlite_two_threads_of_one_process_take_turns_to_write(app, make_user):
    if db.engine.url.get_backend_name() != "sqlite":
        pytest.skip("the writers' queue is SQLite's")
    user = make_user("writer")
    rename = update(User).where(User.id == user.id)
    first_holds, second_wrote, checked = threading.Event(), threading.Event(), threading.Event()

    def second_writer():
        first_holds.wait(timeout=10)
        with app.test_request_context("/", method="POST"):
            db.session.execute(rename.values(name="Second"))
            second_wrote.set()
            checked.wait(timeout=10)
            db.session.commit()

    other = threading.Thread(target=second_writer)
    other.start()
    with app.test_request_context("/", method="POST"):
        db.session.close()
        db.session.execute(rename.values(name="First"))
        first_holds.set()
        # The other thread's request waits for this one's turn, as another process's would.
        assert not second_wrote.wait(timeout=0.5)
        db.session.commit()
        db.session.close()
    assert second_wrote.wait(timeout=10)
    # The first request gave its own turn back, not the one the second now holds.
    assert not _writers_turn_is_free()
    checked.set()
    other.join(timeout=10)
    assert _writers_turn_is_free()
    db.session.expire_all()
    assert db.session.get(User, user.id).name == "Second"


def test_sqlite_writers_take_turns_and_a_write_request_gives_its_turn_back(app, make_user):
    if db.engine.url.get_backend_name() != "sqlite":
        pytest.skip("the writers' queue is SQLite's")
    sync_catalog(read_catalog(FIXTURES / "courses"))
    db.session.commit()
    client = app.test_client(user=make_user("writer", JobRole.NEW_CUSTOMER_MANAGER))
    intro = db.session.scalar(select(Item.id).where(Item.key == "intro"))
    assert client.post(f"/items/{intro}/done").status_code == 302
    assert os.path.exists(f"{db.engine.url.database}-writers.lock")  # the write took its turn
    assert _writers_turn_is_free()


def test_on_postgresql_a_page_that_only_reads_opens_no_transaction(
    app, make_user, transaction_states
):
    sync_catalog(read_catalog(FIXTURES / "courses"))
    db.session.commit()
    client = app.test_client(user=make_user("reader", JobRole.NEW_CUSTOMER_MANAGER))
    transaction_states.clear()
    assert client.get("/dashboard").status_code == 200
    assert transaction_states
    assert not any(in_transaction for _word, in_transaction in transaction_states)


def test_on_postgresql_a_read_request_opens_a_transaction_at_its_first_write(
    app, make_user, transaction_states
):
    user = make_user("writer")
    with app.test_request_context("/", method="GET"):
        db.session.close()
        transaction_states.clear()
        db.session.scalar(select(User).where(User.id == user.id))
        db.session.add(User(username="first", name="First", password_hash="-"))
        db.session.flush()
        db.session.add(User(username="second", name="Second", password_hash="-"))
        db.session.flush()
        words = [word for word, _ in transaction_states]
        first_write = next(n for n, word in enumerate(words) if word != "SELECT")
        assert first_write > 0
        assert words.count("INSERT") == 2
        assert not any(in_transaction for _, in_transaction in transaction_states[:first_write])
        assert all(in_transaction for _, in_transaction in transaction_states[first_write:])
        db.session.rollback()
    # Rolled back together: the writes of a read request are as whole as any other's.
    assert db.session.scalars(select(User.username)).all() == ["writer"]


def test_on_postgresql_a_locking_read_opens_the_transaction_and_a_post_reads_as_a_get(
    app, make_user, transaction_states
):
    user = make_user("locker")
    seen = {}
    for method, read in (
        ("GET", lambda: db.session.get(User, user.id, with_for_update=True)),
        ("POST", lambda: db.session.scalar(select(User.id))),
    ):
        with app.test_request_context("/", method=method):
            db.session.close()
            transaction_states.clear()
            read()
            seen[method] = [in_transaction for _word, in_transaction in transaction_states]
            db.session.rollback()
    assert seen["GET"]
    assert all(seen["GET"])
    assert seen["POST"] == [False]


def test_on_postgresql_the_first_page_after_the_database_dropped_its_connections_is_served(
    app, make_user, monkeypatch
):
    if db.engine.url.get_backend_name() != "postgresql":
        pytest.skip("SQLite has no server to lose")
    sync_catalog(read_catalog(FIXTURES / "courses"))
    db.session.commit()
    client = app.test_client(user=make_user("reader", JobRole.NEW_CUSTOMER_MANAGER))
    assert client.get("/dashboard").status_code == 200
    db.session.close()
    with db.engine.connect() as admin:
        # As a restart does: every other connection to this database is closed by the server.
        admin.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        admin.rollback()
    monkeypatch.setattr(extensions, "PING_AFTER_IDLE", 0.0)  # every pooled one has lain idle
    assert client.get("/dashboard").status_code == 200


def test_on_postgresql_a_connection_given_autocommit_on_purpose_keeps_it(app):
    if db.engine.url.get_backend_name() != "postgresql":
        pytest.skip("VACUUM is PostgreSQL's")
    for method in ("GET", "POST"):
        with app.test_request_context("/", method=method), db.engine.connect() as conn:
            # VACUUM fails inside a transaction block.
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM (ANALYZE) site_stamp"
            )
