"""HR's pages: groups, assignments, the completion matrix, overdue people and records."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass

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
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from . import audit, exports, progress, requirements, tabular
from .compliance import Status
from .extensions import db
from .forms import AssignmentForm, GroupForm, MemberForm, PostForm
from .models import JOB_ROLE_NAMES, Assignment, Completion, Group, Role, Track, User, utcnow

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


@bp.before_request
@login_required
def require_hr():
    if not (current_user.has_role(Role.HR) or current_user.has_role(Role.ADMIN)):
        abort(403)


@bp.route("/")
def index():
    """The completion records, newest first."""
    page = db.paginate(
        select(Completion)
        .options(selectinload(Completion.user), selectinload(Completion.course))
        .order_by(Completion.completed_at.desc(), Completion.id.desc()),
        page=request.args.get("page", 1, type=int),
        per_page=PAGE_SIZE,
    )
    return render_template("reports/index.html", page=page)


@bp.route("/people/<int:user_id>")
def person(user_id: int):
    """One person's transcript."""
    user = db.get_or_404(User, user_id)
    return render_template(
        "learning/transcript.html", user=user, completions=progress.transcript(user.id)
    )


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


def _choices() -> dict[str, list]:
    """The values each filter offers, from the people and curricula there are."""
    distinct = lambda column: db.session.scalars(  # noqa: E731
        select(column).where(User.is_active, column != "").distinct().order_by(column)
    ).all()
    return {
        "branches": distinct(User.branch),
        "departments": distinct(User.department),
        "groups": db.session.scalars(select(Group).order_by(Group.name)).all(),
        "tracks": db.session.scalars(
            select(Track).where(Track.is_active).order_by(Track.position)
        ).all(),
        "statuses": list(Status),
        "job_roles": JOB_ROLE_NAMES,
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
        people = db.paginate(
            requirements.people(filters),
            page=request.args.get("page", 1, type=int),
            per_page=PAGE_SIZE,
        )
        rows = requirements.rows_for(list(people.items), cat, today)
        page = Page(rows, people.page, max(1, people.pages))
    return render_template(
        "reports/matrix.html", page=page, courses=courses, filters=filters, **_choices()
    )


@bp.route("/overdue")
def overdue():
    """Everyone overdue or expired on a mandatory course, oldest due date first."""
    cat = requirements.catalogue()
    everyone = db.session.scalars(requirements.people(requirements.Filters())).all()
    late = [
        (row.user, cat.courses[course_id], standing)
        for row in requirements.rows_for(everyone, cat, utcnow().date())
        for course_id, standing in row.cells.items()
        if standing.status in (Status.OVERDUE, Status.EXPIRED)
    ]
    late.sort(key=lambda entry: (entry[2].due, entry[0].name))
    return render_template("reports/overdue.html", late=late)


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
    return render_template(
        "reports/assignments.html", assignments=listed, form=form, end_form=PostForm()
    )


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
    return _download("completions", *exports.records(), fmt)


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
