"""What is required of whom: job-role tracks, assignments to groups and people, and standings.

Everything here works on a batch of people in a constant number of queries, so the learner's
dashboard and HR's matrix of thousands of people cost the same per page.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Boolean, bindparam, exists, func, select, type_coerce
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from . import cache, compliance
from .compliance import Rule, Standing, Status
from .extensions import db
from .models import (
    Assignment,
    Attempt,
    Completion,
    Course,
    Group,
    GroupMember,
    Item,
    ItemProgress,
    Module,
    RecordRequest,
    Track,
    User,
)

JOB_ROLE_RULE = Rule()


def _rule(assignment: Assignment) -> Rule:
    return Rule(
        is_mandatory=assignment.is_mandatory,
        due_date=assignment.due_date,
        due_days=assignment.due_days,
        due_from=assignment.due_from,
        valid_months=assignment.valid_months,
        renew_on=assignment.renew_on,
        window_days=assignment.window_days,
        assigned_on=assignment.created_at.date(),
    )


@dataclass(frozen=True)
class Catalogue:
    """The active tracks with their active courses, and what each course needs done first.

    Kept per process under the site stamp (lms/cache.py): its tracks and courses are detached
    copies, with every attribute the pages read already loaded.
    """

    tracks: dict[int, Track]
    courses: dict[int, Course]
    job_role_tracks: dict[str, list[int]]
    # Course ids each course needs first: its own prerequisites and its track's.
    needs: dict[int, set[int]]
    # The outlines of the active courses: by slug, and each active item in outline order.
    slugs: dict[str, Course]
    items: dict[int, Item]
    # The active course ids of each active track, and of each job role's tracks: rules are
    # worked out for thousands of people from these.
    track_courses: dict[int, list[int]]
    role_courses: dict[str, list[int]]

    def courses_of(self, track_id: int) -> list[int]:
        return self.track_courses.get(track_id, [])


def catalogue() -> Catalogue:
    if cache.site_written():
        return _load_catalogue(db.session)
    return cache.cached("catalogue", cache.site_stamp(), _detached_catalogue, size=2)


def _detached_catalogue() -> Catalogue:
    # Its own session, so that the request's commit cannot expire the copies kept.
    with Session(db.engine.execution_options(lms_read_only=True)) as session:
        return _load_catalogue(session)


def _load_catalogue(session) -> Catalogue:
    tracks = (
        session.scalars(
            select(Track)
            .where(Track.is_active)
            .options(joinedload(Track.requires), joinedload(Track.job_roles))
        )
        .unique()
        .all()
    )
    wanted = {t.id for t in tracks} | {r.id for t in tracks for r in t.requires}
    loaded = (
        session.scalars(
            select(Course)
            .where(Course.track_id.in_(wanted))
            .order_by(Course.position)
            .options(joinedload(Course.requires))
        )
        .unique()
        .all()
    )
    # Wired by hand: two queries instead of one per relationship, and nothing left to load
    # lazily, which a detached copy could not.
    by_track: dict[int, list[Course]] = defaultdict(list)
    for course in loaded:
        by_track[course.track_id].append(course)
    for track in {t.id: t for t in [*tracks, *(r for t in tracks for r in t.requires)]}.values():
        set_committed_value(track, "courses", by_track[track.id])
        for course in by_track[track.id]:
            set_committed_value(course, "track", track)
    courses = {c.id: c for t in tracks for c in t.courses if c.is_active}
    roles: dict[str, list[int]] = defaultdict(list)
    needs: dict[int, set[int]] = {}
    for track in tracks:
        for role in track.job_roles:
            roles[role.job_role].append(track.id)
        before = {c.id for t in track.requires for c in t.courses if c.is_active}
        for course in track.courses:
            needs[course.id] = before | {c.id for c in course.requires}
    items = _load_outlines(session, courses)
    slugs = {c.slug: c for c in courses.values()}
    track_courses = {t.id: [c.id for c in t.courses if c.is_active] for t in tracks}
    role_courses = {role: [c for t in ids for c in track_courses[t]] for role, ids in roles.items()}
    return Catalogue(
        {t.id: t for t in tracks},
        courses,
        roles,
        needs,
        slugs,
        items,
        track_courses,
        role_courses,
    )


def _load_outlines(session, courses: dict[int, Course]) -> dict[int, Item]:
    """Modules, active items and their active questions of the courses, wired to them."""
    modules = session.scalars(
        select(Module)
        .where(Module.course_id.in_(list(courses)))
        .order_by(Module.position, Module.id)
        .options(selectinload(Module.items).joinedload(Item.questions))
    ).all()
    by_course: dict[int, list[Module]] = defaultdict(list)
    for module in modules:
        by_course[module.course_id].append(module)
    items = {}
    for course in courses.values():
        set_committed_value(course, "modules", by_course[course.id])
        for module in by_course[course.id]:
            set_committed_value(module, "course", course)
            for item in module.items:
                set_committed_value(item, "course", course)
                set_committed_value(item, "module", module)
                items[item.id] = item
    return items


@dataclass(frozen=True)
class Assigned:
    """Everyone's assignments: the active ones with their courses and rule, and the groups that
    decide whom a group's assignment reaches. Kept per process under the site stamp."""

    # (user id, group id, course ids, rule) of each active assignment.
    assignments: list[tuple[int | None, int | None, list[int], Rule]]
    # (group id, job role, level, branch) of each rule group.
    rule_groups: list[tuple[int, str | None, str | None, str | None]]
    # Each person's groups by membership.
    members: dict[int, set[int]]
    # Worked out on first use and kept as long as the rest: thousands of people share a few
    # hundred posts and sets of groups, so a matrix page mostly finds them here.
    _by_post: dict[tuple, frozenset[int]] = field(default_factory=dict, compare=False)
    _by_groups: dict[tuple, dict[int, list[Rule]]] = field(default_factory=dict, compare=False)

    def groups_of(self, user: User) -> set[int]:
        post = (user.job_role, user.level, user.branch)
        by_rule = self._by_post.get(post)
        if by_rule is None:
            by_rule = self._by_post[post] = frozenset(
                group_id
                for group_id, *rule in self.rule_groups
                if all(
                    wanted is None or wanted == value
                    for wanted, value in zip(rule, post, strict=True)
                )
            )
        return self.members.get(user.id, set()) | by_rule

    def candidates(self, user: User, cat: Catalogue) -> dict[int, list[Rule]]:
        """Per course, every rule that applies to the person: their job role's, and those of
        the assignments to them and to their groups. Shared between people: not to be changed."""
        groups = frozenset(self.groups_of(user))
        # Few people have assignments of their own: each of them is kept apart, by id.
        key = (user.job_role, groups, user.id if user.id in self._assigned_people else None)
        if key not in self._by_groups:
            found: dict[int, list[Rule]] = defaultdict(list)
            for course_id in cat.role_courses.get(user.job_role or "", []):
                found[course_id].append(JOB_ROLE_RULE)
            for person, group_id, courses, rule in self.assignments:
                if person == user.id or group_id in groups:
                    for course_id in courses:
                        found[course_id].append(rule)
            self._by_groups[key] = dict(found)
        return self._by_groups[key]

    @functools.cached_property
    def _assigned_people(self) -> set[int]:
        return {person for person, *_ in self.assignments if person is not None}


def assigned(cat: Catalogue) -> Assigned:
    return cache.cached("assigned", cache.site_stamp(), lambda: _load_assigned(cat), size=2)


def _load_assigned(cat: Catalogue) -> Assigned:
    assignments = db.session.scalars(select(Assignment).where(Assignment.is_active)).all()
    rows = db.session.execute(
        select(
            Group.id, Group.rule_job_role, Group.rule_level, Group.rule_branch, GroupMember.user_id
        ).outerjoin(GroupMember, GroupMember.group_id == Group.id)
    ).all()
    members: dict[int, set[int]] = defaultdict(set)
    for group_id, *_rule_of, user_id in rows:
        if user_id is not None:
            members[user_id].add(group_id)
    return Assigned(
        [(a.user_id, a.group_id, _courses(a, cat), _rule(a)) for a in assignments],
        list(dict.fromkeys(tuple(row[:4]) for row in rows if any(row[1:4]))),
        dict(members),
    )


def rules_of(users: list[User], cat: Catalogue) -> dict[int, dict[int, Rule]]:
    """Per person, per course: the rule that counts (the strictest of all that apply)."""
    index = assigned(cat)
    return {
        user.id: {
            course_id: rules[0] if len(rules) == 1 else compliance.strictest(rules, user.hire_date)
            for course_id, rules in index.candidates(user, cat).items()
        }
        for user in users
    }


def _courses(assignment: Assignment, cat: Catalogue) -> list[int]:
    if assignment.course_id is not None:
        return [assignment.course_id] if assignment.course_id in cat.courses else []
    return cat.courses_of(assignment.track_id or 0)


class Record(NamedTuple):
    """What standings and pages use of a completion record: plain values, read as columns and
    safe to keep beyond the request that read them. A named tuple: a matrix page makes
    hundreds, and a frozen dataclass costs several times as much to make."""

    id: int
    user_id: int
    course_id: int
    cycle: int
    completed_at: datetime
    certificate_code: str
    course_version: int
    is_revoked: bool


def latest_completions(user_ids: Iterable[int]) -> dict[tuple[int, int], Record]:
    """Each person's latest completion record of each course, revoked or not."""
    # On the connection: the session's ORM result machinery costs more than the query.
    rows = db.session.connection().execute(_latest_query(), {"ids": list(user_ids)})
    return {(r.user_id, r.course_id): r for r in map(Record._make, rows)}


@functools.cache
def _latest_query():
    # Built once: on a learner's page, building a statement costs more than running it.
    table = Completion.__table__
    ids = bindparam("ids", expanding=True)
    revoked = exists().where(
        RecordRequest.completion_id == table.c.id,
        RecordRequest.kind == "revoke",
        RecordRequest.status == "approved",
    )
    # Only each course's latest cycle, found from the unique index of person, course and cycle
    # alone: yearly renewals pile up earlier cycles. Tried against 500,000 records: a NOT
    # EXISTS probed the index once per record of every cycle (PostgreSQL 11 ms a page, in
    # parallel workers) and a window function sorted them all (SQLite 4.5 ms); this took 3 and
    # 0.9 ms. The outer filter on the people repeats the inner one so that PostgreSQL, which
    # cannot estimate the join, still reads only their records.
    latest = (
        select(table.c.user_id, table.c.course_id, func.max(table.c.cycle).label("cycle"))
        .where(table.c.user_id.in_(ids))
        .group_by(table.c.user_id, table.c.course_id)
        .subquery("latest")
    )
    columns = [table.c[name] for name in Record._fields if name != "is_revoked"]
    return (
        select(*columns, type_coerce(revoked, Boolean).label("is_revoked"))
        .join(
            latest,
            (latest.c.user_id == table.c.user_id)
            & (latest.c.course_id == table.c.course_id)
            & (latest.c.cycle == table.c.cycle),
        )
        .where(table.c.user_id.in_(ids))
    )


def stands(course: Course, record: Record | None) -> bool:
    """Whether a record still counts: not revoked, and not from before a material change."""
    return (
        record is not None
        and not record.is_revoked
        and record.course_version >= course.recertify_from
    )


def started(user_ids: Iterable[int]) -> set[tuple[int, int]]:
    """(person, course) pairs with an item done or a quiz attempted."""
    # Plain tuples: membership tests on SQLAlchemy rows cost a method call each.
    rows = db.session.connection().execute(_started_query(), {"ids": list(user_ids)})
    return set(map(tuple, rows))


@functools.cache
def _started_query():
    ids = bindparam("ids", expanding=True)
    done = select(ItemProgress.user_id, ItemProgress.course_id).where(ItemProgress.user_id.in_(ids))
    tried = select(Attempt.user_id, Item.course_id).join(Item).where(Attempt.user_id.in_(ids))
    # A select around the union, not the union itself: lms/extensions.py lets PostgreSQL run
    # only plain selects outside a transaction, and a BEGIN and ROLLBACK are two round trips.
    begun = done.union(tried).subquery()
    return select(begun.c.user_id, begun.c.course_id)


def standings(
    users: list[User],
    cat: Catalogue,
    today: date,
    completions: dict[tuple[int, int], Record],
    begun: set[tuple[int, int]],
) -> dict[int, dict[int, Standing]]:
    """Per person, per required course: where they stand today, from their latest completions
    and the (person, course) pairs they have begun."""
    rules = rules_of(users, cat)
    result = {}
    for user in users:
        user_id, hire_date = user.id, user.hire_date
        mine = result[user_id] = {}
        for course_id, rule in rules[user_id].items():
            record = completions.get((user_id, course_id))
            counts = stands(cat.courses[course_id], record)
            mine[course_id] = compliance.standing(
                rule,
                hire_date,
                record.completed_at.date() if counts else None,
                (user_id, course_id) in begun,
                today,
            )
    return result


@dataclass(frozen=True)
class Filters:
    branch: str = ""
    department: str = ""
    job_role: str = ""
    group_id: int | None = None
    track_id: int | None = None
    status: str = ""


def people(filters: Filters):
    """A select() of the active people the filters keep, by name."""
    query = select(User).where(User.is_active).order_by(User.branch, User.name, User.id)
    for column, value in (
        (User.branch, filters.branch),
        (User.department, filters.department),
        (User.job_role, filters.job_role),
    ):
        if value:
            query = query.where(column == value)
    group = db.session.get(Group, filters.group_id) if filters.group_id else None
    if group is not None:
        query = query.where(User.id.in_(group.members().with_only_columns(User.id)))
    return query


def columns(cat: Catalogue, filters: Filters) -> list[Course]:
    """The matrix's courses: the chosen track's, or every active course in curriculum order."""
    courses = sorted(
        cat.courses.values(), key=lambda c: (cat.tracks[c.track_id].position, c.position)
    )
    if filters.track_id:
        return [c for c in courses if c.track_id == filters.track_id]
    return courses


@dataclass(frozen=True)
class Row:
    user: User
    cells: dict[int, Standing]


STANDINGS_KEPT = 25_000  # people, in each worker


def encode_standings(table: dict[int, Standing]) -> str:
    """A person's standings as JSON: [course id, "status due expires next-change"] each, the
    dates ISO or empty."""
    return json.dumps([[c, _text(s)] for c, s in table.items()], separators=(",", ":"))


def decode_standings(text: bytes | str) -> dict[int, Standing]:
    return {course_id: _standing(words) for course_id, words in json.loads(text)}


# Thousands of people share a few hundred standings: each is written and read once, and the
# people read share one copy.
@functools.lru_cache(maxsize=4096)
def _text(standing: Standing) -> str:
    days = (day.isoformat() if day else "" for day in standing[1:])
    return " ".join([standing.status.value, *days])


@functools.lru_cache(maxsize=4096)
def _standing(text: str) -> Standing:
    status, *days = text.split(" ")
    return Standing(_STATUSES[status], *(date.fromisoformat(d) if d else None for d in days))


_STATUSES = {status.value: status for status in Status}
# What works standings out names their keys in Redis: a release that changes it does not read
# what the one before shared (lms/cache.py).
_CODE = hashlib.blake2b(
    b"".join(Path(module).read_bytes() for module in (compliance.__file__, __file__)),
    digest_size=4,
).hexdigest()
SHARED_STANDINGS = cache.Shared(f"lms:standings:{_CODE}:", encode_standings, decode_standings)


def rows_for(users: list[User], cat: Catalogue, today: date) -> list[Row]:
    """Standings of a batch of people, in a constant number of queries; each person's kept per
    process, and in Redis when there is one, under their stamp and the site's (lms/cache.py)."""
    by_id = {u.id: u for u in users}

    def compute(ids: list[int]) -> dict[int, dict[int, Standing]]:
        batch = [by_id[i] for i in ids]
        return standings(batch, cat, today, latest_completions(ids), started(ids))

    site = cache.site_stamp()
    keys = {u.id: (u.id, u.stamp, site, today) for u in users}
    # About 1 KB a person: a whole bank's staff fits in every worker, where HR pages at random;
    # with Redis, what one worker works out the others find there.
    table = cache.cached_each(
        "standings", keys, compute, size=STANDINGS_KEPT, shared=SHARED_STANDINGS
    )
    return [Row(user, table[user.id]) for user in users]


def matching(rows: list[Row], status: str, course_ids: set[int]) -> list[Row]:
    """Rows with at least one shown course in the given status."""
    return [
        r for r in rows if any(s.status == status for c, s in r.cells.items() if c in course_ids)
    ]


@dataclass(frozen=True)
class Explanation:
    """Why a person stands where they do on one course."""

    sources: list[tuple[str, str]]  # ("job_role", code) or ("assignment", group or person)
    rule: Rule | None
    standing: Standing | None
    record: Record | None
    missing: list[Item]


def explain(user: User, course: Course, today: date) -> Explanation:
    """The requirement's sources, the rule that counts, the record that met it or what is left."""
    cat = catalogue()
    rule = rules_of([user], cat)[user.id].get(course.id)
    latest = latest_completions([user.id])
    record = latest.get((user.id, course.id))
    table = standings([user], cat, today, latest, started([user.id]))
    sources = []
    if course.track_id in cat.job_role_tracks.get(user.job_role or "", []):
        sources.append(("job_role", user.job_role or ""))
    index = assigned(cat)
    mine = index.groups_of(user)
    through = [
        group_id
        for person, group_id, courses, _rule in index.assignments
        if course.id in courses and (person == user.id or group_id in mine)
    ]
    names = dict(
        db.session.execute(select(Group.id, Group.name).where(Group.id.in_(through))).all()
    )
    sources += [("assignment", names[group_id] if group_id else user.name) for group_id in through]
    done = set(
        db.session.scalars(
            select(ItemProgress.item_id).where(
                ItemProgress.user_id == user.id, ItemProgress.course_id == course.id
            )
        )
    )
    required = db.session.scalars(
        select(Item).where(Item.course_id == course.id, Item.is_active, Item.is_required)
    ).all()
    counts = stands(course, record)
    missing = [] if counts else [i for i in required if i.id not in done]
    return Explanation(
        sources, rule, table[user.id].get(course.id), record if counts else None, missing
    )


def late(today: date) -> list[tuple[User, Course, Standing]]:
    """Everyone overdue or expired on a requirement, oldest due date first."""
    cat = catalogue()
    everyone = db.session.scalars(people(Filters())).all()
    entries = []
    for start in range(0, len(everyone), 500):
        for row in rows_for(everyone[start : start + 500], cat, today):
            entries += [
                (row.user, cat.courses[course_id], standing)
                for course_id, standing in row.cells.items()
                if standing.status in (Status.OVERDUE, Status.EXPIRED)
            ]
    return sorted(entries, key=lambda entry: (entry[2].due, entry[0].name))
