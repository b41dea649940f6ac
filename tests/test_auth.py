"""Signing in and out, passwords, CSRF and language, through the real forms."""

import os
import re

import pytest

from lms import create_app
from lms.extensions import db
from lms.models import JobRole
from tests.conftest import PASSWORD

# A database of its own, emptied by the test.
REDIS_URL = os.environ.get("LMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def token(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def sign_in(client, username, password=PASSWORD, next_url=""):
    page = client.get(f"/login{next_url}").get_data(as_text=True)
    return client.post(
        f"/login{next_url}",
        data={"username": username, "password": password, "csrf_token": token(page)},
    )


def test_sign_in_through_the_form_lands_on_the_dashboard(csrf_app, make_user):
    make_user("new.manager", JobRole.NEW_CUSTOMER_MANAGER)
    client = csrf_app.test_client()
    response = sign_in(client, "new.manager")
    assert response.status_code == 302
    assert client.get(response.location).status_code == 200


def test_a_wrong_password_signs_nobody_in(csrf_app, make_user):
    make_user("new.manager")
    client = csrf_app.test_client()
    response = sign_in(client, "new.manager", "wrong password")
    assert response.status_code == 200
    assert "用户名或密码错误。" in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302


def test_a_post_without_csrf_token_is_refused(csrf_app, make_user):
    make_user("new.manager")
    client = csrf_app.test_client()
    response = client.post("/login", data={"username": "new.manager", "password": PASSWORD})
    assert response.status_code == 400
    assert "Traceback" not in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302


def test_sign_out_ends_the_session(csrf_app, make_user):
    make_user("new.manager")
    client = csrf_app.test_client()
    sign_in(client, "new.manager")
    page = client.get("/dashboard").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": token(page)})
    assert client.get("/dashboard").status_code == 302


def test_the_next_parameter_cannot_leave_the_site(csrf_app, make_user):
    make_user("new.manager")
    response = sign_in(csrf_app.test_client(), "new.manager", next_url="?next=//evil.example/")
    assert response.location == "/dashboard"


def test_changing_the_password_ends_other_sessions(csrf_app, make_user):
    user = make_user("new.manager")
    mine, other = csrf_app.test_client(), csrf_app.test_client()
    sign_in(mine, "new.manager")
    sign_in(other, "new.manager")
    page = mine.get("/password").get_data(as_text=True)
    mine.post(
        "/password",
        data={
            "current": PASSWORD,
            "new": "a new long password",
            "confirm": "a new long password",
            "csrf_token": token(page),
        },
    )
    db.session.refresh(user)
    assert user.check_password("a new long password")
    assert mine.get("/dashboard").status_code == 200
    assert other.get("/dashboard").status_code == 302


def test_a_wrong_current_password_changes_nothing(app, make_user):
    user = make_user("new.manager")
    client = app.test_client(user=user)
    response = client.post(
        "/password", data={"current": "nope", "new": "x" * 12, "confirm": "x" * 12}
    )
    assert response.status_code == 200
    db.session.refresh(user)
    assert user.check_password(PASSWORD)


def test_the_chosen_language_is_remembered(app, make_user):
    user = make_user("new.manager")
    client = app.test_client(user=user)
    client.post("/language", data={"locale": "en", "next": "/dashboard"})
    db.session.refresh(user)
    assert user.locale == "en"
    assert "My training" in client.get("/dashboard").get_data(as_text=True)
    client.post("/language", data={"locale": "zh", "next": "/dashboard"})
    assert "我的培训" in client.get("/dashboard").get_data(as_text=True)


def test_an_unknown_page_shows_a_friendly_error(app):
    response = app.test_client().get("/no/such/page")
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


def test_ten_failed_sign_ins_stop_that_username_for_a_while(csrf_app, make_user):
    make_user("new.manager")
    make_user("colleague")
    assert sign_in(csrf_app.test_client(), "new.manager").status_code == 302  # not counted
    guesser = csrf_app.test_client()
    for _ in range(10):
        assert sign_in(guesser, "new.manager", "wrong password").status_code == 200
    refused = sign_in(guesser, "new.manager")  # even with the right password
    assert refused.status_code == 429
    assert "登录失败次数过多" in refused.get_data(as_text=True)
    assert sign_in(guesser, "colleague").status_code == 302  # others at that address still can


def test_with_redis_every_worker_counts_the_same_failed_sign_ins(app, make_user, monkeypatch):
    redis = pytest.importorskip("redis")
    server = redis.Redis.from_url(REDIS_URL)
    try:
        server.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    make_user("new.manager")
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    config = {
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
    }
    server.flushdb()
    workers = [create_app(config), create_app(config)]
    try:
        first_worker = workers[0].test_client()
        for _ in range(10):
            sign_in(first_worker, "new.manager", "wrong password")
        # Another worker starts with nothing in its memory: the count is Redis's.
        assert sign_in(workers[1].test_client(), "new.manager").status_code == 429
        assert any(b"new.manager" in key for key in server.scan_iter())
    finally:
        server.flushdb()
        for worker in workers:
            with worker.app_context():
                db.engine.dispose()
