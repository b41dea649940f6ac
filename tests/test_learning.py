"""The learner's journey through the web pages, on a real database."""

import re
import shutil
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from lms import cache, progress
from lms.extensions import db
from lms.models import (
    Assignment,
    Attempt,
    AttemptAnswer,
    AttemptState,
    Completion,
    Course,
    Item,
    ItemProgress,
    JobRole,
    Role,
    utcnow,
)
from tests.conftest import FIXTURES

RIGHT = {"principles": "4", "incentive": "嘉奖", "weekly": "true", "who": "客户经理"}


@pytest.fixture
def learner(load_courses, make_user):
    load_courses()
    return make_user("new.manager", JobRole.NEW_CUSTOMER_MANAGER)


@pytest.fixture
def client(app, learner):
    return app.test_client(user=learner)


def course_id(slug: str) -> int:
    return db.session.scalar(select(Course.id).where(Course.slug == slug))


def item_id(key: str) -> int:
    return db.session.scalar(select(Item.id).where(Item.key == key))


def start(client, quiz="check") -> Attempt:
    response = client.post(f"/items/{item_id(quiz)}/attempts")
    assert response.status_code == 302
    attempt_id = int(re.search(r"/attempts/(\d+)", response.location).group(1))
    return db.session.get(Attempt, attempt_id)


def form_for(attempt: Attempt, answers: dict[str, str]) -> dict[str, str]:
    """Fill the attempt's form by question name, the way the page's fields are named."""
    form = {}
    for answer in attempt.answers:
        wanted = answers.get(answer.snapshot["name"])
        if wanted is None:
            continue
        if answer.snapshot["qtype"] == "multichoice":
            texts = [c["text"] for c in answer.snapshot["choices"]]
            form[f"q{answer.position}"] = str(texts.index(wanted))
        else:
            form[f"q{answer.position}"] = wanted
    return form


def take_quiz(client, answers: dict[str, str]) -> Attempt:
    attempt = start(client)
    client.post(f"/attempts/{attempt.id}/submit", data=form_for(attempt, answers))
    db.session.refresh(attempt)
    return attempt


def test_dashboard_shows_the_track_of_the_job_role_with_progress(client):
    page = client.get("/dashboard").get_data(as_text=True)
    assert "入门" in page
    assert "进阶" not in page
    assert "0 of 2 courses complete" in page or "0/2" in page or "共 2" in page


def test_a_track_shows_after_the_tracks_it_requires_and_stays_locked(app, load_courses, make_user):
    load_courses()
    senior = make_user("senior", JobRole.SENIOR_CUSTOMER_MANAGER)
    client = app.test_client(user=senior)
    page = client.get("/dashboard").get_data(as_text=True)
    assert page.index("入门") < page.index("进阶")
    assert client.get(f"/items/{item_id('only')}").status_code == 302  # locked: back to outline
    assert client.post(f"/items/{item_id('only')}/done").status_code == 403


def test_a_course_of_another_job_role_is_forbidden(client):
    assert client.get("/courses/advanced-course").status_code == 403
    assert client.get(f"/items/{item_id('only')}").status_code == 403


def test_lesson_is_sanitised_and_marked_done(client, learner):
    page = client.get(f"/items/{item_id('intro')}").get_data(as_text=True)
    assert "<strong>熟悉</strong>" in page
    assert "<script>alert" not in page
    client.post(f"/items/{item_id('intro')}/done")
    done = db.session.scalar(select(func.count()).select_from(ItemProgress))
    assert done == 1
    client.post(f"/items/{item_id('intro')}/done")  # twice is still once
    assert db.session.scalar(select(func.count()).select_from(ItemProgress)) == 1


def test_english_learners_see_the_english_rendering(client, learner):
    learner.locale = "en"
    db.session.commit()
    page = client.get(f"/items/{item_id('intro')}").get_data(as_text=True)
    assert "must <strong>know</strong> the bank" in page


def test_the_answer_key_never_reaches_the_browser_before_review(client):
    attempt = start(client)
    page = client.get(f"/attempts/{attempt.id}").get_data(as_text=True)
    assert "每个客户经理" not in page  # the short answer's key
    assert 'value="4"' not in page
    assert "见“介绍”" not in page  # feedback


def test_answers_are_saved_as_they_go(client):
    attempt = start(client)
    form = form_for(attempt, {"who": "客户经理", "principles": "3"})
    response = client.post(
        f"/attempts/{attempt.id}/save", data=form, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.json["is_open"] is True
    page = client.get(f"/attempts/{attempt.id}").get_data(as_text=True)
    assert 'value="客户经理"' in page
    assert 'value="3"' in page


def test_a_submit_keeps_the_last_answers_and_when_each_changed(client):
    attempt = start(client)
    saved = form_for(attempt, {"who": "客户经理", "principles": "3"})
    client.post(f"/attempts/{attempt.id}/save", data=saved)
    by_name = {a.snapshot["name"]: a for a in attempt.answers}
    db.session.refresh(by_name["who"])
    saved_at = by_name["who"].saved_at
    assert saved_at is not None

    # One answer changed and one added on the submit; "who" as saved.
    submitted = form_for(attempt, {"who": "客户经理", "principles": "4", "weekly": "true"})
    client.post(f"/attempts/{attempt.id}/submit", data=submitted)
    db.session.refresh(attempt)
    for answer in attempt.answers:
        db.session.refresh(answer)
    assert (by_name["who"].response, by_name["who"].saved_at) == ("客户经理", saved_at)
    assert by_name["principles"].saved_at == by_name["weekly"].saved_at == attempt.finished_at
    assert by_name["weekly"].response is True
    assert [by_name[n].fraction for n in ("who", "principles", "weekly", "incentive")] == [
        1.0,
        1.0,
        1.0,
        0.0,
    ]
    assert (by_name["incentive"].response, by_name["incentive"].saved_at) == (None, None)
    assert attempt.percent == 75.0


def test_fail_then_pass_records_one_completion_with_version_and_certificate(client, learner):
    client.post(f"/items/{item_id('intro')}/done")
    answers = {"principles": "3", "incentive": "惩罚", "weekly": "false", "who": "客户经理"}
    failed = take_quiz(client, answers)
    assert (failed.percent, failed.is_passed) == (25.0, False)
    review = client.get(f"/attempts/{failed.id}/review").get_data(as_text=True)
    assert "惩罚" in review  # what the learner chose
    assert "嘉奖" not in review  # the key waits until passed or no attempt is left
    assert "见“介绍”" not in review
    assert db.session.scalar(select(func.count()).select_from(Completion)) == 0

    passed = take_quiz(client, RIGHT)
    assert (passed.number, passed.percent, passed.is_passed) == (2, 100.0, True)
    review = client.get(f"/attempts/{passed.id}/review").get_data(as_text=True)
    assert "见“介绍”" in review  # feedback once passed

    completion = db.session.scalars(select(Completion)).one()
    assert (completion.user_id, completion.percent, completion.course_version) == (
        learner.id,
        100.0,
        1,
    )
    certificate = client.get(f"/certificates/{completion.certificate_code}")
    assert learner.name in certificate.get_data(as_text=True)
    transcript = client.get("/transcript").get_data(as_text=True)
    assert completion.certificate_code in transcript


def test_a_lesson_done_after_the_quiz_completes_the_course_with_the_quiz_s_grade(client, learner):
    take_quiz(client, {"who": "客户经理"})  # 25 %: failed
    take_quiz(client, RIGHT)
    assert db.session.scalar(select(func.count()).select_from(Completion)) == 0
    client.post(f"/items/{item_id('intro')}/done")
    completion = db.session.scalars(select(Completion)).one()
    assert completion.percent == 100.0  # the grade by the quiz's method: the highest


def test_anyone_can_verify_a_certificate_which_shows_name_course_and_date_only(app, client):
    client.post(f"/items/{item_id('intro')}/done")
    take_quiz(client, RIGHT)
    completion = db.session.scalars(select(Completion)).one()
    page = app.test_client().get(f"/verify/{completion.certificate_code.lower()}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "New.Manager" in text
    assert "基础知识" in text
    assert "100" not in re.sub(r"<[^>]+>", "", text).replace(completion.certificate_code, "")
    assert app.test_client().get("/verify/NOPE-NOPE-NOPE").status_code == 404


def test_a_save_into_an_attempt_closed_since_it_was_read_writes_nothing(app, client):
    attempt_id = start(client).id
    with app.test_request_context("/", method="POST"):
        attempt, responses = progress.attempt_to_write(attempt_id, lock=False)
        form = form_for(attempt, {"who": "客户经理"})
        # Closed after the read, as a submit in another tab does between a save's read and
        # its write (on SQLite nothing locks the row in between).
        closed = update(Attempt).where(Attempt.id == attempt_id).values(state=AttemptState.FINISHED)
        db.session.execute(closed.execution_options(synchronize_session=False))
        assert not progress.save_responses(attempt, form, utcnow(), responses)
        saved = db.session.scalars(
            select(AttemptAnswer.response).where(AttemptAnswer.attempt_id == attempt_id)
        ).all()
        assert saved
        assert set(saved) == {None}
        db.session.rollback()


def test_an_autosave_on_postgresql_opens_no_transaction(client, transaction_states):
    attempt = start(client)
    form = form_for(attempt, {"who": "客户经理"})
    db.session.close()  # the request checks out its own connection, as a server's do
    transaction_states.clear()
    assert client.post(f"/attempts/{attempt.id}/save", data=form).status_code == 302
    # The user, the attempt with its responses, the changed one written: each whole by
    # itself, without the two round trips of a BEGIN and a COMMIT.
    assert transaction_states == [("SELECT", False), ("SELECT", False), ("UPDATE", False)]
    saved = select(AttemptAnswer.response).where(AttemptAnswer.attempt_id == attempt.id)
    assert "客户经理" in db.session.scalars(saved).all()


def test_a_quiz_submitted_twice_is_graded_once(client):
    attempt = start(client)
    form = form_for(attempt, RIGHT)
    client.post(f"/attempts/{attempt.id}/submit", data=form)
    client.post(f"/attempts/{attempt.id}/submit", data={})  # a second tab, with nothing filled
    db.session.refresh(attempt)
    assert attempt.percent == 100.0
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 1


def test_the_attempt_limit_holds(client):
    for _ in range(3):
        take_quiz(client, {})
    response = client.post(f"/items/{item_id('check')}/attempts", follow_redirects=True)
    assert "本测验已无剩余作答次数。" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 3
    review = client.get(f"/attempts/{db.session.scalar(select(Attempt.id).limit(1))}/review")
    assert "嘉奖" in review.get_data(as_text=True)  # final: the key is shown now


def test_the_time_limit_is_enforced_by_the_server(client):
    item = db.session.get(Item, item_id("check"))
    item.time_limit = 10
    db.session.commit()
    attempt = start(client)
    client.post(f"/attempts/{attempt.id}/save", data=form_for(attempt, {"who": "客户经理"}))
    attempt.deadline_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    late = client.post(
        f"/attempts/{attempt.id}/save",
        data=form_for(attempt, RIGHT),
        headers={"Accept": "application/json"},
    )
    assert late.status_code == 409
    db.session.refresh(attempt)
    assert attempt.state == "finished"
    assert attempt.percent == 25.0  # only what was saved in time counts


def test_a_learner_cannot_open_another_learners_attempt_or_certificate(app, client, make_user):
    client.post(f"/items/{item_id('intro')}/done")
    attempt = take_quiz(client, RIGHT)
    other = app.test_client(user=make_user("other", JobRole.NEW_CUSTOMER_MANAGER))
    code = db.session.scalar(select(Completion.certificate_code))
    assert other.get(f"/attempts/{attempt.id}").status_code == 403
    assert other.get(f"/attempts/{attempt.id}/review").status_code == 403
    assert other.post(f"/attempts/{attempt.id}/submit").status_code == 403
    assert other.get(f"/certificates/{code}").status_code == 403


def test_a_trainer_signs_off_the_practical_step_which_completes_the_course(
    app, client, learner, make_user
):
    client.post(f"/items/{item_id('intro')}/done")
    take_quiz(client, RIGHT)  # the practical course requires the basics
    trainer = app.test_client(user=make_user("mentor", roles={Role.TRAINER}))
    practical = item_id("practical-1")
    assert "New.Manager" in trainer.get("/author/signoffs").get_data(as_text=True)
    trainer.post(f"/author/signoffs/{practical}/{learner.id}", data={"note": "跟班一周"})
    progress = db.session.scalars(select(ItemProgress).where(ItemProgress.item_id == practical))
    assert progress.one().note == "跟班一周"
    assert db.session.scalar(select(func.count()).select_from(Completion)) == 2
    page = trainer.get("/author/signoffs").get_data(as_text=True)
    assert f"/author/signoffs/{practical}/{learner.id}" not in page


def test_dashboard_query_count_does_not_grow_with_progress(client, count_queries):
    with count_queries() as before:
        client.get("/dashboard")
    client.post(f"/items/{item_id('intro')}/done")
    take_quiz(client, RIGHT)
    with count_queries() as after:
        client.get("/dashboard")
    with count_queries(warm=True) as cached:
        client.get("/dashboard")
    assert after.count == before.count
    assert after.count <= 12
    assert cached.count == 1  # the signed-in user, with the stamps that say the plan is current


@pytest.mark.parametrize(
    ("page", "cached_queries"),
    [("/courses/starter-basics", 1), ("/items/{intro}", 1), ("/items/{check}", 2)],
)
def test_course_lesson_and_quiz_pages_cost_a_few_queries_whatever_the_progress(
    client, count_queries, page, cached_queries
):
    path = page.format(intro=item_id("intro"), check=item_id("check"))
    with count_queries() as before:
        assert client.get(path).status_code == 200
    client.post(f"/items/{item_id('intro')}/done")
    take_quiz(client, RIGHT)
    with count_queries() as after:
        assert client.get(path).status_code == 200
    with count_queries(warm=True) as cached:
        client.get(path)
    assert after.count == before.count <= 12
    # The signed-in user; and the quiz's attempts, which are read fresh.
    assert cached.count == cached_queries


def test_a_cached_plan_gives_way_to_the_learners_progress_and_to_a_new_assignment(client, learner):
    client.get("/dashboard")  # cached
    client.post(f"/items/{item_id('intro')}/done")
    take_quiz(client, RIGHT)
    page = client.get("/dashboard").get_data(as_text=True)
    assert "已完成 1/2 门课程" in page
    assert "advanced-course" not in page
    db.session.add(
        Assignment(user_id=learner.id, course_id=course_id("advanced-course"), due_days=30)
    )
    db.session.commit()
    assert "advanced-course" in client.get("/dashboard").get_data(as_text=True)


def test_an_essay_waits_for_a_trainer_whose_grade_settles_the_result(
    app, load_courses, make_user, tmp_path
):
    tree = tmp_path / "courses"
    shutil.copytree(FIXTURES / "courses", tree)
    for language in ("zh", "en"):
        quiz = tree / f"starter/starter-basics/check.{language}.gift"
        quiz.write_text(quiz.read_text(encoding="utf-8") + "\n::essay::谈谈你的看法。{}\n", "utf-8")
    load_courses(tree)
    learner = make_user("essayist", JobRole.NEW_CUSTOMER_MANAGER)
    client = app.test_client(user=learner)
    client.post(f"/items/{item_id('intro')}/done")
    attempt = take_quiz(client, {**RIGHT, "essay": "客户第一。"})
    assert (attempt.needs_grading, attempt.is_passed) == (True, False)

    trainer = app.test_client(user=make_user("grader", roles={Role.TRAINER}))
    assert "客户第一。" in trainer.get("/author/grading").get_data(as_text=True)
    answer = next(a for a in attempt.answers if a.snapshot["qtype"] == "essay")
    assert trainer.post(f"/author/grading/{answer.id}", data={"percent": "150"}).status_code == 302
    db.session.refresh(attempt)
    assert attempt.needs_grading  # an out-of-range score changes nothing
    trainer.post(f"/author/grading/{answer.id}", data={"percent": "50", "comment": "再具体些"})
    db.session.refresh(attempt)
    assert (attempt.needs_grading, attempt.percent, attempt.is_passed) == (False, 90.0, True)
    assert db.session.scalar(select(func.count()).select_from(Completion)) == 1
    assert "再具体些" in client.get(f"/attempts/{attempt.id}/review").get_data(as_text=True)


def test_matching_questions_are_answered_from_mixed_choices(app, load_courses, make_user, tmp_path):
    tree = tmp_path / "courses"
    shutil.copytree(FIXTURES / "courses", tree)
    for language in ("zh", "en"):
        quiz = tree / f"starter/starter-basics/check.{language}.gift"
        quiz.write_text(
            quiz.read_text(encoding="utf-8")
            + "\n::pairs::配对。{=激励 -> 嘉奖 =参与 -> 讲座 =分类 -> 岗位 = -> 干扰}\n",
            "utf-8",
        )
    load_courses(tree)
    client = app.test_client(user=make_user("matcher", JobRole.NEW_CUSTOMER_MANAGER))
    attempt = start(client)
    answer = next(a for a in attempt.answers if a.snapshot["qtype"] == "matching")
    page = client.get(f"/attempts/{attempt.id}").get_data(as_text=True)
    assert page.count(f'name="q{answer.position}_') == 3  # the distractor adds no row
    form = {f"q{answer.position}_0": "嘉奖", f"q{answer.position}_1": "讲座"}
    form[f"q{answer.position}_2"] = "干扰"
    client.post(f"/attempts/{attempt.id}/submit", data=form)
    db.session.refresh(answer)
    assert answer.fraction == pytest.approx(2 / 3)


def test_a_quiz_can_draw_questions_at_random_and_grade_by_average(
    app, load_courses, make_user, tmp_path
):
    tree = tmp_path / "courses"
    shutil.copytree(FIXTURES / "courses", tree)
    toml = tree / "starter/starter-basics/course.toml"
    toml.write_text(
        toml.read_text().replace('review = "after_final"', 'grading = "average"\n  draw = 2')
    )
    load_courses(tree)
    client = app.test_client(user=make_user("drawn", JobRole.NEW_CUSTOMER_MANAGER))
    client.post(f"/items/{item_id('intro')}/done")
    first = take_quiz(client, RIGHT)
    assert len(first.answers) == 2
    assert first.is_passed
    assert db.session.scalar(select(func.count()).select_from(Completion)) == 1


def test_with_average_grading_a_pass_after_a_fail_may_not_be_enough(
    app, load_courses, make_user, tmp_path
):
    tree = tmp_path / "courses"
    shutil.copytree(FIXTURES / "courses", tree)
    toml = tree / "starter/starter-basics/course.toml"
    toml.write_text(toml.read_text().replace('review = "after_final"', 'grading = "average"'))
    load_courses(tree)
    client = app.test_client(user=make_user("averaged", JobRole.NEW_CUSTOMER_MANAGER))
    client.post(f"/items/{item_id('intro')}/done")
    take_quiz(client, {})  # 0%
    take_quiz(client, RIGHT)  # 100%: the average, 50%, is below the pass mark of 75
    assert db.session.scalar(select(func.count()).select_from(Completion)) == 0
    take_quiz(client, RIGHT)  # (0 + 100 + 100) / 3 = 66.7%: still below
    assert db.session.scalar(select(func.count()).select_from(Completion)) == 0


def test_quiz_start_save_and_submit_cost_a_few_statements(app, client, count_queries):
    client.post(f"/items/{item_id('intro')}/done")
    client.get("/dashboard")  # the plan, kept
    quiz = item_id("check")
    with count_queries(warm=True) as started:
        location = client.post(f"/items/{quiz}/attempts").location
    attempt = db.session.get(Attempt, int(location.rsplit("/", 1)[1]))
    first, wrong = (
        form_for(attempt, {"who": "客户经理"}),
        form_for(attempt, {"who": "客户经理", "incentive": "惩罚"}),
    )
    with count_queries(warm=True) as first_save:  # the questions are not kept yet
        client.post(f"{location}/save", data=first)
    with count_queries(warm=True) as save:
        client.post(f"{location}/save", data=wrong)
    with count_queries(warm=True) as unchanged:
        client.post(f"{location}/save", data=wrong)
    with count_queries(warm=True) as failed:  # with an answer changed since the last save
        client.post(f"{location}/submit", data=first)
    attempt = start(client)
    right, location = form_for(attempt, RIGHT), f"/attempts/{attempt.id}"
    client.post(f"{location}/save", data=right)
    app.extensions["lms.cache"].pop("shown")  # as in another worker than the save's
    with count_queries(warm=True) as passed:
        client.post(f"{location}/submit", data=right)
    # The submit moved the learner's stamp: no plan is kept for the next start.
    with count_queries(warm=True) as started_afresh:
        assert client.post(f"/items/{quiz}/attempts").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Completion)) == 1
    # The user; the quiz's attempts; the stamp; the attempt; its questions. The quiz and its
    # course come from the catalogue, and the plan kept says the course is unlocked.
    assert started.count == 5
    # With no plan kept: the learner's latest records, and no more.
    assert started_afresh.count == 6
    # The user; the attempt with its answers' responses (and their questions as shown, which
    # the process keeps, the first time); the changed ones written.
    assert (first_save.count, save.count, unchanged.count) == (3, 3, 2)
    # ... the attempt closed; the stamp; the last responses with the fractions; the cycle's
    # graded percents and items done.
    assert failed.count == 6
    # ... and the item done: the cycle (the latest records), the item's row, and the record.
    assert passed.count == 9


def test_a_new_attempt_is_graded_on_its_own_questions_not_on_a_kept_copy(
    app, load_courses, make_user, tmp_path
):
    client = app.test_client(user=make_user("rekeyed", JobRole.NEW_CUSTOMER_MANAGER))
    load_courses()
    attempt = start(client)
    client.post(f"/attempts/{attempt.id}/save", data=form_for(attempt, RIGHT))  # kept
    old_id = attempt.id
    # The attempt is purged and the key changes: SQLite hands the freed id to the next attempt.
    db.session.delete(attempt)
    db.session.commit()
    tree = tmp_path / "courses"
    shutil.copytree(FIXTURES / "courses", tree)
    for language in ("zh", "en"):
        quiz = tree / f"starter/starter-basics/check.{language}.gift"
        quiz.write_text(quiz.read_text(encoding="utf-8").replace("{T}", "{F}"), "utf-8")
    load_courses(tree)
    attempt = start(client)
    if db.engine.dialect.name == "sqlite":
        assert attempt.id == old_id
    form = form_for(attempt, {**RIGHT, "weekly": "false"})
    client.post(f"/attempts/{attempt.id}/save", data=form)
    client.post(f"/attempts/{attempt.id}/submit", data=form)
    db.session.refresh(attempt)
    weekly = next(a for a in attempt.answers if a.snapshot["name"] == "weekly")
    assert weekly.response is False
    assert (weekly.fraction, attempt.percent) == (1.0, 100.0)


def test_a_write_to_an_item_works_out_access_to_its_course_without_a_plan(client):
    other, practical = item_id("only"), item_id("practical-1")
    assert other
    assert practical
    cache.clear()
    assert client.post(f"/items/{other}/done").status_code == 403  # not the learner's course
    cache.clear()
    assert client.post(f"/items/{practical}/attempts").status_code == 403  # the basics first
    client.post(f"/items/{item_id('intro')}/done")
    take_quiz(client, RIGHT)
    cache.clear()
    assert client.post(f"/items/{practical}/attempts").status_code == 400  # open; not a quiz
