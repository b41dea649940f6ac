"""With Redis, the workers share HR's standings (lms/cache.py): what one worked out, another
serves without working it out, and never a copy that is stale or another database's."""

import logging
import re
from datetime import date

import pytest
import redis
from sqlalchemy import event, select, update

from lms import cache, create_app, requirements
from lms.compliance import Standing, Status
from lms.extensions import db
from lms.models import JobRole, Role, SiteStamp, User
from tests.conftest import FIXTURES, Client
from tests.test_auth import REDIS_URL
from tests.test_learning import RIGHT, item_id, take_quiz


@pytest.fixture
def redis_url():
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture
def workers(app):
    """Start a worker: a gunicorn process of its own on the suite's database, with an empty
    memory: `workers(redis_url)`."""
    started = []

    def start(redis_url: str | None):
        worker = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "test",
                "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                "COURSES_PATH": str(FIXTURES / "courses"),
                "CACHE_REDIS_URL": redis_url,
            }
        )
        worker.test_client_class = Client
        started.append(worker)
        return worker

    yield start
    for worker in started:
        with worker.app_context():
            db.engine.dispose()


@pytest.fixture
def staff(load_courses, make_user):
    load_courses()
    for n, role in enumerate([JobRole.NEW_CUSTOMER_MANAGER, JobRole.CREDIT_OFFICER] * 3):
        make_user(f"staff{n}", role)
    return make_user("hr", roles={Role.HR})


class Statements:
    """The SQL statements a worker runs inside the `with` block."""

    def __init__(self, worker):
        with worker.app_context():
            self.engine = db.engine
        self.run: list[str] = []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self.record)
        return self

    def __exit__(self, *_exc):
        event.remove(self.engine, "before_cursor_execute", self.record)

    def record(self, _conn, _cursor, statement, *_args):
        self.run.append(statement)

    @property
    def standings_queries(self) -> list[str]:
        # Only working standings out reads what people have begun (requirements.started).
        return [s for s in self.run if "item_progress" in s]


def cells(worker, hr: User) -> str:
    """The matrix's rows, as a worker shows them to HR."""
    page = worker.test_client(user=hr).get("/reports/matrix").get_data(as_text=True)
    return re.search(r"<tbody>.*</tbody>", page, re.S).group(0)


def test_a_second_worker_serves_the_standings_the_first_worked_out(staff, workers, redis_url):
    first, second = workers(redis_url), workers(redis_url)
    with Statements(first) as worked_out:
        shown = cells(first, staff)
    assert worked_out.standings_queries
    with Statements(second) as served:
        assert cells(second, staff) == shown
    assert not served.standings_queries
    assert len(served.run) < len(worked_out.run)


def test_a_change_to_a_persons_records_shows_on_the_other_workers_next_page(
    app, staff, workers, redis_url
):
    first, second = workers(redis_url), workers(redis_url)
    before = cells(first, staff)
    learner = db.session.scalar(select(User).where(User.username == "staff0"))
    client = app.test_client(user=learner)
    client.post(f"/items/{item_id('intro')}/done")
    take_quiz(client, RIGHT)
    after = cells(second, staff)
    assert after != before
    assert after == cells(workers(None), staff)  # as worked out afresh


def test_a_database_created_anew_does_not_see_the_standings_of_the_one_before(
    app, load_courses, make_user, workers, redis_url
):
    def build(*, completes: bool) -> User:
        load_courses()
        hr = make_user("hr", roles={Role.HR})
        learner = make_user("learner", JobRole.NEW_CUSTOMER_MANAGER)
        if completes:
            client = app.test_client(user=learner)
            client.post(f"/items/{item_id('intro')}/done")
            take_quiz(client, RIGHT)
        return hr

    def stamps() -> list[tuple[int, int]]:
        return db.session.execute(select(User.id, User.stamp).order_by(User.id)).all()

    hr = build(completes=True)
    done, done_stamps = cells(workers(redis_url), hr), stamps()
    db.session.remove()
    db.drop_all()
    db.create_all()
    hr = build(completes=False)
    for user_id, stamp in done_stamps:
        db.session.execute(update(User).where(User.id == user_id).values(stamp=stamp))
    db.session.commit()
    assert stamps() == done_stamps  # the same people and stamps: only the site stamp differs
    assert cells(workers(redis_url), hr) != done
    assert cells(workers(redis_url), hr) == cells(workers(None), hr)


def test_without_redis_the_matrix_is_worked_out_and_a_warning_logged_once(
    staff, workers, caplog, monkeypatch
):
    monkeypatch.setattr(cache, "_resting_until", {})
    # A migration run earlier in the process (alembic's fileConfig) disables existing loggers.
    monkeypatch.setattr(cache.log, "disabled", False)
    down = "redis://127.0.0.1:1/15"
    expected = cells(workers(None), staff)
    with caplog.at_level(logging.WARNING, logger="lms.cache"):
        assert cells(workers(down), staff) == expected
        assert cells(workers(down), staff) == expected
    assert len(caplog.records) == 1  # the process then leaves Redis alone for a while


def test_nothing_is_shared_before_the_site_stamp_exists(
    load_courses, make_user, workers, redis_url
):
    load_courses()
    make_user("learner", JobRole.NEW_CUSTOMER_MANAGER)
    hr = make_user("hr", roles={Role.HR})
    db.session.execute(SiteStamp.__table__.delete())
    db.session.commit()
    shown = cells(workers(redis_url), hr)
    assert cache.site_stamp() == 0
    assert shown == cells(workers(None), hr)
    server = redis.Redis.from_url(redis_url)
    kept = f"{requirements.SHARED_STANDINGS.prefix}*:0:{date.today().isoformat()}"
    assert not list(server.scan_iter(kept))


def test_a_transaction_shares_nothing_it_derived_from_its_own_writes(app, staff, redis_url):
    app.config["CACHE_REDIS_URL"] = redis_url
    learner = db.session.scalar(select(User).where(User.username == "staff0"))
    cache.touch(learner.id)  # a change to their records, not committed
    db.session.refresh(learner)
    requirements.rows_for([learner], requirements.catalogue(), date.today())
    server = redis.Redis.from_url(redis_url)
    prefix = requirements.SHARED_STANDINGS.prefix
    assert not list(server.scan_iter(f"{prefix}{learner.id}:{learner.stamp}:*"))
    db.session.rollback()


def test_the_site_stamp_starts_at_random(load_courses):
    load_courses()
    first = db.session.scalar(select(SiteStamp.value))
    db.session.remove()
    db.drop_all()
    db.create_all()
    load_courses()
    assert db.session.scalar(select(SiteStamp.value)) not in (first, 0, 1)


def test_standings_read_back_from_their_text_equal_the_ones_worked_out():
    table = {
        1: Standing(Status.COMPLETE, None, date(2026, 3, 1), date(2026, 2, 1)),
        2: Standing(Status.OVERDUE, date(2025, 1, 31), None, None),
        3: Standing(Status.NOT_STARTED, None, None, None),
    }
    text = requirements.encode_standings(table)
    assert requirements.decode_standings(text.encode()) == table
    assert all(type(s.status) is Status for s in requirements.decode_standings(text).values())
