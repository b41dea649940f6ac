"""Every URL of the app, for every kind of person: a new route without a check fails here."""

import pytest

from lms.models import Role

PUBLIC = {
    "auth.login",
    "auth.logout",
    "auth.set_language",
    "auth.verify_certificate",
    "auth.index",
    "static",
}
SIGNED_IN = {"auth.change_password"}
GATES = {
    "learning": {Role.LEARNER},
    "authoring": {Role.TRAINER},
    "reports": {Role.HR, Role.ADMIN},
    "admin": {Role.ADMIN},
    # No role opens a manager's pages: having an active direct report does (tests/test_team.py).
    "team": set(),
}
ARGS = {
    "answer_id": 1,
    "item_id": 1,
    "attempt_id": 1,
    "user_id": 1,
    "slug": "x",
    "code": "x",
    "filename": "x",
    "index": 0,
    "key": "x",
    "action": "up",
    "decision": "approve",
    "old": 1,
    "new": 2,
    "number": 1,
    "name": "x",
    "group_id": 1,
    "assignment_id": 1,
    "language": "zh",
    "fmt": "csv",
    "completion_id": 1,
    "request_id": 1,
    "course_id": 1,
}


def rules(app):
    for rule in app.url_map.iter_rules():
        method = "POST" if "POST" in rule.methods and "GET" not in rule.methods else "GET"
        yield rule, method


def test_every_endpoint_is_public_or_behind_a_gate(app):
    for rule, _method in rules(app):
        blueprint = rule.endpoint.split(".")[0]
        assert rule.endpoint in PUBLIC | SIGNED_IN or blueprint in GATES, rule.endpoint


@pytest.mark.parametrize("locale", ["zh", "en"])
@pytest.mark.parametrize("role", [None, *Role])
def test_access_matrix(app, make_user, role, locale):
    if role is None:
        client = app.test_client()
    else:
        user = make_user(f"user-{role}", roles={role})
        user.locale = locale
        client = app.test_client(user=user)
    for rule, method in rules(app):
        if rule.endpoint in PUBLIC:
            continue
        url = rule.build({arg: ARGS[arg] for arg in rule.arguments})[1]
        response = client.open(url, method=method)
        gate = GATES.get(rule.endpoint.split(".")[0])
        if role is None:
            assert response.status_code == 302, url
            assert "/login" in response.location, url
        elif gate is not None and role not in gate:
            assert response.status_code == 403, (url, role)
        else:
            assert response.status_code in (200, 302, 400, 404), (url, role, response.status_code)
