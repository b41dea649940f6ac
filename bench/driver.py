"""The load driver: signed-in learners and HR on a running server, in phases of 32 clients.

A phase runs `clients` coroutines in a closed loop (no think time) for `duration` seconds or
`max_requests` requests, whichever comes first, then waits for the requests in flight. Phases:

- one page alone (`ceiling`, `dashboard`, `course`, `lesson`, `hr_matrix`; `csv_export` can be
  run alone too, but bench/run.py measures the export on its own server), every client asking
  for it again and again: the page's throughput as a share of the ceiling's;
- the quiz, in three phases that hand attempts on: `quiz_start` opens attempts (each on a quiz
  the learner still has an attempt at), `quiz_save` saves answers into them as the page's
  autosave does, `quiz_submit` grades them; the start and submit phases stop early when there
  is nothing left to start or submit;
- `mix`, the realistic day: learners on their dashboard, course pages and lessons, taking
  quizzes (start, three autosaves, submit), HR on the matrix and now and then the CSV export,
  and the bare ceiling page among them, all at once on the same workers.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field

from .client import Reply, Session, fetch, sign_in

PAGES = (
    "ceiling",
    "dashboard",
    "course",
    "lesson",
    "quiz_start",
    "quiz_save",
    "quiz_submit",
    "hr_matrix",
    "csv_export",
)
# The realistic mix: weights of what a client does next (a quiz is start, 3 saves, submit).
MIX = (
    ("ceiling", 10),
    ("dashboard", 20),
    ("course", 15),
    ("lesson", 25),
    ("quiz", 6),
    ("hr_matrix", 5),
    ("csv_export", 0.3),
)
RIGHT_ANSWER_SHARE = 0.85


@dataclass
class Learner:
    username: str
    courses: list[str]
    lessons: list[int]
    quizzes: dict[int, int]  # quiz item id → attempts left (now)
    session: Session | None = None


@dataclass
class Pair:
    """A learner and a quiz they may start an attempt at."""

    learner: Learner
    item_id: int
    left: int


@dataclass
class OpenAttempt:
    pair: Pair
    attempt_id: int


@dataclass
class World:
    """What the driver knows of the data: learners, quiz answers, the matrix's page count."""

    learners: list[Learner]
    answers: dict[int, list[list[tuple[str, str]]]]  # quiz → per question, its right fields
    matrix_pages: int
    hr_username: str = "hr"


def prepare(app, count: int, seed: int = 1) -> World:
    """Pick `count` learners with something to do, from the database, with the app's own rules.

    Demo learners first, then generated staff at random. Each one's unlocked courses, their
    lessons and the quizzes they still have an attempt at (none open).
    """
    from sqlalchemy import func, select

    from lms import progress
    from lms.cli import DEMO_USERS
    from lms.extensions import db
    from lms.gift import question_from_dict
    from lms.grading import correct_response
    from lms.models import Attempt, AttemptState, Course, Role, User, UserRole, utcnow

    rng = random.Random(seed)
    today = utcnow().date()
    learners: list[Learner] = []
    answers: dict[int, list[list[tuple[str, str]]]] = {}
    with app.app_context():
        demo = [u for u, _n, _r, roles in DEMO_USERS if Role.LEARNER in roles and u != "trainer"]
        staff = db.session.scalars(
            select(User.username)
            .join(UserRole, UserRole.user_id == User.id)
            .where(User.is_active, UserRole.role == "learner", User.username.not_in(demo))
            .order_by(User.id)
        ).all()
        rng.shuffle(staff)
        for username in demo + staff:
            if len(learners) >= count:
                break
            user = db.session.scalar(select(User).where(User.username == username))
            plan = progress.learner_plan(user, today)
            states = progress.course_states(plan)
            # The plan's courses are the catalogue's cached copies: load the outline here.
            courses = [
                db.session.get(Course, c.id)
                for t in plan.tracks
                for c in t.courses
                if c.id in states and not states[c.id].is_locked
            ]
            lessons, quizzes = [], {}
            for course in courses:
                cycle = progress.course_cycle(user, course).cycle
                for module in course.modules:
                    for item in module.items:
                        if item.kind == "lesson":
                            lessons.append(item.id)
                        elif item.kind == "quiz":
                            used, open_ = db.session.execute(
                                select(
                                    func.count(),
                                    func.count().filter(Attempt.state == AttemptState.IN_PROGRESS),
                                ).where(
                                    Attempt.user_id == user.id,
                                    Attempt.item_id == item.id,
                                    Attempt.cycle == cycle,
                                )
                            ).one()
                            left = (item.max_attempts - used) if item.max_attempts else 3
                            if left > 0 and not open_:
                                quizzes[item.id] = left
                            if item.id not in answers:
                                answers[item.id] = _right_fields(
                                    item, question_from_dict, correct_response
                                )
            if lessons:
                learners.append(Learner(username, [c.slug for c in courses], lessons, quizzes))
        staff_count = db.session.scalar(
            select(func.count()).select_from(User).where(User.is_active)
        )
        db.session.remove()
    return World(learners, answers, max(1, -(-staff_count // 50)))


def _right_fields(item, question_from_dict, correct_response) -> list[list[tuple[str, str]]]:
    """Per question of a new attempt (in order, as the quiz is not shuffled), its right fields."""
    fields = []
    for position, question in enumerate(q for q in item.questions):
        data = question.data.get("zh") or next(iter(question.data.values()))
        key = correct_response(question_from_dict(data))
        name = f"q{position}"
        if data["qtype"] == "matching" and isinstance(key, dict):
            fields.append([(f"{name}_{i}", str(v)) for i, v in key.items()])
        elif isinstance(key, bool):
            fields.append([(name, "true" if key else "false")])
        elif isinstance(key, list):
            fields.append([(name, str(v)) for v in key])
        elif key is None:
            fields.append([])
        else:
            fields.append([(name, str(key))])
    return fields


# Statistics -------------------------------------------------------------------------------------


@dataclass
class Stats:
    name: str
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    rows: Counter = field(default_factory=Counter)
    cut: Counter = field(default_factory=Counter)  # requests cut off at the deadline
    in_window: Counter = field(default_factory=Counter)  # complete before the deadline
    duration: float = 0.0
    export_seconds: float = 0.0  # time spent receiving exports, complete or cut
    started: float = 0.0
    deadline: float = float("inf")
    elapsed: float = 0.0
    requests: int = 0
    stopped_early: str = ""

    def record(self, kind: str, reply: Reply | None, ok: bool, note: str = "") -> None:
        self.requests += 1
        if ok and reply is not None:
            self.latencies[kind].append(reply.seconds)
            if time.perf_counter() <= self.deadline:
                self.in_window[kind] += 1
        else:
            self.errors[kind] += 1
            if kind not in self.samples:
                status = reply.status if reply is not None else "no reply"
                self.samples[kind] = f"{status} {note}".strip()

    def summary(self) -> dict:
        out = {
            "elapsed": self.elapsed,
            "stopped_early": self.stopped_early,
            "kinds": {},
            "export_seconds": self.export_seconds,
        }
        # A phase that ran out of work (nothing left to start or submit) ends early.
        window = min(self.duration, self.elapsed) or self.duration or 1.0
        for kind in sorted(set(self.latencies) | set(self.errors) | set(self.cut)):
            values = sorted(self.latencies.get(kind, []))
            out["kinds"][kind] = {
                "count": len(values),
                "errors": self.errors.get(kind, 0),
                "error_sample": self.samples.get(kind, ""),
                # Requests completed within the phase's duration, per second of it (those in
                # flight at the end count for latency, not here).
                "throughput": self.in_window.get(kind, 0) / window,
                "p50": percentile(values, 50),
                "p95": percentile(values, 95),
                "mean": statistics.fmean(values) if values else None,
                "rows": self.rows.get(kind, 0),
                "cut": self.cut.get(kind, 0),
            }
        return out


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile of sorted values, by linear interpolation."""
    if not values:
        return None
    position = (len(values) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


# The driver -------------------------------------------------------------------------------------


class Driver:
    def __init__(
        self, host: str, port: int, world: World, password: str, clients: int = 32, seed: int = 1
    ):
        self.host, self.port, self.world, self.password = host, port, world, password
        self.clients = clients
        self.rng = random.Random(seed)
        self.pairs: deque[Pair] = deque()
        self.open: list[OpenAttempt] = []
        self.hr: Session | None = None

    async def sign_in_all(self, concurrency: int = 8) -> float:
        """Every learner and HR through the login form; returns the seconds it took."""
        started = time.perf_counter()
        gate = asyncio.Semaphore(concurrency)

        async def one(learner: Learner) -> None:
            async with gate:
                learner.session = await sign_in(
                    self.host, self.port, learner.username, self.password
                )

        await asyncio.gather(*(one(learner) for learner in self.world.learners))
        self.hr = await sign_in(self.host, self.port, self.world.hr_username, self.password)
        pairs = [
            Pair(learner, item_id, left)
            for learner in self.world.learners
            for item_id, left in learner.quizzes.items()
        ]
        self.rng.shuffle(pairs)
        self.pairs = deque(pairs)
        return time.perf_counter() - started

    def learner(self, client: int) -> Learner:
        return self.world.learners[client % len(self.world.learners)]

    # One request each ---------------------------------------------------------------------------

    async def get(
        self, stats: Stats, kind: str, path: str, session: Session | None, keep_body: bool = False
    ) -> Reply | None:
        try:
            reply = await fetch(self.host, self.port, "GET", path, session, keep_body=keep_body)
        except (TimeoutError, OSError, Exception) as e:  # noqa: BLE001
            stats.record(kind, None, False, f"{type(e).__name__}: {e}")
            return None
        stats.record(kind, reply, reply.status == 200, path)
        return reply

    async def ceiling(self, client: int, stats: Stats) -> bool:
        await self.get(stats, "ceiling", "/bench/ceiling", None)
        return True

    async def dashboard(self, client: int, stats: Stats) -> bool:
        await self.get(stats, "dashboard", "/dashboard", self.learner(client).session)
        return True

    async def course(self, client: int, stats: Stats) -> bool:
        learner = self.learner(client)
        slug = self.rng.choice(learner.courses)
        await self.get(stats, "course", f"/courses/{slug}", learner.session)
        return True

    async def lesson(self, client: int, stats: Stats) -> bool:
        learner = self.learner(client)
        item_id = self.rng.choice(learner.lessons)
        await self.get(stats, "lesson", f"/items/{item_id}", learner.session)
        return True

    async def hr_matrix(self, client: int, stats: Stats) -> bool:
        page = self.rng.randint(1, self.world.matrix_pages)
        await self.get(stats, "hr_matrix", f"/reports/matrix?page={page}", self.hr)
        return True

    async def csv_export(self, client: int, stats: Stats) -> bool:
        """The records export. One still coming at the end of the phase is cut off there (the
        worker stops at its next write) and counted apart, with the rows it had sent."""
        try:
            reply = await fetch(
                self.host,
                self.port,
                "GET",
                "/reports/records.csv",
                self.hr,
                keep_body=False,
                timeout=600,
                stop_at=stats.deadline,
            )
        except (OSError, Exception) as e:  # noqa: BLE001
            stats.record("csv_export", None, False, f"{type(e).__name__}: {e}")
            return True
        if reply.status == 200:
            stats.rows["csv_export"] += max(0, reply.lines - 1)
            stats.export_seconds += reply.seconds
        if not reply.complete:
            stats.cut["csv_export"] += 1
            return True
        stats.record("csv_export", reply, reply.status == 200, "/reports/records.csv")
        return True

    async def post(
        self,
        stats: Stats,
        kind: str,
        path: str,
        session: Session,
        form: list,
        accept: str = "text/html",
    ) -> Reply | None:
        form = [("csrf_token", session.csrf_token), *form]
        try:
            return await fetch(self.host, self.port, "POST", path, session, form, accept=accept)
        except (TimeoutError, OSError, Exception) as e:  # noqa: BLE001
            stats.record(kind, None, False, f"{type(e).__name__}: {e}")
            return None

    async def start(self, stats: Stats) -> OpenAttempt | None:
        """Open an attempt at the next quiz in the pool; None when the pool is empty."""
        if not self.pairs:
            stats.stopped_early = stats.stopped_early or "no quiz left to start"
            return None
        pair = self.pairs.popleft()
        session = pair.learner.session
        reply = await self.post(stats, "quiz_start", f"/items/{pair.item_id}/attempts", session, [])
        if reply is None:
            return None
        location = reply.location
        ok = reply.status == 302 and location.startswith("/attempts/")
        stats.record("quiz_start", reply, ok, location)
        if not ok:
            return None
        pair.left -= 1
        return OpenAttempt(pair, int(location.rsplit("/", 1)[1]))

    def form_for(self, attempt: OpenAttempt) -> list[tuple[str, str]]:
        fields = []
        for right in self.world.answers.get(attempt.pair.item_id, []):
            if self.rng.random() < RIGHT_ANSWER_SHARE:
                fields.extend(right)
        return fields

    async def save(self, stats: Stats, attempt: OpenAttempt) -> None:
        session = attempt.pair.learner.session
        reply = await self.post(
            stats,
            "quiz_save",
            f"/attempts/{attempt.attempt_id}/save",
            session,
            self.form_for(attempt),
            accept="application/json",
        )
        if reply is not None:
            stats.record("quiz_save", reply, reply.status == 200, reply.location)

    async def submit(self, stats: Stats, attempt: OpenAttempt) -> None:
        session = attempt.pair.learner.session
        path = f"/attempts/{attempt.attempt_id}/submit"
        reply = await self.post(stats, "quiz_submit", path, session, self.form_for(attempt))
        if reply is None:
            return
        ok = reply.status == 302 and reply.location.endswith("/review")
        stats.record("quiz_submit", reply, ok, reply.location)
        if attempt.pair.left > 0:
            self.pairs.append(attempt.pair)

    # Phases -------------------------------------------------------------------------------------

    async def phase(self, name: str, duration: float, max_requests: int = 100_000) -> Stats:
        stats = Stats(name)
        stats.started = time.perf_counter()
        deadline = stats.deadline = stats.started + duration
        stats.duration = duration
        step = self._steps(name)
        last_end = stats.started

        async def loop(client: int) -> None:
            nonlocal last_end
            while time.perf_counter() < deadline and stats.requests < max_requests:
                if not await step(client, stats):
                    break
            last_end = max(last_end, time.perf_counter())

        await asyncio.gather(*(loop(c) for c in range(self.clients)))
        stats.elapsed = last_end - stats.started
        return stats

    def _steps(self, name: str):
        if name in ("ceiling", "dashboard", "course", "lesson", "hr_matrix", "csv_export"):
            return getattr(self, name)
        if name == "quiz_start":

            async def step(client: int, stats: Stats) -> bool:
                attempt = await self.start(stats)
                if attempt is not None:
                    self.open.append(attempt)
                return bool(self.pairs) or attempt is not None

            return step
        if name == "quiz_save":

            async def step(client: int, stats: Stats) -> bool:
                # Each client saves into its own attempts: no two write one row at once.
                mine = self.open[client :: self.clients]
                if not mine:
                    return False
                await self.save(stats, self.rng.choice(mine))
                return True

            return step
        if name == "quiz_submit":

            async def step(client: int, stats: Stats) -> bool:
                if not self.open:
                    stats.stopped_early = stats.stopped_early or "every open attempt submitted"
                    return False
                await self.submit(stats, self.open.pop())
                return True

            return step
        if name == "mix":
            kinds = [k for k, _w in MIX]
            weights = [w for _k, w in MIX]

            async def step(client: int, stats: Stats) -> bool:
                kind = self.rng.choices(kinds, weights)[0]
                if kind != "quiz":
                    return await getattr(self, kind)(client, stats)
                attempt = await self.start(stats)
                if attempt is None:
                    return True  # the pool is empty: the others go on
                for _save in range(3):
                    await self.save(stats, attempt)
                await self.submit(stats, attempt)
                return True

            return step
        raise ValueError(name)

    async def warm_up(self, workers: int) -> None:
        """Each kind of page a few times per worker, so that no measurement pays first-use costs
        (imports on first use, template compilation, the first database connection)."""
        stats = Stats("warm-up")
        for name in ("ceiling", "dashboard", "course", "lesson", "hr_matrix"):
            step = getattr(self, name)
            await asyncio.gather(*(step(c, stats) for c in range(3 * workers)))
        if stats.errors:
            raise RuntimeError(f"warm-up failed: {dict(stats.errors)} {stats.samples}")
