"""A realistic data set: staff in branches, with the lessons, attempts and completions they made.

    python bench/generate.py --database-url sqlite:////tmp/lms.db --staff 10000 --rows 500000

`lms.cli.setup_site(demo=True)` first makes the schema (the migrations), loads the shipped
curricula and the demo accounts; then SQLAlchemy Core `insert()` with executemany, in chunks and
in one transaction, adds the staff (50 branches, six job roles, a manager per branch), the HR
groups and assignments (onboarding due 60 days after hire; the law and ethics courses renewed
every year), and `--rows` rows of ItemProgress, Attempt (finished; a few with their answers)
and Completion. Each person works through their curriculum in order — lessons, one to three
attempts at each quiz (the last one passing), the completion — then renews the yearly courses,
and stops somewhere along that path: the rows are cut so that they add up to `--rows` exactly.
Unique keys hold: one row per (person, item, cycle), attempt numbers 1..n per (person, quiz),
one completion per (person, course, cycle), distinct certificate codes.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import bindparam, func, insert, select, text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZES = {"small": (500, 5_000), "large": (10_000, 500_000)}
CHUNK = 5_000
STAFF_PREFIX = "staff"

# A bank's customer-facing staff: the share of each job role.
ROLE_MIX = (
    ("customer_manager", 0.30),
    ("corporate_customer_manager", 0.20),
    ("senior_customer_manager", 0.15),
    ("new_customer_manager", 0.15),
    ("key_account_manager", 0.10),
    ("credit_officer", 0.10),
)
DEPARTMENTS = {
    "customer_manager": "个人金融部",
    "corporate_customer_manager": "公司业务部",
    "senior_customer_manager": "个人金融部",
    "new_customer_manager": "个人金融部",
    "key_account_manager": "大客户中心",
    "credit_officer": "信贷管理部",
}
CITIES = ("北京", "上海", "广州", "深圳", "杭州", "南京", "成都", "武汉", "西安", "天津")
BRANCHES = ("第一支行", "第二支行", "第三支行", "第四支行", "第五支行")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国文斌宇浩凯琳晨"
# Courses renewed every year (law and ethics), if the shipped curricula have them.
YEARLY = ("basic-law-rules", "basic-psychology-ethics")
YEARLY_ROLES = (
    "customer_manager",
    "corporate_customer_manager",
    "key_account_manager",
    "senior_customer_manager",
)
MAX_CYCLES = 3


@dataclass(frozen=True)
class ItemInfo:
    id: int
    kind: str
    questions: tuple[int, ...] = ()
    pass_mark: float = 80.0


@dataclass(frozen=True)
class CourseInfo:
    id: int
    slug: str
    version: int
    items: tuple[ItemInfo, ...]  # required active items, in outline order


@dataclass
class Curriculum:
    courses: dict[int, CourseInfo]
    by_role: dict[str, list[int]]  # course ids in the order a person takes them
    yearly: list[int]
    question_data: dict[int, dict] = field(default_factory=dict)


def load_curriculum() -> Curriculum:
    """The active curricula as loaded by setup_site, and each job role's path through them."""
    from lms.completion import with_prerequisites
    from lms.extensions import db
    from lms.models import Item, Module, Track, TrackJobRole

    tracks = db.session.scalars(select(Track).where(Track.is_active).order_by(Track.position)).all()
    courses: dict[int, CourseInfo] = {}
    question_data: dict[int, dict] = {}
    for track in tracks:
        for course in track.courses:
            if not course.is_active:
                continue
            items = db.session.scalars(
                select(Item)
                .join(Module, Module.id == Item.module_id)
                .where(Item.course_id == course.id, Item.is_active, Item.is_required)
                .order_by(Module.position, Item.position)
            ).all()
            infos = []
            for item in items:
                questions = [q for q in item.questions if q.is_active]
                for q in questions:
                    question_data[q.id] = q.data.get("zh") or next(iter(q.data.values()))
                infos.append(
                    ItemInfo(item.id, item.kind, tuple(q.id for q in questions), item.pass_mark)
                )
            courses[course.id] = CourseInfo(course.id, course.slug, course.version, tuple(infos))
    requires = {t.id: [r.id for r in t.requires] for t in tracks}
    by_track = {t.id: [c.id for c in t.courses if c.id in courses] for t in tracks}
    by_role: dict[str, list[int]] = {}
    for role, _share in ROLE_MIX:
        assigned = db.session.scalars(
            select(TrackJobRole.track_id)
            .join(Track, Track.id == TrackJobRole.track_id)
            .where(TrackJobRole.job_role == role, Track.is_active)
            .order_by(Track.position, Track.id)
        ).all()
        ordered = with_prerequisites(list(assigned), requires)
        by_role[role] = [c for t in ordered for c in by_track.get(t, [])]
    slugs = {c.slug: c.id for c in courses.values()}
    yearly = [slugs[s] for s in YEARLY if s in slugs]
    return Curriculum(courses, by_role, yearly, question_data)


# One person's path ------------------------------------------------------------------------------
# Events, in the order they happen: ("p", course, item, cycle) an item done,
# ("a", course, item, cycle, number, passed) a finished attempt, ("c", course, cycle) a completion.


def path_of(cur: Curriculum, role: str, rng: random.Random) -> list[tuple]:
    events: list[tuple] = []
    plan = [(c, 1) for c in cur.by_role.get(role, [])]
    if role in YEARLY_ROLES:
        plan += [(c, cycle) for cycle in range(2, MAX_CYCLES + 1) for c in cur.yearly]
    numbers: dict[int, int] = {}  # attempt numbers run on across cycles, as in the app
    for course_id, cycle in plan:
        course = cur.courses[course_id]
        for item in course.items:
            if item.kind == "quiz":
                tries = rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
                for n in range(1, tries + 1):
                    numbers[item.id] = numbers.get(item.id, 0) + 1
                    events.append(("a", course_id, item, cycle, numbers[item.id], n == tries))
            events.append(("p", course_id, item, cycle))
        events.append(("c", course_id, cycle))
    return events


def _person_seed(seed: int, index: int) -> int:
    return seed * 1_000_003 + index


def _cut(lengths: list[int], weights: list[float], rows: int, rng: random.Random) -> list[int]:
    """How many of each person's events to keep so that they add up to `rows`."""
    total = sum(lengths)
    if rows >= total:
        return list(lengths)

    def kept(scale: float) -> list[int]:
        return [min(n, int(scale * w * n)) for n, w in zip(lengths, weights, strict=True)]

    low, high = 0.0, 1.0
    while sum(kept(high)) < rows:
        high *= 2
    for _ in range(60):
        middle = (low + high) / 2
        if sum(kept(middle)) < rows:
            low = middle
        else:
            high = middle
    counts = kept(low)
    missing = rows - sum(counts)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    while missing > 0:
        for i in order:
            if missing and counts[i] < lengths[i]:
                counts[i] += 1
                missing -= 1
    return counts


# Writing ----------------------------------------------------------------------------------------


class Writer:
    """Buffers rows per table and writes them with executemany, parents before children."""

    def __init__(self, conn, tables: list):
        self.conn, self.tables = conn, tables
        self.buffers: dict[str, list[dict]] = {t.name: [] for t in tables}
        self.counts: dict[str, int] = dict.fromkeys(self.buffers, 0)

    def add(self, table, row: dict) -> None:
        buffer = self.buffers[table.name]
        buffer.append(row)
        if len(buffer) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        for table in self.tables:
            buffer = self.buffers[table.name]
            if buffer:
                self.conn.execute(insert(table), buffer)
                self.counts[table.name] += len(buffer)
                buffer.clear()


@dataclass
class Result:
    staff: int
    rows: int
    counts: dict[str, int]
    seconds: float
    setup_seconds: float
    capacity: int


def _next_id(model) -> int:
    from lms.extensions import db

    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def generate(staff: int, rows: int, password: str, seed: int = 1, answer_share: float = 0.02):
    """Add the staff and their rows to the database of the current app context.

    Call after `setup_site(demo=True)`. Returns a Result; prints nothing.
    """
    from werkzeug.security import generate_password_hash

    from lms.extensions import db
    from lms.models import (
        Assignment,
        Attempt,
        AttemptAnswer,
        Completion,
        Group,
        GroupMember,
        ItemProgress,
        User,
        UserRole,
        utcnow,
    )

    started = time.perf_counter()
    cur = load_curriculum()
    now = utcnow().replace(microsecond=0)
    rng = random.Random(seed)
    hr_id = db.session.scalar(select(User.id).where(User.username == "hr"))
    trainer_id = db.session.scalar(select(User.id).where(User.username == "trainer"))
    first_user = _next_id(User)
    ids = {
        "progress": _next_id(ItemProgress),
        "attempt": _next_id(Attempt),
        "answer": _next_id(AttemptAnswer),
        "completion": _next_id(Completion),
        "group": _next_id(Group),
        "assignment": _next_id(Assignment),
    }
    db.session.commit()

    # Who is who: role, branch, the order of their path; the branch's first senior manages it.
    roles = [r for r, _s in ROLE_MIX]
    shares = [s for _r, s in ROLE_MIX]
    people = []
    for n in range(staff):
        role = rng.choices(roles, weights=shares)[0]
        branch = n % (len(CITIES) * len(BRANCHES))
        people.append((role, branch))
    lengths = []
    for n, (role, _branch) in enumerate(people):
        lengths.append(len(path_of(cur, role, random.Random(_person_seed(seed, n)))))
    # Some have gone all the way (weight 1); the others are somewhere along their path.
    weights = [1.0 if rng.random() < 0.35 else rng.random() for _ in people]
    counts = _cut(lengths, weights, rows, rng)

    password_hash = generate_password_hash(password)
    tables = [
        User.__table__,
        UserRole.__table__,
        Group.__table__,
        GroupMember.__table__,
        Assignment.__table__,
        Attempt.__table__,
        AttemptAnswer.__table__,
        ItemProgress.__table__,
        Completion.__table__,
    ]
    codes: set[str] = set()
    with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # Generation only: the served app keeps its own synchronous=NORMAL.
            conn.connection.dbapi_connection.execute("PRAGMA synchronous=OFF")
        writer = Writer(conn, tables)
        managers: dict[int, int] = {}
        for n, (role, branch) in enumerate(people):
            if role == "senior_customer_manager" and branch not in managers:
                managers[branch] = first_user + n
        for n, (role, branch) in enumerate(people):
            user_id = first_user + n
            person_rng = random.Random(_person_seed(seed, n) + 7)
            name = (
                person_rng.choice(SURNAMES)
                + person_rng.choice(GIVEN)
                + (person_rng.choice(GIVEN) if person_rng.random() < 0.7 else "")
            )
            city, office = divmod(branch, len(BRANCHES))
            writer.add(
                User.__table__,
                {
                    "id": user_id,
                    "username": f"{STAFF_PREFIX}{n + 1:05d}",
                    "password_hash": password_hash,
                    "name": name,
                    "email": f"{STAFF_PREFIX}{n + 1:05d}@bank.example",
                    "employee_no": f"E{n + 1:06d}",
                    "branch": f"{CITIES[city]}分行{BRANCHES[office]}",
                    "department": DEPARTMENTS[role],
                    "job_role": role,
                    "level": f"L{person_rng.randint(1, 6)}",
                    "hire_date": None,  # set below, once the person's path is dated
                    "manager_id": None,  # set below with the hire date: managers come first
                    "is_active": person_rng.random() > 0.01,
                    "locale": "zh",
                    "session_token": f"{person_rng.getrandbits(128):032x}",
                    "created_at": now,
                },
            )
            writer.add(UserRole.__table__, {"user_id": user_id, "role": "learner"})
        writer.flush()

        # HR's groups and assignments: onboarding due 60 days after hire, yearly renewals.
        group_ids = {}
        for role in ("new_customer_manager", *YEARLY_ROLES):
            group_ids[role] = ids["group"]
            writer.add(
                Group.__table__,
                {
                    "id": ids["group"],
                    "name": f"规则组·{role}",
                    "rule_job_role": role,
                    "rule_level": None,
                    "rule_branch": None,
                    "created_at": now,
                },
            )
            ids["group"] += 1
        cohort = ids["group"]
        writer.add(
            Group.__table__,
            {
                "id": cohort,
                "name": "管培生2025届",
                "created_at": now,
                "rule_job_role": None,
                "rule_level": None,
                "rule_branch": None,
            },
        )
        ids["group"] += 1
        for user_id in rng.sample(range(first_user, first_user + staff), min(50, staff)):
            writer.add(GroupMember.__table__, {"group_id": cohort, "user_id": user_id})

        def assign(**values):
            writer.add(
                Assignment.__table__,
                {
                    "id": ids["assignment"],
                    "group_id": None,
                    "user_id": None,
                    "track_id": None,
                    "course_id": None,
                    "is_mandatory": True,
                    "due_date": None,
                    "due_days": None,
                    "due_from": "assignment",
                    "valid_months": None,
                    "window_days": 30,
                    "is_active": True,
                    "created_by_id": hr_id,
                    "created_at": now - timedelta(days=3 * 365),
                    **values,
                },
            )
            ids["assignment"] += 1

        onboarding = cur.by_role.get("new_customer_manager", [])
        if onboarding:
            from lms.models import Course

            track_id = db.session.scalar(select(Course.track_id).where(Course.id == onboarding[0]))
            assign(
                group_id=group_ids["new_customer_manager"],
                track_id=track_id,
                due_days=60,
                due_from="hire",
            )
        for role in YEARLY_ROLES:
            for course_id in cur.yearly:
                assign(group_id=group_ids[role], course_id=course_id, valid_months=12)
        if cur.by_role.get("customer_manager"):
            # This year's trainees: the first course, due in 20 days.
            first_course = cur.by_role["customer_manager"][0]
            assign(group_id=cohort, course_id=first_course, due_date=(now + timedelta(20)).date())
        writer.flush()

        hire_dates: list[tuple[int, date, int | None]] = []
        for n, (role, branch) in enumerate(people):
            events = path_of(cur, role, random.Random(_person_seed(seed, n)))[: counts[n]]
            hired = _write_person(
                writer,
                tables,
                cur,
                first_user + n,
                role,
                events,
                now,
                random.Random(_person_seed(seed, n) + 13),
                ids,
                codes,
                trainer_id,
                answer_share,
            )
            manager = managers.get(branch)
            hire_dates.append(
                (first_user + n, hired, manager if manager != first_user + n else None)
            )
        writer.flush()
        _set_hire_dates(conn, User.__table__, hire_dates)
        if conn.dialect.name == "postgresql":
            for table in tables:
                if "id" in table.c and table.c.id.primary_key:
                    conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                        f'(SELECT COALESCE(MAX(id), 1) FROM "{table.name}"))'
                    )
        conn.commit()
        if conn.dialect.name == "sqlite":
            conn.connection.dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    db.session.remove()
    if db.engine.dialect.name == "postgresql":
        # What autovacuum would do within a minute of the load, done now so it does not land in
        # the middle of a measurement (and done at all where autovacuum is off, as on this
        # machine): the hire dates' update left a dead row per person, and without the
        # visibility map index-only scans read the table. After every transaction of ours has
        # ended, or their snapshots would keep the dead rows.
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM (ANALYZE)")
    written = {name: n for name, n in writer.counts.items()}
    return Result(
        staff=staff,
        rows=written["item_progress"] + written["attempt"] + written["completion"],
        counts=written,
        seconds=time.perf_counter() - started,
        setup_seconds=0.0,
        capacity=sum(lengths),
    )


def _set_hire_dates(conn, users, hire_dates: list[tuple[int, date, int | None]]) -> None:
    statement = (
        users.update()
        .where(users.c.id == bindparam("uid"))
        .values(hire_date=bindparam("hired"), manager_id=bindparam("manager"))
    )
    for start in range(0, len(hire_dates), CHUNK):
        chunk = hire_dates[start : start + CHUNK]
        conn.execute(statement, [{"uid": u, "hired": h, "manager": m} for u, h, m in chunk])


def _dates(events: list[tuple], now: datetime, rng: random.Random) -> list[datetime]:
    """When each event happened: cycles a year apart, the last event before now."""
    if not events:
        return []
    cycles = [e[3] if e[0] != "c" else e[2] for e in events]
    # Work backwards from the last event: steps of hours to days, ~350 days between cycles.
    times = [now - timedelta(days=rng.uniform(0.5, 120 if len(set(cycles)) == 1 else 60))]
    for i in range(len(events) - 1, 0, -1):
        if cycles[i - 1] != cycles[i]:
            step = timedelta(days=rng.uniform(345, 360))
        else:
            step = timedelta(hours=rng.uniform(2, 96 if cycles[i] == 1 else 24))
        times.append(times[-1] - step)
    times.reverse()
    return [t.replace(microsecond=0) for t in times]


def _write_person(
    writer, tables, cur, user_id, role, events, now, rng, ids, codes, trainer_id, answer_share
) -> date:
    from lms.models import Attempt, AttemptAnswer, Completion, ItemProgress

    times = _dates(events, now, rng)
    first = times[0] if times else now - timedelta(days=rng.uniform(0, 700))
    if role == "new_customer_manager":
        hired = (first - timedelta(days=rng.uniform(0, 20))).date()
    else:
        hired = (first - timedelta(days=rng.uniform(30, 3000))).date()
    passing: dict[tuple[int, int], list[float]] = {}
    for event, at in zip(events, times, strict=True):
        kind = event[0]
        if kind == "p":
            _kind, course_id, item, cycle = event
            writer.add(
                ItemProgress.__table__,
                {
                    "id": ids["progress"],
                    "user_id": user_id,
                    "item_id": item.id,
                    "course_id": course_id,
                    "cycle": cycle,
                    "done_at": at,
                    "signed_off_by_id": trainer_id if item.kind == "practical" else None,
                    "note": "",
                },
            )
            ids["progress"] += 1
        elif kind == "a":
            _kind, course_id, item, cycle, number, passed = event
            size = max(1, len(item.questions))
            needed = math.ceil(item.pass_mark * size / 100)
            right = rng.randint(needed, size) if passed else rng.randint(0, max(0, needed - 1))
            percent = round(100 * right / size, 2)
            if passed:
                passing.setdefault((course_id, cycle), []).append(percent)
            attempt_id = ids["attempt"]
            ids["attempt"] += 1
            writer.add(
                Attempt.__table__,
                {
                    "id": attempt_id,
                    "user_id": user_id,
                    "item_id": item.id,
                    "number": number,
                    "cycle": cycle,
                    "state": "finished",
                    "language": "zh",
                    "course_version": cur.courses[course_id].version,
                    "started_at": at - timedelta(minutes=rng.uniform(3, 25)),
                    "deadline_at": None,
                    "finished_at": at,
                    "points": float(right),
                    "out_of": float(size),
                    "percent": percent,
                    "is_passed": percent >= item.pass_mark,
                    "needs_grading": False,
                },
            )
            if item.questions and rng.random() < answer_share:
                for position, question_id in enumerate(item.questions):
                    data = cur.question_data[question_id]
                    size_of = len(data.get("pairs") or data.get("choices") or [])
                    writer.add(
                        AttemptAnswer.__table__,
                        {
                            "id": ids["answer"],
                            "attempt_id": attempt_id,
                            "position": position,
                            "question_id": question_id,
                            "snapshot": data,
                            "order": list(range(size_of)),
                            "response": None,
                            "fraction": 1.0 if position < right else 0.0,
                            "saved_at": at,
                            "comment": "",
                            "graded_by_id": None,
                            "graded_at": None,
                        },
                    )
                    ids["answer"] += 1
        else:
            _kind, course_id, cycle = event
            grades = passing.get((course_id, cycle), [])
            code = None
            while code is None or code in codes:
                raw = f"{rng.getrandbits(48):012X}"
                code = "-".join(raw[i : i + 4] for i in range(0, 12, 4))
            codes.add(code)
            writer.add(
                Completion.__table__,
                {
                    "id": ids["completion"],
                    "user_id": user_id,
                    "course_id": course_id,
                    "cycle": cycle,
                    "completed_at": at,
                    "percent": round(sum(grades) / len(grades), 2) if grades else None,
                    "course_version": cur.courses[course_id].version,
                    "certificate_code": code,
                    "source": "platform",
                },
            )
            ids["completion"] += 1
    return hired


def build(database_url: str, staff: int, rows: int, password: str, seed: int = 1):
    """Make the schema, curricula and demo users, then the data set: a Result with timings."""
    from lms import create_app
    from lms.cli import setup_site

    os.environ["LMS_DEMO_PASSWORD"] = password
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": sqlalchemy_url(database_url), "SECRET_KEY": "bench"}
    )
    with app.app_context():
        from lms.extensions import db

        started = time.perf_counter()
        setup_site(demo=True)
        setup = time.perf_counter() - started
        result = generate(staff, rows, password, seed)
        result.setup_seconds = setup
        db.engine.dispose()
    return result


def sqlalchemy_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", required=True, help="an empty database (SQLite file or PostgreSQL)"
    )
    parser.add_argument(
        "--size", choices=sorted(SIZES), help="small (500/5,000) or large (10,000/500,000)"
    )
    parser.add_argument("--staff", type=int, default=None)
    parser.add_argument(
        "--rows", type=int, default=None, help="lesson, attempt and completion rows"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--password", default=os.environ.get("LMS_DEMO_PASSWORD", "bench-password-1")
    )
    args = parser.parse_args()
    staff, rows = SIZES[args.size or "small"]
    staff, rows = args.staff or staff, args.rows or rows
    result = build(args.database_url, staff, rows, args.password, args.seed)
    print(
        f"{result.staff} staff, {result.rows} rows {result.counts} in {result.seconds:.1f} s "
        f"(+{result.setup_seconds:.1f} s schema, curricula and demo users); "
        f"the paths had room for {result.capacity} rows"
    )


if __name__ == "__main__":
    main()


def add_completion_history(target: int) -> int:
    """Add earlier yearly cycles of the existing completions until there are `target` of them.

    For the export measurement only (after the load phases): a completion of cycle c gains
    copies of cycle c + 10k, dated k years earlier, with their own certificate codes. One
    INSERT ... SELECT per year, in the database. Returns the rows added.
    """
    from lms.extensions import db
    from lms.models import Completion

    table = Completion.__table__
    have = db.session.scalar(select(func.count()).select_from(table))
    originals = db.session.scalar(select(func.count()).select_from(table).where(table.c.cycle < 10))
    added, years = 0, 0
    sqlite = db.engine.dialect.name == "sqlite"
    while have + added < target and originals:
        years += 1
        n = min(originals, target - have - added)
        earlier = (
            f"strftime('%Y-%m-%d %H:%M:%S.000000', completed_at, '-{years} years')"
            if sqlite
            else f"completed_at - interval '{years} years'"
        )
        db.session.execute(
            text(
                "INSERT INTO completion (user_id, course_id, cycle, completed_at, percent, "
                "course_version, certificate_code, source) "
                f"SELECT user_id, course_id, cycle + {10 * years}, {earlier}, percent, "
                f"course_version, certificate_code || '-H{years}', source FROM completion "
                f"WHERE cycle < 10 ORDER BY id LIMIT {n}"
            )
        )
        added += n
    db.session.commit()
    if not sqlite:
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM (ANALYZE) completion"
            )
    return added


def count_completions() -> int:
    from lms.extensions import db
    from lms.models import Completion

    return db.session.scalar(select(func.count()).select_from(Completion.__table__))
