"""HR's pages: groups, assignments, the completion matrix, overdue people and records."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from sqlalchemy import and_, exists, extract, func, or_, select
from sqlalchemy.orm import lazyload, selectinload
from wtforms.fields.choices import SelectChoice

from . import audit, cache, charts, compliance, exports, progress, records, requirements, tabular
from .compliance import Standing, Status
from .extensions import db
from .forms import (
    AssignmentForm,
    ExternalRecordForm,
    GroupForm,
    MemberForm,
    RevokeForm,
)
from .models import (
    JOB_ROLE_NAMES,
    Assignment,
    Attempt,
    Completion,
    Course,
    Group,
    Item,
    RecordRequest,
    Role,
    Track,
    User,
    utcnow,
)

bp = Blueprint("reports", __name__, url_prefix="/reports")

PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    """One page of rows, shaped like Flask-SQLAlchemy's pagination for the shared pager."""

    items: list
    page: int
    pages: int

    @classmethod
    def of(cls, rows: list, number: int) -> Page:
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        number = min(max(1, number), pages)
        return cls(rows[(number - 1) * PAGE_SIZE : number * PAGE_SIZE], number, pages)

    has_prev = property(lambda self: self.page > 1)
    has_next = property(lambda self: self.page < self.pages)
    prev_num = property(lambda self: self.page - 1)
    next_num = property(lambda self: self.page + 1)


TONES = {"complete": "ok", "overdue": "bad", "expired": "bad"}


def _status_labels() -> dict[str, Markup]:
    """The status names, translated once per language: the matrix shows hundreds of them."""

    def translate() -> dict[str, Markup]:
        return {
            status: escape(label)
            for status, label in (
                ("complete", _("Complete")),
                ("renewal_due", _("Renewal due")),
                ("not_started", _("Not started")),
                ("in_progress", _("In progress")),
                ("due_soon", _("Due soon")),
                ("overdue", _("Overdue")),
                ("expired", _("Expired")),
            )
        }

    return cache.cached("status_labels", str(get_locale()), translate, size=4)


@bp.app_template_global()
def status_badge(standing: Standing) -> Markup:
    """A standing's status as a badge, with its due date as the title. Written in Python, not
    as a macro: a matrix page has up to a thousand of them."""
    return Markup(_badge(standing, _status_labels()))


def _badge(standing: Standing, labels: dict[str, Markup]) -> str:
    tone, label = TONES.get(standing.status, ""), labels[standing.status]
    return f'<span class="badge {tone}" title="{standing.due or ""}">{label}</span>'


def _rows(rows: list[requirements.Row], courses: list[Course]) -> Markup:
    """The matrix's rows, written in Python, not in the template: a page has fifty rows of up
    to twenty cells, and the template's loop cost more than the rest of the page."""
    labels = _status_labels()
    ids = [course.id for course in courses]
    # The person's page ends in their id: its address is built once, not fifty times.
    person = url_for("reports.person", user_id=0).removesuffix("0")
    # A page of a thousand cells has a few dozen distinct ones: each is written once.
    written: dict[tuple, str] = {}

    def cell(standing: Standing | None) -> str:
        key = (standing.status, standing.due) if standing else None
        if key not in written:
            written[key] = f"<td>{_badge(standing, labels)}</td>" if standing else "<td></td>"
        return written[key]

    def tr(row: requirements.Row) -> str:
        user, cells = row.user, row.cells
        return (
            f'<tr><td><a href="{person}{user.id}">{escape(user.name)}</a></td>'
            f"<td>{escape(user.branch)}</td>{''.join([cell(cells.get(i)) for i in ids])}</tr>"
        )

    return Markup("".join([tr(row) for row in rows]))


@bp.before_request
@login_required
def require_hr():
    if not (current_user.has_role(Role.HR) or current_user.has_role(Role.ADMIN)):
        abort(403)


@bp.route("/")
def index():
    """The completion records, newest first, a page at a time from the one before or after."""
    page = records.records_page(
        PAGE_SIZE,
        older=request.args.get("older", type=int),
        newer=request.args.get("newer", type=int),
    )
    return render_template("reports/index.html", page=page)


@bp.route("/people/<int:user_id>")
def person(user_id: int):
    """One person: their standing on each requirement, their records, and record requests."""
    user = db.get_or_404(User, user_id)
    cat = requirements.catalogue()
    row = requirements.rows_for([user], cat, utcnow().date())[0]
    return render_template(
        "reports/person.html",
        user=user,
        standings=[(cat.courses[c], s) for c, s in row.cells.items()],
        completions=progress.transcript(user.id),
        revoked=records.revoked_ids(user.id),
        form=_external_form(),
        revoke_form=RevokeForm(),
    )


def _external_form() -> ExternalRecordForm:
    form = ExternalRecordForm()
    form.course.choices = [
        SelectChoice(c.id, c.title_zh)
        for c in db.session.scalars(select(Course).where(Course.is_active).order_by(Course.slug))
    ]
    return form


def _filters() -> requirements.Filters:
    args = request.args
    return requirements.Filters(
        branch=args.get("branch", ""),
        department=args.get("department", ""),
        job_role=args.get("job_role", ""),
        group_id=args.get("group", type=int),
        track_id=args.get("track", type=int),
        status=args.get("status", ""),
    )


def _choices(cat: requirements.Catalogue) -> dict[str, list]:
    """The values each filter offers, from the people and curricula there are."""
    return cache.cached("choices", cache.site_stamp(), _people_choices, size=2) | {
        "tracks": sorted(cat.tracks.values(), key=lambda t: (t.position, t.id)),
        "statuses": list(Status),
        "job_roles": JOB_ROLE_NAMES,
    }


def _people_choices() -> dict[str, list]:
    # Two scans of the staff and the groups: kept per process under the site stamp, which
    # moves with any change to people or groups.
    distinct = lambda column: db.session.scalars(  # noqa: E731
        select(column).where(User.is_active, column != "").distinct().order_by(column)
    ).all()
    return {
        "branches": distinct(User.branch),
        "departments": distinct(User.department),
        "groups": db.session.execute(select(Group.id, Group.name).order_by(Group.name)).all(),
    }


@bp.route("/matrix")
def matrix():
    """People by courses, with each person's standing; filtered and paged."""
    filters = _filters()
    cat = requirements.catalogue()
    courses = requirements.columns(cat, filters)
    today = utcnow().date()
    if filters.status:
        # A status is known only once computed: filter every matching person, then page.
        everyone = db.session.scalars(requirements.people(filters)).all()
        rows = requirements.matching(
            requirements.rows_for(everyone, cat, today), filters.status, {c.id for c in courses}
        )
        page = Page.of(rows, request.args.get("page", 1, type=int))
    else:
        query = requirements.people(filters)

        def count() -> int:
            return db.session.scalar(
                select(func.count()).select_from(query.order_by(None).subquery())
            )

        # Who is on which page changes only with people and groups, which move the site stamp:
        # the count and each page's ids are kept under it. Skipping to page 150 walked 7,500
        # index entries on every request.
        site = cache.site_stamp()
        total = cache.cached("people", (site, filters), count)
        pages = max(1, -(-total // PAGE_SIZE))
        number = min(max(1, request.args.get("page", 1, type=int)), pages)

        def page_ids() -> list[int]:
            skip = (number - 1) * PAGE_SIZE
            return db.session.scalars(
                query.with_only_columns(User.id).limit(PAGE_SIZE).offset(skip)
            ).all()

        ids = cache.cached("page_ids", (site, filters, number), page_ids)
        people = db.session.scalars(
            select(User)
            .where(User.id.in_(ids))
            .order_by(User.branch, User.name, User.id)
            .options(lazyload(User.roles))
        ).all()
        page = Page(requirements.rows_for(people, cat, today), number, pages)
    return render_template(
        "reports/matrix.html",
        page=page,
        rows=_rows(page.items, courses),
        courses=courses,
        **_matrix_parts(cat, filters, courses),
    )


def _matrix_parts(
    cat: requirements.Catalogue, filters: requirements.Filters, courses: list[Course]
) -> dict[str, Markup]:
    """The filters form and the courses' heading: they change with the curricula, the people,
    the filters chosen and the language, not with the page, so each is written once per site
    stamp, language and filters (a quarter of a kept page's rendering)."""

    def render() -> dict[str, Markup]:
        return {
            "filters_form": Markup(
                render_template("reports/_matrix_filters.html", filters=filters, **_choices(cat))
            ),
            "head": Markup(render_template("reports/_matrix_head.html", courses=courses)),
        }

    key = (cache.site_stamp(), str(get_locale() or "zh"), filters)
    return cache.cached("matrix_parts", key, render, size=64)


@bp.route("/overdue")
def overdue():
    """Everyone overdue or expired on a mandatory course, oldest due date first."""
    return render_template("reports/overdue.html", late=requirements.late(utcnow().date()))


@bp.route("/overdue.<fmt>")
def export_overdue(fmt: str):
    """The overdue list as CSV or XLSX."""
    if fmt not in FORMATS:
        abort(404)
    return _download("overdue", *exports.overdue(utcnow().date()), fmt)


def _person(text: str) -> User | None:
    """An active person by employee number or username."""
    text = text.strip()
    return db.session.scalar(
        select(User).where(User.is_active, or_(User.employee_no == text, User.username == text))
    )


def _group_form() -> GroupForm:
    form = GroupForm()
    form.rule_job_role.choices = [SelectChoice("", _("— (a group named by hand)"))] + [
        SelectChoice(code, names["zh"]) for code, names in JOB_ROLE_NAMES.items()
    ]
    return form


@bp.route("/groups", methods=["GET", "POST"])
def groups():
    """Groups by hand and by rule, with their member counts; POST creates one."""
    form = _group_form()
    if form.validate_on_submit():
        if db.session.scalar(select(Group.id).where(Group.name == form.name.data.strip())):
            flash(_("A group with that name exists already."), "error")
        else:
            group = Group(
                name=form.name.data.strip(),
                rule_job_role=form.rule_job_role.data or None,
                rule_level=(form.rule_level.data or "").strip() or None,
                rule_branch=(form.rule_branch.data or "").strip() or None,
            )
            db.session.add(group)
            db.session.flush()
            audit.record(current_user, "group", f"group:{group.id}", {"name": group.name}, utcnow())
            db.session.commit()
            return redirect(url_for("reports.group", group_id=group.id))
    listed = db.session.scalars(select(Group).order_by(Group.name)).all()
    counts = {
        g.id: db.session.scalar(select(func.count()).select_from(g.members().subquery()))
        for g in listed
    }
    return render_template("reports/groups.html", groups=listed, counts=counts, form=form)


@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
def group(group_id: int):
    """A group's members; for a group named by hand, POST adds or removes one."""
    group = db.get_or_404(Group, group_id)
    form = MemberForm()
    if form.validate_on_submit() and not group.is_rule:
        person = _person(form.person.data)
        if person is None:
            flash(_("Nobody active has that employee number or username."), "error")
        else:
            removing = request.form.get("remove") == "1"
            members = group.manual_members
            if removing and person in members:
                members.remove(person)
            elif not removing and person not in members:
                members.append(person)
            change = {"user": person.id, "removed": removing}
            audit.record(current_user, "group_member", f"group:{group.id}", change, utcnow())
            db.session.commit()
        return redirect(url_for("reports.group", group_id=group.id))
    page = db.paginate(
        group.members().order_by(User.name),
        page=request.args.get("page", 1, type=int),
        per_page=PAGE_SIZE,
    )
    return render_template("reports/group.html", group=group, page=page, form=form)


def _assignment_form() -> AssignmentForm:
    form = AssignmentForm()
    form.target.choices = [SelectChoice("", _("one person (below)"))] + [
        SelectChoice(str(g.id), g.name)
        for g in db.session.scalars(select(Group).order_by(Group.name))
    ]
    tracks = db.session.scalars(select(Track).where(Track.is_active).order_by(Track.position))
    form.what.choices = [
        choice
        for t in tracks
        for choice in [SelectChoice(f"track:{t.id}", f"{t.title_zh}")]
        + [SelectChoice(f"course:{c.id}", f"　{c.title_zh}") for c in t.courses if c.is_active]
    ]
    return form


@bp.route("/assignments", methods=["GET", "POST"])
def assignments():
    """Training assigned to groups and people, with due dates; POST assigns more."""
    form = _assignment_form()
    if form.validate_on_submit():
        person = _person(form.person.data or "") if not form.target.data else None
        if not form.target.data and person is None:
            flash(_("Choose a group, or give an employee number or username."), "error")
        else:
            kind, _sep, what_id = form.what.data.partition(":")
            assignment = Assignment(
                group_id=int(form.target.data) if form.target.data else None,
                user_id=person.id if person else None,
                track_id=int(what_id) if kind == "track" else None,
                course_id=int(what_id) if kind == "course" else None,
                is_mandatory=form.is_mandatory.data,
                due_date=form.due_date.data,
                due_days=form.due_days.data,
                due_from=form.due_from.data,
                valid_months=form.valid_months.data,
                renew_on=form.renew_on.data or None,
                window_days=form.window_days.data,
                created_by_id=current_user.id,
            )
            db.session.add(assignment)
            db.session.flush()
            audit.record(
                current_user,
                "assign",
                f"assignment:{assignment.id}",
                {"what": form.what.data},
                utcnow(),
            )
            db.session.commit()
            flash(_("Assigned."), "success")
            return redirect(url_for("reports.assignments"))
    listed = db.session.scalars(
        select(Assignment)
        .where(Assignment.is_active)
        .options(
            selectinload(Assignment.group),
            selectinload(Assignment.user),
            selectinload(Assignment.track),
            selectinload(Assignment.course),
        )
        .order_by(Assignment.created_at.desc())
    ).all()
    return render_template("reports/assignments.html", assignments=listed, form=form)


@bp.route("/assignments/<int:assignment_id>/end", methods=["POST"])
def end_assignment(assignment_id: int):
    """End an assignment; records earned under it stay."""
    assignment = db.get_or_404(Assignment, assignment_id)
    assignment.is_active = False
    audit.record(current_user, "unassign", f"assignment:{assignment.id}", {}, utcnow())
    db.session.commit()
    return redirect(url_for("reports.assignments"))


FORMATS = {"csv", "xlsx"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(stem: str, columns, rows, fmt: str):
    """Stream a CSV, or write an XLSX to a spooled file: 100,000 rows never sit in memory."""
    name = tabular.export_filename(stem, fmt, utcnow().date())
    if fmt == "csv":
        return Response(
            stream_with_context(tabular.csv_chunks(columns, rows)),
            mimetype="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    # send_file closes it when the response ends: a `with` block would close it too soon.
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    tabular.write_xlsx(columns, rows, spool)
    spool.seek(0)
    return send_file(spool, as_attachment=True, download_name=name, mimetype=XLSX)


@bp.route("/records.<fmt>")
def export_records(fmt: str):
    """Every completion record as CSV or XLSX."""
    if fmt not in FORMATS:
        abort(404)
    if fmt == "xlsx":
        return _download("completions", *exports.records(), fmt)
    # Hundreds of thousands of rows: records_csv writes the same text as _download would from
    # records(), many times faster.
    name = tabular.export_filename("completions", fmt, utcnow().date())
    return Response(
        stream_with_context(exports.records_csv()),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route("/matrix.<fmt>")
def export_matrix(fmt: str):
    """The matrix with the filters on screen, as CSV or XLSX."""
    if fmt not in FORMATS:
        abort(404)
    return _download("matrix", *exports.matrix(_filters(), utcnow().date()), fmt)


@bp.route("/xapi.json")
def export_xapi():
    """xAPI 1.0.3 statements of attempts and completions, as one JSON array."""
    base_url = request.host_url.rstrip("/")

    def chunks():
        yield "["
        for n, statement in enumerate(exports.statements(base_url)):
            yield ("," if n else "") + json.dumps(statement, ensure_ascii=False)
        yield "]"

    name = tabular.export_filename("xapi", "json", utcnow().date())
    return Response(
        stream_with_context(chunks()),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route("/people/<int:user_id>/record", methods=["POST"])
def request_external_record(user_id: int):
    """Ask to record training the person did elsewhere; a second HR user approves it."""
    user = db.get_or_404(User, user_id)
    form = _external_form()
    if form.validate_on_submit():
        course = db.get_or_404(Course, form.course.data)
        try:
            records.request_external(
                user, course, form.completed_on.data, form.note.data, current_user, utcnow()
            )
            db.session.commit()
            flash(_("The record waits for a second HR user's approval."), "success")
        except records.RecordError as e:
            flash(str(e), "error")
    else:
        flash(_("A course, a date and the evidence are needed."), "error")
    return redirect(url_for("reports.person", user_id=user.id))


@bp.route("/completions/<int:completion_id>/revoke", methods=["POST"])
def request_revoke(completion_id: int):
    """Ask to revoke a record; a second HR user approves it."""
    completion = db.get_or_404(Completion, completion_id)
    form = RevokeForm()
    try:
        if not form.validate_on_submit():
            raise records.RecordError(_("Say why the record is revoked."))
        records.request_revoke(completion, form.note.data, current_user, utcnow())
        db.session.commit()
        flash(_("The revocation waits for a second HR user's approval."), "success")
    except records.RecordError as e:
        flash(str(e), "error")
    return redirect(url_for("reports.person", user_id=completion.user_id))


@bp.route("/requests")
def requests():
    """Record requests waiting for a second HR user."""
    return render_template("reports/requests.html", pending=records.pending_requests())


@bp.route("/requests/<int:request_id>/<decision>", methods=["POST"])
def decide_request(request_id: int, decision: str):
    """Approve or reject a record request (not one's own)."""
    record_request = db.get_or_404(RecordRequest, request_id)
    if decision not in ("approve", "reject"):
        abort(404)
    try:
        records.decide(record_request, current_user, decision == "approve", utcnow())
        db.session.commit()
    except records.RecordError as e:
        flash(str(e), "error")
    return redirect(url_for("reports.requests"))


@bp.route("/people/<int:user_id>/evidence.zip")
def evidence_pack(user_id: int):
    """Everything about one person's training, for an audit."""
    user = db.get_or_404(User, user_id)
    name = tabular.export_filename(
        f"evidence-{user.employee_no or user.username}", "zip", utcnow().date()
    )
    return Response(
        records.evidence_pack(user, utcnow().date()),
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route("/people/<int:user_id>/why/<int:course_id>")
def why(user_id: int, course_id: int):
    """Why a person is (not) compliant on a course: the requirement, the record, what is left."""
    user = db.get_or_404(User, user_id)
    course = db.get_or_404(Course, course_id)
    return render_template(
        "reports/why.html",
        user=user,
        course=course,
        why=requirements.explain(user, course, utcnow().date()),
    )


# Dashboard and course rosters ------------------------------------------------------------------

# A requirement due for renewal is still met until its record expires.
MET = {Status.COMPLETE, Status.RENEWAL_DUE}


def _mandatory_standings(cat: requirements.Catalogue, today: date):
    """(person, course id, standing) of every active person's mandatory requirements.

    A batch of people at a time, like the exports: each batch costs the same few queries.
    """
    ids = db.session.scalars(
        requirements.people(requirements.Filters()).with_only_columns(User.id)
    ).all()
    for start in range(0, len(ids), exports.BATCH):
        batch = ids[start : start + exports.BATCH]
        users = db.session.scalars(select(User).where(User.id.in_(batch))).all()
        rules = requirements.rules_of(users, cat)
        latest = requirements.latest_completions(batch)
        # Having begun a course never makes it complete: the `started` query is not needed.
        table = requirements.standings(users, cat, today, latest, set())
        for user in users:
            for course_id, standing in table[user.id].items():
                if rules[user.id][course_id].is_mandatory:
                    yield user, course_id, standing


def _shares(pairs) -> dict:
    """Per key, the percentage of its (key, is_met) pairs that are met."""
    met: Counter = Counter()
    total: Counter = Counter()
    for key, is_met in pairs:
        total[key] += 1
        met[key] += is_met
    return {key: 100 * met[key] / n for key, n in total.items()}


def _monthly_completions(today: date) -> list[tuple[str, int]]:
    """Completion records a month over the last twelve months, revoked ones left out."""
    first = compliance.add_months(today.replace(day=1), -11)
    year = extract("year", Completion.completed_at)
    month = extract("month", Completion.completed_at)
    revoked = exists().where(
        RecordRequest.completion_id == Completion.id,
        RecordRequest.kind == "revoke",
        RecordRequest.status == "approved",
    )
    rows = db.session.execute(
        select(year, month, func.count())
        .where(Completion.completed_at >= datetime(first.year, first.month, 1), ~revoked)
        .group_by(year, month)
    ).all()
    counts = {(int(y), int(m)): n for y, m, n in rows}
    months = [compliance.add_months(first, n) for n in range(12)]
    return [(f"{m:%Y-%m}", counts.get((m.year, m.month), 0)) for m in months]


@bp.route("/dashboard")
def dashboard():
    """Completion rates of mandatory training by branch and by track; completions a month."""
    cat = requirements.catalogue()
    today = utcnow().date()
    facts = [
        (user.branch, cat.courses[course_id].track_id, standing.status in MET)
        for user, course_id, standing in _mandatory_standings(cat, today)
    ]
    branches = _shares((branch, is_met) for branch, _track, is_met in facts)
    tracks = _shares((track, is_met) for _branch, track, is_met in facts)
    locale = str(get_locale() or "zh")
    return render_template(
        "reports/dashboard.html",
        met=sum(is_met for *_keys, is_met in facts),
        total=len(facts),
        by_branch=[(b or _("No branch"), branches[b]) for b in sorted(branches)],
        by_track=[
            (cat.tracks[t].tr("title", locale), tracks[t])
            for t in sorted(tracks, key=lambda t: (cat.tracks[t].position, t))
        ],
        months=_monthly_completions(today),
        bar_chart=charts.bar_chart,
        column_chart=charts.column_chart,
    )


@dataclass(frozen=True)
class RosterRow:
    """One person on a course's roster; `standing` is None when the course is not required."""

    user: User
    standing: Standing | None
    best: float | None
    attempts: int
    completion: Completion | None


def _roster(course: Course, cat: requirements.Catalogue):
    """A select() of the active people a course is required of, and of all who completed it."""
    completed = User.id.in_(select(Completion.user_id).where(Completion.course_id == course.id))
    if course.id not in cat.courses:  # an inactive course is required of nobody
        return _by_branch(select(User).where(completed))
    roles = [role for role, tracks in cat.job_role_tracks.items() if course.track_id in tracks]
    assigned = db.session.scalars(
        select(Assignment)
        .where(
            Assignment.is_active,
            or_(Assignment.course_id == course.id, Assignment.track_id == course.track_id),
        )
        .options(selectinload(Assignment.group))
    ).all()
    required = [User.job_role.in_(roles), User.id.in_([a.user_id for a in assigned if a.user_id])]
    required += [
        User.id.in_(a.group.members().with_only_columns(User.id)) for a in assigned if a.group
    ]
    return _by_branch(select(User).where(or_(completed, and_(User.is_active, or_(*required)))))


def _by_branch(query):
    return query.order_by(User.branch, User.name, User.id)


def _roster_rows(course: Course, users: list[User], cat, today: date) -> list[RosterRow]:
    """Standing, best score, attempts and latest record of each person, in constant queries."""
    ids = [u.id for u in users]
    latest = requirements.latest_completions(ids)
    table = requirements.standings(users, cat, today, latest, requirements.started(ids))
    tries = {
        user_id: (best, n)
        for user_id, best, n in db.session.execute(
            select(Attempt.user_id, func.max(Attempt.percent), func.count(Attempt.id))
            .join(Item, Item.id == Attempt.item_id)
            .where(Item.course_id == course.id, Attempt.user_id.in_(ids))
            .group_by(Attempt.user_id)
        )
    }
    return [
        RosterRow(
            u,
            table[u.id].get(course.id),
            *tries.get(u.id, (None, 0)),
            latest.get((u.id, course.id)),
        )
        for u in users
    ]


@bp.route("/courses/<slug>")
def course(slug: str):
    """A course's roster: who must take it and who has, with scores and certificates."""
    course = db.first_or_404(select(Course).where(Course.slug == slug))
    cat = requirements.catalogue()
    people = db.paginate(
        _roster(course, cat), page=request.args.get("page", 1, type=int), per_page=PAGE_SIZE
    )
    rows = _roster_rows(course, list(people.items), cat, utcnow().date())
    page = Page(rows, people.page, max(1, people.pages))
    return render_template("reports/course.html", course=course, page=page, total=people.total)


@bp.route("/audit")
def audit_trail():
    """Every change to records, grades, content and assignments, newest first, with its hash;
    the entries shown are checked against their hashes."""
    page = audit.trail_page(
        PAGE_SIZE,
        older=request.args.get("older", type=int),
        newer=request.args.get("newer", type=int),
    )
    return render_template("reports/audit.html", page=page)


@bp.route("/audit/verify", methods=["POST"])
def verify_audit_trail():
    """Check every entry of the chain, oldest first, and say where it breaks, if it does."""
    check = audit.check_chain()
    if check.broken is not None:
        flash(
            _(
                "The chain is broken at entry %(id)d: it was changed or removed after it was "
                "written.",
                id=check.broken.id,
            ),
            "error",
        )
    else:
        flash(
            _("The whole chain is intact: %(count)d entries checked.", count=check.checked),
            "success",
        )
    return redirect(url_for("reports.audit_trail"))
