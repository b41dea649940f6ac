"""xAPI statements: valid 1.0.3 by the spec's essential rules, private by default, deterministic."""

import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import pytest

from lms.models import Attempt, AttemptState, Completion, Course, Item, User
from lms.xapi import (
    actor,
    attempt_statements,
    completion_statement,
    duration,
    score,
    statement_id,
    timestamp,
)

BASE = "https://lms.bank.example"
ADL = "http://adlnet.gov/expapi/verbs/"
DURATION = re.compile(r"^P(?!$)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def is_iri(value: str) -> bool:
    parts = urlparse(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value


def check_language_map(names: dict) -> None:
    assert names
    assert all(LANGUAGE_TAG.match(tag) and isinstance(text, str) for tag, text in names.items())


def check_activity(activity: dict) -> None:
    assert activity["objectType"] == "Activity"
    assert is_iri(activity["id"])
    check_language_map(activity["definition"]["name"])
    assert is_iri(activity["definition"]["type"])


def check_agent(agent: dict) -> None:
    assert agent["objectType"] == "Agent"
    # An Agent carries exactly one inverse functional identifier.
    identifiers = {"mbox", "mbox_sha1sum", "openid", "account"} & set(agent)
    assert len(identifiers) == 1
    if "account" in agent:
        assert is_iri(agent["account"]["homePage"])
        assert agent["account"]["name"]
    if "mbox" in agent:
        assert agent["mbox"].startswith("mailto:")


def check_result(result: dict) -> None:
    scaled = result.get("score", {}).get("scaled")
    if scaled is not None:
        assert -1 <= scaled <= 1
    found = result.get("score", {})
    if "min" in found and "max" in found:
        assert found["min"] < found["max"]
    if "raw" in found:
        assert found.get("min", found["raw"]) <= found["raw"] <= found.get("max", found["raw"])
    for flag in ("success", "completion"):
        assert isinstance(result.get(flag, True), bool)
    if "duration" in result:
        assert DURATION.match(result["duration"])


def check_statement(statement: dict) -> None:
    """The essential rules of an xAPI 1.0.3 statement that an LRS enforces."""
    assert {"actor", "verb", "object"} <= set(statement)
    assert statement["version"] == "1.0.3"
    assert str(uuid.UUID(statement["id"])) == statement["id"]
    check_agent(statement["actor"])
    assert is_iri(statement["verb"]["id"])
    check_language_map(statement["verb"]["display"])
    check_activity(statement["object"])
    assert TIMESTAMP.match(statement["timestamp"])
    assert datetime.fromisoformat(statement["timestamp"]).tzinfo is not None
    check_result(statement.get("result", {}))
    context = statement.get("context", {})
    for parent in context.get("contextActivities", {}).get("parent", []):
        check_activity(parent)
    assert all(is_iri(key) for key in context.get("extensions", {}))
    if "language" in context:
        assert LANGUAGE_TAG.match(context["language"])
    assert json.loads(json.dumps(statement)) == statement


# Plain model objects: the functions read attributes only, so no session is needed.


def user(**fields) -> User:
    values = dict(
        id=7, username="zhangsan", name="张三", email="zhang.san@bank.example", employee_no="E1001"
    )
    return User(**(values | fields))


def course() -> Course:
    return Course(
        id=1, slug="kyc-basics", title_zh="了解你的客户", title_en="KYC basics", version=3
    )


def item() -> Item:
    return Item(id=42, course_id=1, key="quiz", kind="quiz", title_zh="测验", title_en="")


def attempt(**fields) -> Attempt:
    values = dict(
        id=12,
        user_id=7,
        item_id=42,
        number=2,
        cycle=1,
        state=AttemptState.FINISHED,
        language="zh",
        course_version=3,
        started_at=datetime(2026, 11, 29, 8, 0, 0),
        finished_at=datetime(2026, 11, 29, 8, 12, 30),
        points=8.5,
        out_of=10.0,
        percent=85.0,
        is_passed=True,
        needs_grading=False,
    )
    return Attempt(**(values | fields))


def completion(**fields) -> Completion:
    values = dict(
        id=5,
        user_id=7,
        course_id=1,
        cycle=2,
        completed_at=datetime(2026, 11, 29, 9, 30, 15, 250000),
        percent=91.25,
        course_version=3,
    )
    return Completion(**(values | fields))


def statements_of(a: Attempt) -> list[dict]:
    return attempt_statements(a, user(), item(), course(), BASE)


def test_a_passed_attempt_is_attempted_then_passed():
    started, finished = statements_of(attempt())
    for statement in (started, finished):
        check_statement(statement)
    assert [started["verb"]["id"], finished["verb"]["id"]] == [ADL + "attempted", ADL + "passed"]
    assert finished["verb"]["display"] == {"en-US": "passed"}
    assert started["timestamp"] == "2026-11-29T08:00:00.000Z"
    assert finished["timestamp"] == "2026-11-29T08:12:30.000Z"
    assert "result" not in started
    assert finished["result"] == {
        "score": {"scaled": 0.85, "raw": 8.5, "min": 0, "max": 10.0},
        "success": True,
        "completion": True,
        "duration": "PT12M30S",
    }
    assert finished["object"] == {
        "objectType": "Activity",
        "id": f"{BASE}/items/42",
        "definition": {
            "name": {"zh-CN": "测验"},
            "type": "http://adlnet.gov/expapi/activities/assessment",
        },
    }
    parent = finished["context"]["contextActivities"]["parent"]
    assert parent == [
        {
            "objectType": "Activity",
            "id": f"{BASE}/courses/kyc-basics",
            "definition": {
                "name": {"zh-CN": "了解你的客户", "en-US": "KYC basics"},
                "type": "http://adlnet.gov/expapi/activities/course",
            },
        }
    ]
    assert finished["context"]["language"] == "zh-CN"
    assert finished["context"]["extensions"] == {
        f"{BASE}/xapi/extensions/course-version": 3,
        f"{BASE}/xapi/extensions/cycle": 1,
        f"{BASE}/xapi/extensions/attempt-number": 2,
    }
    assert "registration" not in finished["context"]


def test_a_failed_attempt_is_failed():
    _started, finished = statements_of(attempt(points=4.0, percent=40.0, is_passed=False))
    check_statement(finished)
    assert finished["verb"]["id"] == ADL + "failed"
    assert finished["result"]["success"] is False
    assert finished["result"]["score"]["scaled"] == 0.4


@pytest.mark.parametrize(
    "fields",
    [
        {"state": AttemptState.IN_PROGRESS, "finished_at": None, "percent": None},
        {"needs_grading": True, "is_passed": False},
    ],
    ids=["open", "awaiting a grader"],
)
def test_an_attempt_without_an_outcome_is_only_attempted(fields):
    statements = statements_of(attempt(**fields))
    assert [s["verb"]["id"] for s in statements] == [ADL + "attempted"]
    check_statement(statements[0])


def test_ids_are_deterministic_and_distinct():
    first = [s["id"] for s in statements_of(attempt())]
    assert first == [s["id"] for s in statements_of(attempt())]
    assert len(set(first)) == 2
    other = [s["id"] for s in statements_of(attempt(id=13))]
    assert not set(first) & set(other)
    # A later grading adds the outcome without changing the id of what was sent before.
    graded = statements_of(attempt(needs_grading=True, is_passed=False))
    assert graded[0]["id"] == first[0]
    assert first[1] == statement_id(BASE, "attempt:12:passed")
    assert statement_id(BASE + "/", "attempt:12:passed") == first[1]
    assert statement_id("https://other.bank.example", "attempt:12:passed") != first[1]


def test_completion_statement():
    statement = completion_statement(completion(), user(), course(), BASE)
    check_statement(statement)
    assert statement["verb"] == {"id": ADL + "completed", "display": {"en-US": "completed"}}
    assert statement["object"]["id"] == f"{BASE}/courses/kyc-basics"
    assert statement["timestamp"] == "2026-11-29T09:30:15.250Z"
    assert statement["result"] == {"completion": True, "score": {"scaled": 0.9125}}
    assert statement["context"]["extensions"] == {
        f"{BASE}/xapi/extensions/course-version": 3,
        f"{BASE}/xapi/extensions/cycle": 2,
    }
    again = completion_statement(completion(), user(), course(), BASE)
    assert again["id"] == statement["id"] == statement_id(BASE, "completion:5:completed")


def test_completion_without_a_score_has_no_score():
    statement = completion_statement(completion(percent=None), user(), course(), BASE)
    check_statement(statement)
    assert statement["result"] == {"completion": True}


def test_actor_sends_no_email_unless_asked():
    agent = actor(user(), BASE)
    check_agent(agent)
    assert agent == {
        "objectType": "Agent",
        "name": "张三",
        "account": {"homePage": BASE, "name": "E1001"},
    }
    assert "zhang.san" not in json.dumps(statements_of(attempt()))


def test_actor_falls_back_to_the_username():
    assert actor(user(employee_no=None), BASE)["account"]["name"] == "zhangsan"


def test_actor_with_email_uses_mbox_as_its_only_identifier():
    agent = actor(user(), BASE, include_email=True)
    check_agent(agent)
    assert agent["mbox"] == "mailto:zhang.san@bank.example"
    assert "account" not in agent
    # Asked for but unknown: the account stays.
    assert "account" in actor(user(email=""), BASE, include_email=True)
    sent = attempt_statements(attempt(), user(), item(), course(), BASE, include_email=True)
    assert all(s["actor"]["mbox"] == "mailto:zhang.san@bank.example" for s in sent)


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (timedelta(0), "PT0S"),
        (timedelta(minutes=12, seconds=30), "PT12M30S"),
        (timedelta(hours=1), "PT1H"),
        (timedelta(hours=1, seconds=5.25), "PT1H5.25S"),
        (timedelta(hours=26, minutes=3), "PT26H3M"),
        (timedelta(seconds=59.999), "PT1M"),
        (timedelta(seconds=0.5), "PT0.5S"),
        (timedelta(seconds=-3), "PT0S"),
    ],
)
def test_duration(elapsed, expected):
    assert duration(elapsed) == expected
    assert DURATION.match(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 11, 29, 8, 0), "2026-11-29T08:00:00.000Z"),
        (datetime(2026, 11, 29, 8, 0, 0, 123456), "2026-11-29T08:00:00.123Z"),
        (
            datetime(2026, 11, 29, 16, 0, tzinfo=timezone(timedelta(hours=8))),
            "2026-11-29T08:00:00.000Z",
        ),
    ],
)
def test_timestamp_is_utc_with_z(value, expected):
    assert timestamp(value) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((85.0, 8.5, 10.0), {"scaled": 0.85, "raw": 8.5, "min": 0, "max": 10.0}),
        ((120.0,), {"scaled": 1.0}),
        ((0.0, 0.0, 0.0), {"scaled": 0.0}),
        ((50.0, 12.0, 10.0), {"scaled": 0.5, "min": 0, "max": 10.0}),
        ((None, None, None), {}),
    ],
)
def test_score_stays_within_the_spec_bounds(args, expected):
    assert score(*args) == expected
