"""The trainer's pages: the curricula and the sign-off of practical steps."""

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from . import audit, drafts, export, progress, publishing, statistics
from .content import SLUG, ContentError
from .extensions import db
from .forms import (
    BilingualTitle,
    CourseForm,
    EssayGradeForm,
    GiftImportForm,
    LessonForm,
    NewCourseForm,
    NewItemForm,
    PracticalForm,
    QuizForm,
    ReviewForm,
    SignOffForm,
    SubmitDraftForm,
    TrackForm,
)
from .models import (
    JOB_ROLE_NAMES,
    AttemptAnswer,
    Course,
    CourseDraft,
    CourseVersion,
    DraftStatus,
    Item,
    ItemKind,
    Role,
    Track,
    TrackJobRole,
    utcnow,
)

bp = Blueprint("authoring", __name__, url_prefix="/author")

REASON_LABELS = {
    statistics.NOT_ENOUGH_DATA: _l("not enough data"),
    statistics.NEGATIVE_DISCRIMINATION: _l("negative discrimination"),
    statistics.LOW_DISCRIMINATION: _l("low discrimination"),
    statistics.TOO_EASY: _l("too easy"),
}

ITEM_FORMS = {"lesson": LessonForm, "quiz": QuizForm, "practical": PracticalForm}


@bp.before_request
@login_required
def require_trainer():
    if not current_user.has_role(Role.TRAINER):
        abort(403)


@bp.route("/")
def index():
    """Every track and course, as loaded."""
    tracks = db.session.scalars(
        select(Track)
        .options(selectinload(Track.courses).selectinload(Course.trainers))
        .order_by(Track.position)
    ).all()
    return render_template("authoring/index.html", tracks=tracks, new_course_form=NewCourseForm())


@bp.route("/signoffs")
def signoffs():
    """Practical steps waiting for a mentor's sign-off."""
    items = db.session.scalars(
        select(Item).where(Item.kind == ItemKind.PRACTICAL, Item.is_active).order_by(Item.id)
    ).all()
    today = utcnow().date()
    waiting = [(item, progress.awaiting_signoff(item, today)) for item in items]
    return render_template("authoring/signoffs.html", waiting=waiting, form=SignOffForm())


@bp.route("/signoffs/<int:item_id>/<int:user_id>", methods=["POST"])
def sign_off(item_id: int, user_id: int):
    """Sign off a learner's practical step, with a note."""
    item = db.get_or_404(Item, item_id)
    if item.kind != ItemKind.PRACTICAL:
        abort(404)
    learner = next(
        (u for u in progress.awaiting_signoff(item, utcnow().date()) if u.id == user_id), None
    )
    if learner is None:
        abort(404)
    form = SignOffForm()
    if form.validate_on_submit():
        progress.mark_done(learner, item, utcnow(), signed_off_by=current_user, note=form.note.data)
        db.session.commit()
        flash(_("%(name)s was signed off.", name=learner.name), "success")
    return redirect(url_for("authoring.signoffs"))


@bp.route("/grading")
def grading():
    """Essay answers waiting for a grade."""
    return render_template(
        "authoring/grading.html", answers=progress.essays_to_grade(), form=EssayGradeForm()
    )


@bp.route("/grading/<int:answer_id>", methods=["POST"])
def grade_essay(answer_id: int):
    """Grade one essay answer, with a comment for the learner."""
    answer = db.get_or_404(AttemptAnswer, answer_id)
    if answer.snapshot["qtype"] != "essay" or answer.attempt.is_open:
        abort(404)
    form = EssayGradeForm()
    if form.validate_on_submit():
        fraction = float(form.percent.data) / 100
        progress.grade_essay(answer, fraction, form.comment.data, current_user, utcnow())
        db.session.commit()
        flash(_("The answer was graded."), "success")
    else:
        flash(_("A score between 0 and 100 is needed."), "error")
    return redirect(url_for("authoring.grading"))


# Courses, drafts and versions -------------------------------------------------------------------


def _load_course(slug: str) -> Course:
    """The course if the trainer may edit it: 404 unknown, 403 not theirs."""
    course = db.first_or_404(select(Course).where(Course.slug == slug))
    if not course.can_edit(current_user):
        abort(403)
    return course


def _editable_draft(course: Course) -> CourseDraft:
    draft = publishing.draft_of(course)
    if draft is None:
        abort(404)
    if draft.status != DraftStatus.EDITING:
        flash(
            _("The draft is waiting for review: ask the reviewer to send it back first."), "error"
        )
        abort(redirect(url_for("authoring.edit_draft", slug=course.slug)))
    return draft


def _save_files(course: Course, change) -> None:
    """Apply one edit to the draft's files, or say why it cannot apply."""
    draft = _editable_draft(course)
    try:
        draft.files = change(draft.files)
    except drafts.DraftError as e:
        flash(str(e), "error")
        return
    db.session.commit()
    flash(_("Draft saved."), "success")


@bp.route("/courses/<slug>")
def course(slug: str):
    """A course's versions, its draft and what can be done with them."""
    course = _load_course(slug)
    versions = db.session.scalars(
        select(CourseVersion)
        .where(CourseVersion.course_id == course.id)
        .order_by(CourseVersion.number.desc())
    ).all()
    return render_template(
        "authoring/course.html",
        course=course,
        versions=versions,
        draft=publishing.draft_of(course),
    )


@bp.route("/tracks/<slug>/courses", methods=["POST"])
def create_course(slug: str):
    """Start a new course in a track; it is published after review."""
    track = db.first_or_404(select(Track).where(Track.slug == slug))
    form = NewCourseForm()
    if not form.validate_on_submit():
        flash(_("Give the course a short name (a-z, 0-9, -) and a Chinese title."), "error")
        return redirect(url_for("authoring.index"))
    if db.session.scalar(select(Course.id).where(Course.slug == form.slug.data)):
        flash(_("A course with that short name exists already."), "error")
        return redirect(url_for("authoring.index"))
    course = Course(
        slug=form.slug.data,
        track=track,
        position=len(track.courses),
        title_zh=form.title_zh.data,
        title_en=form.title_en.data,
        version=0,
        is_active=False,
        trainers=[current_user._get_current_object()],
    )
    db.session.add(course)
    draft = publishing.open_draft(course, current_user)
    draft.files = drafts.new_course(form.title_zh.data, form.title_en.data)
    db.session.commit()
    return redirect(url_for("authoring.edit_draft", slug=course.slug))


@bp.route("/courses/<slug>/draft", methods=["GET", "POST"])
def edit_draft(slug: str):
    """The draft's outline, its problems, and the review steps (POST opens a draft)."""
    course = _load_course(slug)
    if request.method == "POST":
        publishing.open_draft(course, current_user)
        db.session.commit()
        return redirect(url_for("authoring.edit_draft", slug=slug))
    draft = publishing.draft_of(course)
    if draft is None:
        return redirect(url_for("authoring.course", slug=slug))
    try:
        publishing.validate(draft)
        problems = []
    except ContentError as e:
        problems = e.errors
    base = publishing.latest_version(course)
    return render_template(
        "authoring/draft.html",
        course=course,
        draft=draft,
        outline=drafts.outline(draft.files),
        problems=problems,
        changes=drafts.diff(base.files if base else {}, draft.files),
        can_approve=publishing.can_approve(draft, current_user),
        course_form=CourseForm(data=drafts.course_fields(draft.files)),
        item_form=NewItemForm(),
        submit_form=SubmitDraftForm(),
        review_form=ReviewForm(),
    )


@bp.route("/courses/<slug>/draft/course", methods=["POST"])
def edit_course_fields(slug: str):
    """Change the course's titles and summary."""
    course = _load_course(slug)
    form = CourseForm()
    if form.validate_on_submit():
        _save_files(
            course,
            lambda files: drafts.set_course(
                files,
                form.title_zh.data,
                form.title_en.data,
                form.summary_zh.data,
                form.summary_en.data,
            ),
        )
    else:
        flash(_("A Chinese title is needed."), "error")
    return redirect(url_for("authoring.edit_draft", slug=slug))


@bp.route("/courses/<slug>/draft/modules", methods=["POST"])
def add_module(slug: str):
    """Append a module."""
    course = _load_course(slug)
    form = BilingualTitle()
    if form.validate_on_submit():
        _save_files(course, lambda f: drafts.add_module(f, form.title_zh.data, form.title_en.data))
    else:
        flash(_("A Chinese title is needed."), "error")
    return redirect(url_for("authoring.edit_draft", slug=slug))


@bp.route("/courses/<slug>/draft/modules/<int:index>/<action>", methods=["POST"])
def change_module(slug: str, index: int, action: str):
    """Rename, move or delete a module."""
    course = _load_course(slug)
    form = BilingualTitle()
    changes = {
        "up": lambda f: drafts.move_module(f, index, -1),
        "down": lambda f: drafts.move_module(f, index, 1),
        "delete": lambda f: drafts.delete_module(f, index),
        "rename": lambda f: drafts.rename_module(f, index, form.title_zh.data, form.title_en.data),
    }
    if action not in changes or (action == "rename" and not form.validate_on_submit()):
        abort(400)
    _save_files(course, changes[action])
    return redirect(url_for("authoring.edit_draft", slug=slug))


@bp.route("/courses/<slug>/draft/items", methods=["POST"])
def add_item(slug: str):
    """Add a lesson, quiz or practical step to a module."""
    course = _load_course(slug)
    form = NewItemForm()
    if not form.validate_on_submit():
        flash(_("Check the new item: %(errors)s", errors=_form_errors(form)), "error")
        return redirect(url_for("authoring.edit_draft", slug=slug))
    _save_files(
        course,
        lambda f: drafts.add_item(
            f,
            form.module.data,
            form.kind.data,
            form.key.data,
            form.title_zh.data,
            form.title_en.data,
        ),
    )
    if form.kind.data == "practical":
        return redirect(url_for("authoring.edit_draft", slug=slug))
    return redirect(url_for("authoring.edit_item", slug=slug, key=form.key.data))


def _form_errors(form) -> str:
    return "; ".join(f"{form[name].label.text}: {', '.join(e)}" for name, e in form.errors.items())


@bp.route("/courses/<slug>/draft/items/<key>/<action>", methods=["POST"])
def change_item(slug: str, key: str, action: str):
    """Move or delete an item."""
    course = _load_course(slug)
    changes = {
        "up": lambda f: drafts.move_item(f, key, -1),
        "down": lambda f: drafts.move_item(f, key, 1),
        "delete": lambda f: drafts.delete_item(f, key),
    }
    if action not in changes:
        abort(400)
    _save_files(course, changes[action])
    return redirect(url_for("authoring.edit_draft", slug=slug))


@bp.route("/courses/<slug>/draft/items/<key>", methods=["GET", "POST"])
def edit_item(slug: str, key: str):
    """Edit a lesson (with a preview), a quiz's questions and settings, or a practical step."""
    course = _load_course(slug)
    draft = _editable_draft(course)
    try:
        fields = drafts.item_fields(draft.files, key)
    except drafts.DraftError:
        abort(404)
    form = ITEM_FORMS[fields["kind"]](data=fields)
    preview = None
    if form.validate_on_submit():
        if "preview" in request.form:
            preview = drafts.preview(fields["kind"], form.data)
        else:
            _save_files(course, lambda f: drafts.update_item_from_form(f, key, form.data))
            return redirect(url_for("authoring.edit_item", slug=slug, key=key))
    return render_template(
        "authoring/item.html",
        course=course,
        key=key,
        kind=fields["kind"],
        form=form,
        preview=preview,
        import_form=GiftImportForm(),
    )


@bp.route("/courses/<slug>/draft/items/<key>/import", methods=["POST"])
def import_gift(slug: str, key: str):
    """Preview a GIFT file's questions, then append them to the quiz when confirmed."""
    course = _load_course(slug)
    _editable_draft(course)
    form = GiftImportForm()
    if not form.validate_on_submit():
        flash(_form_errors(form), "error")
        return redirect(url_for("authoring.edit_item", slug=slug, key=key))
    upload = form.upload.data
    text = upload.read().decode("utf-8-sig", errors="replace") if upload else form.text.data
    result = drafts.gift_preview(text)
    if result.errors or "confirm" not in request.form:
        return render_template(
            "authoring/import.html", course=course, key=key, form=form, text=text, result=result
        )
    path = f"{key}.{form.language.data}.gift"
    _save_files(course, lambda f: drafts.append_gift(f, path, text))
    return redirect(url_for("authoring.edit_item", slug=slug, key=key))


@bp.route("/courses/<slug>/draft/submit", methods=["POST"])
def submit_draft(slug: str):
    """Send the draft to a second trainer for review."""
    course = _load_course(slug)
    draft = _editable_draft(course)
    form = SubmitDraftForm()
    if not form.validate_on_submit():
        flash(_("Say what changed before sending the draft to review."), "error")
    else:
        try:
            publishing.submit(draft, form.note.data, form.is_material.data)
            db.session.commit()
            flash(_("The draft waits for a second trainer's review."), "success")
        except ContentError:
            flash(_("Fix the problems listed before sending the draft to review."), "error")
    return redirect(url_for("authoring.edit_draft", slug=slug))


@bp.route("/courses/<slug>/draft/<decision>", methods=["POST"])
def review_draft(slug: str, decision: str):
    """Approve (publish) the draft, send it back with a comment, or discard it."""
    course = _load_course(slug)
    draft = publishing.draft_of(course) or abort(404)
    form = ReviewForm()
    try:
        if decision == "approve":
            version = publishing.approve(draft, current_user)
            flash(_("Version %(n)d is published.", n=version.number), "success")
        elif decision == "reject":
            publishing.reject(draft, current_user, form.comment.data or "")
        elif decision == "discard" and draft.status == DraftStatus.EDITING:
            db.session.delete(draft)
        else:
            abort(400)
        db.session.commit()
    except publishing.ReviewError as e:
        db.session.rollback()
        flash(str(e), "error")
    except ContentError:
        db.session.rollback()
        flash(_("Fix the problems listed before publishing."), "error")
    return redirect(url_for("authoring.course", slug=slug))


@bp.route("/courses/<slug>/versions/<int:old>/<int:new>")
def compare_versions(slug: str, old: int, new: int):
    """What changed between two versions, file by file."""
    course = _load_course(slug)
    versions = {
        v.number: v
        for v in db.session.scalars(
            select(CourseVersion).where(
                CourseVersion.course_id == course.id, CourseVersion.number.in_([old, new])
            )
        )
    }
    if old not in versions or new not in versions:
        abort(404)
    changes = drafts.diff(versions[old].files, versions[new].files)
    return render_template(
        "authoring/compare.html",
        course=course,
        old=versions[old],
        new=versions[new],
        changes=changes,
    )


@bp.route("/courses/<slug>/versions/<int:number>.zip")
def download_version(slug: str, number: int):
    """A version's files as a zip, in the courses/ format."""
    course = _load_course(slug)
    version = db.first_or_404(
        select(CourseVersion).where(
            CourseVersion.course_id == course.id, CourseVersion.number == number
        )
    )
    return Response(
        export.zip_files({f"{course.slug}/{n}": t for n, t in version.files.items()}),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{course.slug}-v{number}.zip"'},
    )


@bp.route("/quizzes/<int:item_id>/statistics")
def quiz_statistics(item_id: int):
    """Moodle's quiz statistics: facility, discrimination and the spread of answers."""
    item = db.get_or_404(Item, item_id)
    if item.kind != ItemKind.QUIZ or not item.course.can_edit(current_user):
        abort(404 if item.kind != ItemKind.QUIZ else 403)
    which = "first" if request.args.get("which") == "first" else "all"
    rows, names = progress.statistics_rows(item)
    report = statistics.quiz_statistics(rows, names, which=which)
    flagged = {q.key: statistics.review_reasons(q) for q in report.questions}
    return render_template(
        "authoring/statistics.html",
        item=item,
        report=report,
        flagged=flagged,
        which=which,
        reason_labels=REASON_LABELS,
    )


def _load_quiz(item_id: int) -> Item:
    item = db.get_or_404(Item, item_id)
    if item.kind != ItemKind.QUIZ:
        abort(404)
    if not item.course.can_edit(current_user):
        abort(403)
    return item


@bp.route("/review-queue")
def review_queue():
    """Questions the statistics flag in the trainer's courses: fix, regrade or retire them."""
    quizzes = db.session.scalars(
        select(Item)
        .join(Course)
        .where(Item.kind == ItemKind.QUIZ, Item.is_active, Course.is_active)
        .options(selectinload(Item.course).selectinload(Course.trainers))
        .order_by(Course.position, Item.id)
    ).all()
    flagged = []
    for item in (q for q in quizzes if q.course.can_edit(current_user)):
        rows, names = progress.statistics_rows(item)
        for stats in statistics.quiz_statistics(rows, names).questions:
            reasons = statistics.review_reasons(stats)
            if reasons and reasons != [statistics.NOT_ENOUGH_DATA]:
                flagged.append((item, stats, reasons))
    return render_template(
        "authoring/review_queue.html", flagged=flagged, reason_labels=REASON_LABELS
    )


@bp.route("/quizzes/<int:item_id>/questions/<name>/retire", methods=["POST"])
def retire_question(item_id: int, name: str):
    """Take a question out of the quiz in the course's draft; it goes live after review."""
    item = _load_quiz(item_id)
    publishing.open_draft(item.course, current_user)
    db.session.flush()
    _save_files(item.course, lambda f: drafts.retire_question(f, item.key, name))
    return redirect(url_for("authoring.edit_draft", slug=item.course.slug))


@bp.route("/quizzes/<int:item_id>/regrade", methods=["GET", "POST"])
def regrade(item_id: int):
    """Preview whose result the current answer key changes; POST applies it."""
    item = _load_quiz(item_id)
    if request.method == "POST":
        changes = progress.apply_regrade(item, current_user, utcnow())
        db.session.commit()
        flash(_("%(n)d attempts were regraded.", n=len(changes)), "success")
        return redirect(url_for("authoring.regrade", item_id=item.id))
    return render_template(
        "authoring/regrade.html", item=item, changes=progress.regrade_preview(item)
    )


def _track_form(track: Track | None) -> TrackForm:
    form = TrackForm(obj=track)
    if track is not None and not form.is_submitted():
        form.job_roles.data = [r.job_role for r in track.job_roles]
        form.requires.data = [t.slug for t in track.requires]
    others = db.session.scalars(select(Track).where(Track.is_active).order_by(Track.position))
    form.job_roles.choices = [
        SelectChoice(code, f"{names['zh']} / {names['en']}")
        for code, names in JOB_ROLE_NAMES.items()
    ]
    form.requires.choices = [
        SelectChoice(t.slug, t.title_zh) for t in others if track is None or t.id != track.id
    ]
    return form


@bp.route("/tracks/new", methods=["GET", "POST"])
@bp.route("/tracks/<slug>/edit", methods=["GET", "POST"])
def edit_track(slug: str | None = None):
    """Create or edit a track: its titles, the job roles it is assigned to, what it requires."""
    track = db.first_or_404(select(Track).where(Track.slug == slug)) if slug else None
    form = _track_form(track)
    new_slug = request.form.get("slug", "").strip()
    if track is None and form.is_submitted() and not SLUG.match(new_slug):
        form.title_zh.errors = [*form.title_zh.errors, _("A short name (a-z, 0-9, -) is needed.")]
    elif form.validate_on_submit():
        track = track or _new_track(new_slug)
        if track is None:
            flash(_("A track with that short name exists already."), "error")
        else:
            _save_track(track, form)
            db.session.commit()
            flash(_("Track saved."), "success")
            return redirect(url_for("authoring.index"))
    return render_template("authoring/track.html", form=form, track=track)


def _new_track(slug: str) -> Track | None:
    if db.session.scalar(select(Track.id).where(Track.slug == slug)):
        return None
    track = Track(slug=slug, position=db.session.scalar(select(func.count(Track.id))) or 0)
    db.session.add(track)
    return track


def _save_track(track: Track, form: TrackForm) -> None:
    track.title_zh, track.title_en = form.title_zh.data, form.title_en.data or ""
    track.summary_zh, track.summary_en = form.summary_zh.data or "", form.summary_en.data or ""
    roles = set(form.job_roles.data)
    track.job_roles = [r for r in track.job_roles if r.job_role in roles] + [
        TrackJobRole(job_role=r) for r in sorted(roles - {r.job_role for r in track.job_roles})
    ]
    track.requires = list(
        db.session.scalars(select(Track).where(Track.slug.in_(form.requires.data)))
    )
    details = {"job_roles": sorted(roles), "requires": sorted(form.requires.data)}
    audit.record(current_user, "track", f"track:{track.slug}", details, utcnow())


@bp.route("/quizzes/<int:item_id>/<language>.gift")
def download_gift(item_id: int, language: str):
    """A quiz's questions as published, in one language, as a GIFT file."""
    item = _load_quiz(item_id)
    if language not in export.LANGUAGES:
        abort(404)
    return Response(
        export.quiz_gift(item, language),
        mimetype="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{item.key}.{language}.gift"'},
    )
