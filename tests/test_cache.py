"""What is kept per process (lms/cache.py) gives way as soon as the data it rests on changes."""

import re

from sqlalchemy import select

from lms import cache, requirements
from lms.extensions import db
from lms.models import (
    Completion,
    Course,
    Group,
    GroupMember,
    Item,
    JobRole,
    Role,
    SiteStamp,
    User,
)


def stamps(user: User) -> tuple[int, int]:
    db.session.expire_all()
    site = db.session.scalar(select(SiteStamp.value)) or 0
    return db.session.get(User, user.id).stamp, site


def test_a_persons_record_moves_their_stamp_only(load_courses, make_user):
    load_courses()
    ann, bob = make_user("ann"), make_user("bob")
    ann_before, site_before = stamps(ann)
    bob_before, _ = stamps(bob)
    course = db.session.scalar(select(Course))
    db.session.add(Completion(user_id=ann.id, course_id=course.id))
    db.session.commit()
    assert stamps(ann) == (ann_before + 1, site_before)
    assert stamps(bob) == (bob_before, site_before)


def test_what_applies_to_everyone_moves_the_site_stamp(load_courses, make_user):
    load_courses()
    ann = make_user("ann")
    _, site = stamps(ann)
    group = Group(name="新员工")
    db.session.add(group)
    db.session.commit()
    assert stamps(ann)[1] == site + 1
    db.session.add(GroupMember(group_id=group.id, user_id=ann.id))
    db.session.commit()
    assert stamps(ann)[1] == site + 2
    db.session.get(User, ann.id).job_role = JobRole.SENIOR_CUSTOMER_MANAGER
    db.session.commit()
    assert stamps(ann)[1] == site + 3


def test_signing_in_and_a_new_password_move_no_stamp(load_courses, make_user):
    load_courses()
    ann = make_user("ann")
    before = stamps(ann)
    user = db.session.get(User, ann.id)
    user.set_password("another-password-1")
    user.locale = "en"
    db.session.commit()
    assert stamps(ann) == before


def test_a_renamed_course_shows_on_the_next_page(app, load_courses, make_user):
    load_courses()
    learner = make_user("new.manager", JobRole.NEW_CUSTOMER_MANAGER)
    client = app.test_client(user=learner)
    assert "基础知识" in client.get("/dashboard").get_data(as_text=True)
    db.session.scalar(select(Course).where(Course.slug == "starter-basics")).title_zh = "新名称"
    db.session.commit()
    page = client.get("/dashboard").get_data(as_text=True)
    assert "新名称" in page
    assert "基础知识" not in page


def test_a_transaction_does_not_keep_what_it_derived_from_its_own_writes(load_courses):
    load_courses()
    assert requirements.catalogue().slugs["starter-basics"].title_zh == "基础知识"  # kept
    course = db.session.scalar(select(Course).where(Course.slug == "starter-basics"))
    course.title_zh = "未提交"
    db.session.flush()
    assert cache.site_written()
    assert requirements.catalogue().slugs["starter-basics"].title_zh == "未提交"
    db.session.rollback()
    assert not cache.site_written()
    assert requirements.catalogue().slugs["starter-basics"].title_zh == "基础知识"


def test_the_least_recently_used_copy_goes_first():
    kept = cache.LRU(2)
    kept.get("a", lambda: 1)
    kept.get("b", lambda: 2)
    assert kept.get("a", lambda: 0) == 1  # a is used again: b is now the oldest
    kept.get("c", lambda: 3)
    assert list(kept.entries) == ["a", "c"]


def test_a_learners_page_part_is_rendered_once_per_plan_and_language(app, load_courses, make_user):
    load_courses()
    learner = make_user("new.manager", JobRole.NEW_CUSTOMER_MANAGER)
    client = app.test_client(user=learner)
    first = client.get("/dashboard").get_data(as_text=True)
    second = client.get("/dashboard").get_data(as_text=True)
    # Alike but for the CSRF tokens, which carry the second they were signed in.
    assert _without_tokens(second) == _without_tokens(first)
    parts = app.extensions["lms.cache"]["part:dashboard"].entries
    assert len(parts) == 1
    client.post("/language", data={"locale": "en", "next": "/dashboard"})
    english = client.get("/dashboard").get_data(as_text=True)
    assert "Basics" in english
    assert "基础知识" not in english
    assert len(parts) == 2


def test_a_course_page_shows_the_lesson_done_since_it_was_last_shown(app, load_courses, make_user):
    load_courses()
    learner = make_user("new.manager", JobRole.NEW_CUSTOMER_MANAGER)
    client = app.test_client(user=learner)
    intro = db.session.scalar(select(Item).where(Item.key == "intro"))
    done = '<li class="lesson done">'
    assert done not in client.get("/courses/starter-basics").get_data(as_text=True)
    assert client.post(f"/items/{intro.id}/done").status_code == 302
    assert done in client.get("/courses/starter-basics").get_data(as_text=True)


def test_the_top_of_every_page_is_written_once_per_roles_team_and_language(app, make_user):
    learner = make_user("learner")
    trainer = make_user("trainer", roles={Role.TRAINER, Role.LEARNER})
    boss = make_user("boss")
    db.session.get(User, learner.id).manager_id = boss.id
    db.session.commit()

    def top(user: User, language: str = "zh") -> str:
        client = app.test_client(user=user)
        if language != "zh":
            client.post("/language", data={"locale": language, "next": "/transcript"})
        page = client.get("/transcript").get_data(as_text=True)
        return page[page.index('<header class="top">') : page.index('<div class="session">')]

    assert 'href="/transcript"' in top(learner)
    assert top(make_user("learner2")) == top(learner)  # the same roles: the same part
    assert "/author" in top(trainer)
    assert "/author" not in top(learner)
    assert "/team" in top(boss)
    assert "/team" not in top(learner)
    assert "Transcript" not in top(learner)
    assert "Transcript" in top(learner, "en")
    parts = app.extensions["lms.cache"]["layout:top"].entries
    assert len(parts) == 4  # learners, trainers, managers; learners in English


def _without_tokens(page: str) -> str:
    return re.sub(r'(name="csrf_token"[^>]*value=")[^"]*', r"\1", page)
