"""Run the benchmark: generate the data sets, start gunicorn on them, load it, print the figures.

    python bench/run.py [--db sqlite|postgresql|both] [--size small|large|both] [--duration 4]

For each database and size: a fresh database (SQLite: a file in a temp dir, WAL; PostgreSQL:
a database it creates on 127.0.0.1:5432 and drops after), the data set (bench/generate.py), the
cold start of gunicorn to its first page (three times), then gunicorn with gunicorn.conf.py's
settings on a free port of 127.0.0.1 and the driver (bench/driver.py) with 32 clients: each
page alone, right after the bare ceiling page alone, and the realistic mix, `--repeats` times;
after the last size also the CSV export of `--export-rows` completion rows on one worker, its
memory read from /proc. The workers have REDIS_URL as in production when a Redis answers at
redis://127.0.0.1:6379/14 (`--redis-url`; '' for none), that database emptied before each data
set's measured server. Every figure is the median of the repeats. Nothing leaves 127.0.0.1.
See BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import driver as drive  # noqa: E402
from bench import generate as gen  # noqa: E402
from bench.client import fetch  # noqa: E402

HOST = "127.0.0.1"
PASSWORD = "bench-password-1"
SECRET = "bench-secret-key"
PG_ADMIN = "postgresql://root@127.0.0.1:5432/test"
# The server runs as in production, with Redis when there is one: a database of its own there.
REDIS_URL = "redis://127.0.0.1:6379/14"

LEARNER_PAGES = ("dashboard", "course", "lesson")
PAGES = ("dashboard", "course", "lesson", "quiz_start", "quiz_save", "quiz_submit", "hr_matrix")
SHARE_TARGETS = {
    "dashboard": 0.25,
    "course": 0.25,
    "lesson": 0.25,
    "quiz_save": 0.15,
    "quiz_submit": 0.15,
    "hr_matrix": 0.10,
}
P95_RATIO = 5.0
GROWTH = 1.5
EXPORT_RATE = 100_000
EXPORT_MEMORY_MB = 150
CATALOG_SECONDS = 2.0
COLD_START_SECONDS = 3.0
# gunicorn.conf.py's timeout is 60 s: a request running longer loses its worker. The export
# measurement reads for at most this long and reports the rate of what came.
EXPORT_SECONDS = 25


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# Databases --------------------------------------------------------------------------------------


class Database:
    """A benchmark database: created empty, dropped after."""

    def __init__(self, kind: str, workdir: Path, name: str, pg_admin: str):
        self.kind, self.workdir, self.name, self.pg_admin = kind, workdir, name, pg_admin
        self.n = 0
        self.url = ""

    def create(self) -> str:
        self.drop()
        self.n += 1
        if self.kind == "sqlite":
            path = self.workdir / f"{self.name}-{self.n}.db"
            self.url = f"sqlite:///{path}"
        else:
            self._admin(f'CREATE DATABASE "{self.name}"')
            base = self.pg_admin.rsplit("/", 1)[0]
            self.url = f"{base}/{self.name}"
        return self.url

    def drop(self) -> None:
        if self.kind == "sqlite":
            for path in self.workdir.glob(f"{self.name}-*.db*"):
                path.unlink()
        else:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.url = ""

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.pg_admin, autocommit=True) as conn:
            conn.execute(sql)

    def version(self) -> str:
        if self.kind == "sqlite":
            return f"SQLite {sqlite3.sqlite_version}"
        import psycopg

        with psycopg.connect(self.pg_admin) as conn:
            return f"PostgreSQL {conn.execute('SHOW server_version').fetchone()[0]}"


def make_app(url: str):
    from lms import create_app

    os.environ["LMS_DEMO_PASSWORD"] = PASSWORD
    return create_app({"SQLALCHEMY_DATABASE_URI": gen.sqlalchemy_url(url), "SECRET_KEY": SECRET})


def time_catalog(database: Database) -> dict:
    """Migrate an empty database, then time reading and loading every shipped curriculum."""
    from flask_migrate import upgrade

    from lms.content import read_catalog, sync_catalog
    from lms.extensions import db, init_migrate

    url = database.create()
    app = make_app(url)
    with app.app_context():
        upgrade(directory=init_migrate(app).directory)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        started = time.perf_counter()
        catalog = read_catalog(Path(app.config["COURSES_PATH"]))
        read = time.perf_counter()
        sync_catalog(catalog)
        db.session.commit()
        loaded = time.perf_counter()
        db.session.remove()
        db.engine.dispose()
    database.drop()
    return {
        "read": read - started,
        "sync": loaded - read,
        "total": loaded - started,
        "summary": catalog.summary(),
    }


# The server -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """gunicorn -c gunicorn.conf.py 'bench.wsgi:app' on a free port of 127.0.0.1."""

    extra: tuple[str, ...] = ()  # --gunicorn-arg: e.g. --preload, to try a setting
    redis_url: str | None = None  # --redis-url: REDIS_URL of the workers, or none

    def __init__(self, url: str, workdir: Path, workers: int | None = None):
        self.url, self.workdir, self.workers = url, workdir, workers
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.started = 0.0

    def start(self) -> None:
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"{HOST}:{self.port}",
            *self.extra,
            "bench.wsgi:app",
        ]
        if self.workers:
            command[5:5] = ["--workers", str(self.workers)]
        env = {
            **{k: v for k, v in os.environ.items() if k != "REDIS_URL"},
            **({"REDIS_URL": self.redis_url} if self.redis_url else {}),
            "DATABASE_URL": self.url,
            "SECRET_KEY": SECRET,
            "LMS_DEMO_PASSWORD": PASSWORD,
            "PYTHONDONTWRITEBYTECODE": "",
        }
        logfile = open(self.workdir / "gunicorn.log", "ab")  # noqa: SIM115
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=logfile, stderr=logfile, start_new_session=True
        )
        logfile.close()

    def wait_ready(self, path: str = "/login", timeout: float = 60) -> float:
        """Seconds from the start of the process to the first page served (200)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited ({self.process.returncode}); see "
                    f"{self.workdir / 'gunicorn.log'}"
                )
            try:
                reply = asyncio.run(fetch(HOST, self.port, "GET", path, timeout=30))
                if reply.status == 200:
                    return time.perf_counter() - self.started
            except OSError:
                pass
            time.sleep(0.01)
        raise RuntimeError("gunicorn did not serve a page in time")

    def worker_pids(self) -> list[int]:
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(c) for c in children]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def redis_answering(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.exceptions.RedisError:
        return False


def flush_redis(url: str | None) -> None:
    """Empty the server's Redis database: each data set starts without what an earlier run or
    data set left there, as its workers start without anything in memory."""
    if url:
        import redis

        redis.Redis.from_url(url).flushdb()


def proc_status(pid: int, field: str) -> int:
    """A /proc/<pid>/status figure in kB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores, all processes), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def database_pids(name: str) -> list[int]:
    """PostgreSQL backends serving the benchmark's database (their title names it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres:") and f" {name} " in title:
                pids.append(int(entry.name))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        except (OSError, IndexError):
            pass
    return total


# One data set -----------------------------------------------------------------------------------


@dataclass
class Options:
    duration: float
    repeats: int
    clients: int
    learners: int
    workers: int | None
    export_rows: int
    seed: int
    profile: tuple[str, ...] = ()
    profile_dir: Path = Path(".")


def default_workers() -> int:
    import runpy

    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))["workers"]


def ceiling_key(page: str) -> str:
    """Where a run keeps the ceiling phase measured just before `page`."""
    return "ceiling" if page == PAGES[0] else f"ceiling:{page}"


def rate(phases: dict, key: str, kind: str) -> float:
    return phases[key]["kinds"].get(kind, {}).get("throughput", 0.0)


def share(phases: dict, page: str) -> float:
    """A page's throughput over that of the ceiling phase just before it."""
    return rate(phases, page, page) / (rate(phases, ceiling_key(page), "ceiling") or 1.0)


def run_size(
    database: Database,
    size: str,
    staff: int,
    rows: int,
    opts: Options,
    workdir: Path,
    result: dict,
) -> str:
    """Generate, cold-start, load; fill `result` as it goes. Returns the database URL."""
    result.update({"staff": staff, "rows": rows})
    url = database.create()
    log(f"{database.kind} {size}: generating {staff:,} staff, {rows:,} rows")
    generated = gen.build(url, staff, rows, PASSWORD, opts.seed)
    result["generate"] = {
        "seconds": generated.seconds,
        "setup_seconds": generated.setup_seconds,
        "counts": generated.counts,
        "rows": generated.rows,
    }
    log(
        f"  generated in {generated.seconds:.1f} s (+{generated.setup_seconds:.1f} s schema, "
        f"curricula and demo users): {generated.counts}"
    )
    world = drive.prepare(make_app(url), opts.learners, opts.seed)
    pairs = sum(len(learner.quizzes) for learner in world.learners)
    log(
        f"  {len(world.learners)} learners with {pairs} quizzes they may start; "
        f"{world.matrix_pages} matrix pages"
    )

    result["cold_start"] = []
    for _n in range(opts.repeats):
        with Server(url, workdir, opts.workers) as server:
            result["cold_start"].append(server.wait_ready("/login"))
    log("  cold start to the first page: " + ", ".join(f"{c:.2f} s" for c in result["cold_start"]))

    result["runs"] = []
    flush_redis(Server.redis_url)
    with Server(url, workdir, opts.workers) as server:
        server.wait_ready("/bench/ceiling")
        result["workers"] = len(server.worker_pids())
        driver = drive.Driver(HOST, server.port, world, PASSWORD, opts.clients, opts.seed)
        result["sign_in_seconds"] = asyncio.run(driver.sign_in_all())
        log(
            f"  {len(world.learners) + 1} sessions signed in through the login form in "
            f"{result['sign_in_seconds']:.1f} s"
        )
        asyncio.run(driver.warm_up(result["workers"]))
        for repeat in range(opts.repeats):
            phases: dict = {}
            result["runs"].append(phases)
            # Each page is measured right after a ceiling phase of its own, and its ratios
            # are to that one: the host's speed drifts more between phases a minute apart than
            # some pages differ (the ceiling moved from 1,600 to 2,500 req/s between runs).
            steps = [
                step for page in PAGES for step in ((ceiling_key(page), "ceiling"), (page, page))
            ]
            for key, name in [*steps, ("mix", "mix")]:
                duration = opts.duration * (2 if name == "mix" else 1)
                pids = [server.process.pid, *server.worker_pids()]
                server_cpu, own_cpu = cpu_seconds(pids), time.process_time()
                dbname = database.name if database.kind == "postgresql" else None
                db_before = {p: cpu_seconds([p]) for p in database_pids(dbname)} if dbname else {}
                busy = machine_busy_seconds()
                stats = asyncio.run(driver.phase(name, duration))
                summary = stats.summary()
                summary["server_cpu"] = cpu_seconds(pids) - server_cpu
                summary["driver_cpu"] = time.process_time() - own_cpu
                summary["database_cpu"] = (
                    sum(cpu_seconds([p]) - db_before.get(p, 0.0) for p in database_pids(dbname))
                    if dbname
                    else 0.0
                )
                # What the rest of the machine (other users' work) used meanwhile.
                summary["other_cpu"] = (
                    machine_busy_seconds()
                    - busy
                    - summary["server_cpu"]
                    - summary["driver_cpu"]
                    - summary["database_cpu"]
                )
                phases[key] = summary
                if summary["stopped_early"]:
                    # Its throughput counts over the time it had work; a run with none is left
                    # out of the medians. Raise --learners if this shows.
                    log(f"  ! {name} stopped early: {summary['stopped_early']}")
                failed = {k: v for k, v in summary["kinds"].items() if v["errors"]}
                if failed:
                    log(
                        f"  ! {name}: "
                        + "; ".join(
                            f"{k} {v['errors']} errors, e.g. {v['error_sample']}"
                            for k, v in failed.items()
                        )
                    )
            ceilings = [rate(phases, ceiling_key(page), "ceiling") for page in PAGES]
            log(
                f"  run {repeat + 1}: ceiling {min(ceilings):.0f}–{max(ceilings):.0f}/s; "
                + ", ".join(
                    f"{page} {rate(phases, page, page):.1f}/s ({100 * share(phases, page):.1f}%)"
                    for page in PAGES
                )
            )
        for name in opts.profile:
            # An extra pass, not measured: py-spy samples every worker during the phase.
            target = opts.profile_dir / f"{database.kind}-{size}-{name}.txt"
            spy = subprocess.Popen(
                [
                    shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy",
                    "record",
                    "--pid",
                    str(server.process.pid),
                    "--subprocesses",
                    "--nonblocking",
                    "--rate",
                    "250",
                    "--format",
                    "raw",
                    "--output",
                    str(target),
                    "--duration",
                    str(int(opts.duration * 2) + 1),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)  # py-spy attaches
            asyncio.run(driver.phase(name, opts.duration * 2))
            spy.wait()
            if target.exists():
                (opts.profile_dir / f"{target.stem}.summary.txt").write_text(
                    profile_summary(target.read_text(errors="replace"))
                )
                log(f"  profile of {name}: {target} and {target.stem}.summary.txt")
    return url


def profile_summary(raw: str, top: int = 40) -> str:
    """From py-spy's collapsed stacks: the share of samples in which each function of the app
    (lms/, templates/) is on the stack, and the functions where the time is spent (self)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in raw.splitlines():
        stack, _sep, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        if any(
            f.startswith("select ") or "(selectors.py" in f or "sleep" in f for f in frames[-1:]
        ):
            continue  # an idle worker waiting for a connection
        total += n
        # "function (path:line)" → "function (path)": a function once, whatever the line.
        frames = [re.sub(r":\d+\)$", ")", f) for f in frames]
        own[frames[-1]] = own.get(frames[-1], 0) + n
        for frame in set(frames):
            if re.search(r"\((?:\S*/)?(lms|templates)/|\.html\)$", frame):
                inclusive[frame] = inclusive.get(frame, 0) + n
    lines = [f"{total} busy samples", "", "app functions on the stack (inclusive):"]
    for frame, n in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * n / total:5.1f}%  {frame}")
    lines += ["", "where the time is spent (self):"]
    for frame, n in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{100 * n / total:5.1f}%  {frame}")
    return "\n".join(lines) + "\n"


def run_export(url: str, workdir: Path, opts: Options) -> dict:
    """The records CSV export of `export_rows` completions, on one worker, `repeats` times,
    each read for at most EXPORT_SECONDS; the worker's VmRSS before and VmHWM after."""
    app = make_app(url)
    with app.app_context():
        from lms.extensions import db

        added = gen.add_completion_history(opts.export_rows)
        total = gen.count_completions()
        db.engine.dispose()
    log(f"  export: {added:,} earlier cycles added, {total:,} completion rows")
    result: dict = {"added": added, "completions": total, "runs": []}
    with Server(url, workdir, workers=1) as server:
        server.wait_ready("/login")
        (worker,) = server.worker_pids()

        async def export_once():
            hr = await drive.sign_in(HOST, server.port, "hr", PASSWORD)
            return await fetch(
                HOST,
                server.port,
                "GET",
                "/reports/records.csv",
                hr,
                keep_body=False,
                timeout=600,
                stop_at=time.perf_counter() + EXPORT_SECONDS,
            )

        for _n in range(opts.repeats):
            before = proc_status(worker, "VmRSS")
            reply = asyncio.run(export_once())
            rows = max(0, reply.lines - 1)
            run = {
                "status": reply.status,
                "complete": reply.complete,
                "rows": rows,
                "bytes": reply.size,
                "seconds": reply.seconds,
                "rows_per_second": rows / reply.seconds,
                "rss_before_kb": before,
                "hwm_kb": proc_status(worker, "VmHWM"),
            }
            result["runs"].append(run)
            log(
                f"  export: {rows:,} rows in {reply.seconds:.1f} s "
                f"({run['rows_per_second']:,.0f} rows/s"
                f"{'' if reply.complete else f', cut off after {EXPORT_SECONDS} s'}), "
                f"worker VmRSS {before / 1024:.0f} MB before, VmHWM {run['hwm_kb'] / 1024:.0f} MB"
            )
            # A cut-off export leaves the worker writing into a closed socket until it notices.
            server.wait_ready("/login")
    return result


# Figures ----------------------------------------------------------------------------------------


def figures(result: dict) -> dict:
    """Per page, the median over the runs of: throughput alone and its share of the ceiling
    phase's just before it, p95 alone over that phase's, server CPU per request, p95 in the mix
    over the ceiling's p95 in the mix, p50 alone."""
    out: dict = {}
    for page in ("ceiling", *PAGES, "csv_export"):
        acc: dict[str, list] = {
            k: []
            for k in (
                "throughput",
                "share",
                "cpu_ms",
                "cores",
                "p95_mix",
                "p95_ratio_mix",
                "p95_ratio_alone",
                "p50",
                "p95",
                "p50_mix",
            )
        }
        for run in result["runs"]:
            ceiling = run.get(ceiling_key(page), run["ceiling"])["kinds"]["ceiling"]
            alone = run.get(page, {}).get("kinds", {}).get(page)
            if alone and alone["count"]:
                acc["throughput"].append(alone["throughput"])
                acc["share"].append(alone["throughput"] / ceiling["throughput"])
                acc["cpu_ms"].append(1000 * run[page]["server_cpu"] / alone["count"])
                acc["cores"].append(run[page]["server_cpu"] / run[page]["elapsed"])
                acc["p50"].append(alone["p50"])
                acc["p95"].append(alone["p95"])
                acc["p95_ratio_alone"].append(alone["p95"] / ceiling["p95"])
            mixed = run["mix"]["kinds"]
            if mixed.get(page, {}).get("count") and mixed["ceiling"]["count"]:
                acc["p95_mix"].append(mixed[page]["p95"])
                acc["p95_ratio_mix"].append(mixed[page]["p95"] / mixed["ceiling"]["p95"])
                acc["p50_mix"].append(mixed[page]["p50"])
        out[page] = {k: median(v) for k, v in acc.items()}
    mix = [run["mix"] for run in result["runs"]]
    out["mix"] = {
        "throughput": median(
            [sum(k["count"] for k in m["kinds"].values()) / m["elapsed"] for m in mix]
        ),
        "exports_done": sum(m["kinds"].get("csv_export", {}).get("count", 0) for m in mix),
        "exports_cut": sum(m["kinds"].get("csv_export", {}).get("cut", 0) for m in mix),
        "export_rows": sum(m["kinds"].get("csv_export", {}).get("rows", 0) for m in mix),
        "export_seconds": sum(m.get("export_seconds", 0) for m in mix),
        "driver_cpu_share": median([m["driver_cpu"] / m["elapsed"] for m in mix]),
    }
    # As in the versions of this file before the paired ceilings: one ceiling phase a run.
    phases = [p for run in result["runs"] for k, p in run.items() if not k.startswith("ceiling:")]
    seconds = sum(p["elapsed"] for p in phases)
    out["machine"] = {
        key: sum(p.get(key, 0.0) for p in phases) / seconds if seconds else None
        for key in ("server_cpu", "driver_cpu", "database_cpu", "other_cpu")
    }
    return out


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("PASS" if ok else "FAIL")


def fmt(value, spec: str, suffix: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{suffix}"


def ms(value) -> str:
    return fmt(
        value if value is None else value * 1000, ".0f" if value and value > 0.1 else ".1f", " ms"
    )


def report(results: dict) -> str:
    lines: list[str] = []
    kinds = list(results["databases"])
    sizes_seen: list[str] = []
    for kind in kinds:
        entry = results["databases"][kind]
        sizes = [s for s in ("small", "large") if entry["sizes"].get(s, {}).get("runs")]
        sizes_seen = sizes_seen or sizes
        if not sizes:
            continue
        figs = {s: figures(entry["sizes"][s]) for s in sizes}
        label = {
            s: f"{entry['sizes'][s]['staff']:,} staff / {entry['sizes'][s]['rows']:,} rows"
            for s in sizes
        }
        lines.append(f"### {entry['version']}\n")
        lines.append(
            "Each page alone, 32 clients: throughput and its share of the throughput of the "
            "ceiling phase just before it (the ceiling row: the one before the dashboard); the "
            "workers' CPU time per request, and how many of the cores they kept busy.\n"
        )
        lines.append(
            "| page | "
            + " | ".join(f"{s}: {label[s]}" for s in sizes)
            + " | target | "
            + " | ".join(sizes)
            + " |"
        )
        lines.append("|---" * (2 + 2 * len(sizes)) + "|")
        for page in ("ceiling", *PAGES):
            target = SHARE_TARGETS.get(page)
            cells, marks = [], []
            for s in sizes:
                f = figs[s][page]
                cpu = f"{fmt(f['cpu_ms'], '.1f', ' ms')} CPU, {fmt(f['cores'], '.1f')} cores busy"
                if page == "ceiling":
                    cells.append(f"{fmt(f['throughput'], '.0f', ' req/s')}, {cpu}")
                else:
                    share = f["share"] and 100 * f["share"]
                    cells.append(
                        f"{fmt(f['throughput'], '.1f', ' req/s')} = "
                        f"**{fmt(share, '.1f', '%')}**, {cpu}"
                    )
                marks.append(
                    verdict(None if target is None or f["share"] is None else f["share"] >= target)
                )
            lines.append(
                f"| {page} | "
                + " | ".join(cells)
                + f" | {'≥ ' + format(target, '.0%') if target else '—'} | "
                + " | ".join(marks)
                + " |"
            )
        lines.append("")
        lines.append(
            "p95 latency of each page alone (32 clients) as a multiple of the p95 of the ceiling "
            "phase just before it; and, for reference, p95 in the realistic mix, where the "
            "ceiling page waits in the same queue as the others.\n"
        )
        lines.append(
            "| page | "
            + " | ".join(f"p95 alone, {s}" for s in sizes)
            + " | target | "
            + " | ".join(sizes)
            + " | "
            + " | ".join(f"p95 in the mix, {s}" for s in sizes)
            + " |"
        )
        lines.append("|---" * (2 + 3 * len(sizes)) + "|")
        for page in ("ceiling", *PAGES):
            cells, marks, mixed = [], [], []
            for s in sizes:
                f = figs[s][page]
                if page == "ceiling":
                    cells.append(ms(f["p95"]))
                    marks.append("—")
                    mixed.append(ms(f["p95_mix"]))
                else:
                    cells.append(f"{ms(f['p95'])} = **{fmt(f['p95_ratio_alone'], '.1f', '×')}**")
                    ratio = f["p95_ratio_alone"]
                    marks.append(verdict(None if ratio is None else ratio <= P95_RATIO))
                    mixed.append(f"{ms(f['p95_mix'])} ({fmt(f['p95_ratio_mix'], '.1f', '×')})")
            target = "—" if page == "ceiling" else f"≤ {P95_RATIO:g}×"
            lines.append(
                f"| {page} | "
                + " | ".join(cells)
                + f" | {target} | "
                + " | ".join(marks)
                + " | "
                + " | ".join(mixed)
                + " |"
            )
        for s in sizes:
            m = figs[s]["mix"]
            rate = m["export_rows"] / m["export_seconds"] if m["export_seconds"] else None
            lines.append(
                f"\nMix, {s}: {fmt(m['throughput'], '.1f', ' req/s')} in all; CSV exports "
                f"(all runs) {m['exports_done']} complete, {m['exports_cut']} cut off at the end "
                f"of the phase, {fmt(rate, ',.0f', ' rows/s')} while streaming; the driver used "
                f"{fmt(m['driver_cpu_share'] and 100 * m['driver_cpu_share'], '.0f', '%')} of a "
                f"core."
            )
        for s in sizes:
            use = figs[s]["machine"]
            if use["server_cpu"] is None:
                continue
            lines.append(
                f"\nCores in use during the load phases, {s}: gunicorn workers "
                f"{use['server_cpu']:.2f}, the driver {use['driver_cpu']:.2f}"
                + (f", PostgreSQL {use['database_cpu']:.2f}" if use["database_cpu"] else "")
                + f", other processes on the machine {max(0.0, use['other_cpu']):.2f} "
                f"(of {os.cpu_count()})."
            )
        if len(sizes) == 2:
            lines.append("")
            lines.append("Growth: median latency of each page alone, large over small.\n")
            lines.append("| page | p50 small | p50 large | large / small | target | result |")
            lines.append("|---|---|---|---|---|---|")
            for page in ("ceiling", *PAGES):
                small, large = figs["small"][page]["p50"], figs["large"][page]["p50"]
                growth = large / small if small and large else None
                mark = (
                    "—"
                    if page == "ceiling"
                    else verdict(None if growth is None else growth <= GROWTH)
                )
                target = "—" if page == "ceiling" else f"≤ {GROWTH:g}×"
                lines.append(
                    f"| {page} | {ms(small)} | {ms(large)} | "
                    f"**{fmt(growth, '.2f', '×')}** | {target} | {mark} |"
                )
        lines.append("")

    lines.append("### Export, curricula, cold start, generation\n")
    names = [results["databases"][k]["version"] for k in kinds]
    lines.append("| figure | " + " | ".join(names) + " | target | result |")
    lines.append("|---" * (len(kinds) + 3) + "|")

    def row(name: str, values: list[str], target: str, checks: list) -> None:
        lines.append(
            f"| {name} | "
            + " | ".join(values)
            + f" | {target} | "
            + " / ".join(verdict(c) for c in checks)
            + " |"
        )

    exports = [results["databases"][k].get("export") for k in kinds]
    if any(e and e["runs"] for e in exports):
        rates, cells, hwms, mems = [], [], [], []
        for e in exports:
            if not e or not e["runs"]:
                rates.append(None)
                cells.append("—")
                hwms.append(None)
                mems.append("—")
                continue
            rate = median([r["rows_per_second"] for r in e["runs"]])
            done = all(r["complete"] for r in e["runs"])
            rows = median([r["rows"] for r in e["runs"]])
            rates.append(rate)
            cells.append(
                f"**{rate:,.0f} rows/s** ({rows:,.0f} of {e['completions']:,} rows "
                + ("" if done else f"in the {EXPORT_SECONDS} s read; cut off")
                + ")"
            )
            hwm = max(r["hwm_kb"] for r in e["runs"]) / 1024
            idle = median([r["rss_before_kb"] for r in e["runs"]]) / 1024
            hwms.append(hwm)
            mems.append(f"**{hwm:.0f} MB** (idle {idle:.0f} MB)")
        row(
            "CSV export of the completions, rows/s",
            cells,
            f"≥ {EXPORT_RATE:,}",
            [None if r is None else r >= EXPORT_RATE for r in rates],
        )
        row(
            "CSV export, the worker's peak RSS (VmHWM)",
            mems,
            f"< {EXPORT_MEMORY_MB} MB",
            [None if h is None else h < EXPORT_MEMORY_MB for h in hwms],
        )
    cats = [results["databases"][k].get("catalog") or [] for k in kinds]
    totals = [median([c["total"] for c in cat]) for cat in cats]
    reads = [median([c["read"] for c in cat]) for cat in cats]
    row(
        "Loading all shipped curricula (read + write)",
        [
            f"**{fmt(t, '.2f', ' s')}** (read {fmt(r, '.2f', ' s')})"
            for t, r in zip(totals, reads, strict=True)
        ],
        f"< {CATALOG_SECONDS:g} s",
        [None if t is None else t < CATALOG_SECONDS for t in totals],
    )
    for s in ("small", "large"):
        colds = [
            median(results["databases"][k]["sizes"].get(s, {}).get("cold_start", [])) for k in kinds
        ]
        if any(c is not None for c in colds):
            row(
                f"Cold start to the first page ({s} set)",
                [f"**{fmt(c, '.2f', ' s')}**" for c in colds],
                f"< {COLD_START_SECONDS:g} s",
                [None if c is None else c < COLD_START_SECONDS for c in colds],
            )
    for s in ("small", "large"):
        gens = [results["databases"][k]["sizes"].get(s, {}).get("generate") for k in kinds]
        if any(gens):
            row(
                f"Generating the {s} set",
                [
                    "—"
                    if g is None
                    else f"{g['seconds']:.1f} s (+{g['setup_seconds']:.1f} s setup_site)"
                    for g in gens
                ],
                "—",
                [None],
            )
    lines.append("")
    return "\n".join(lines)


def machine() -> dict:
    meminfo = Path("/proc/meminfo").read_text().splitlines()[0].split()
    return {
        "nproc": os.cpu_count(),
        "memory_gb": round(int(meminfo[1]) / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--size", choices=("small", "large", "both"), default="both")
    parser.add_argument(
        "--duration", type=float, default=4.0, help="seconds per phase (the mix runs twice as long)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs; figures are medians")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--learners",
        type=int,
        default=900,
        help="learner sessions signed in (their quizzes last three runs)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="gunicorn workers (default: gunicorn.conf.py's, from the cores)",
    )
    parser.add_argument("--staff", type=int, help="staff of the large set (default 10,000)")
    parser.add_argument("--rows", type=int, help="rows of the large set (default 500,000)")
    parser.add_argument(
        "--export-rows",
        type=int,
        default=500_000,
        help="completion rows of the export measurement (at the last size run)",
    )
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument(
        "--pg-admin",
        default=PG_ADMIN,
        help="a PostgreSQL database to create and drop the benchmark's from",
    )
    parser.add_argument("--pg-database", default="lms_bench")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--redis-url",
        default=None,
        help=f"the workers' REDIS_URL, emptied before each data set (default {REDIS_URL} if a "
        "Redis answers there; '' for none)",
    )
    parser.add_argument(
        "--profile",
        default="",
        help="phases to profile with py-spy after the measured runs, e.g. hr_matrix,quiz_start",
    )
    parser.add_argument("--profile-dir", type=Path, default=Path("bench-profiles"))
    parser.add_argument(
        "--gunicorn-arg",
        action="append",
        default=[],
        help="an extra gunicorn option for every server, e.g. --gunicorn-arg=--preload",
    )
    parser.add_argument("--json", type=Path, help="write every measurement here")
    parser.add_argument("--markdown", type=Path, help="write the tables here too")
    args = parser.parse_args()
    if args.redis_url is None:
        args.redis_url = REDIS_URL if redis_answering(REDIS_URL) else ""
    for url in (args.pg_admin, *([args.redis_url] if args.redis_url else [])):
        if "127.0.0.1" not in url and "localhost" not in url:
            sys.exit("the benchmark only talks to 127.0.0.1")
    sizes = {
        "small": gen.SIZES["small"],
        "large": (args.staff or gen.SIZES["large"][0], args.rows or gen.SIZES["large"][1]),
    }
    chosen = ["small", "large"] if args.size == "both" else [args.size]
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    opts = Options(
        args.duration,
        args.repeats,
        args.clients,
        args.learners,
        args.workers,
        args.export_rows,
        args.seed,
        tuple(p for p in args.profile.split(",") if p),
        args.profile_dir,
    )
    Server.extra = tuple(args.gunicorn_arg)
    Server.redis_url = args.redis_url or None
    log(f"Redis: {args.redis_url}" if args.redis_url else "Redis: none (memory only)")
    if opts.profile:
        opts.profile_dir.mkdir(parents=True, exist_ok=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="lms-bench-"))
    results: dict = {
        "machine": machine(),
        "options": {k: str(v) for k, v in vars(opts).items()},
        "databases": {},
    }
    results["machine"]["workers"] = args.workers or default_workers()
    results["machine"]["redis"] = args.redis_url or None
    database = None
    try:
        for kind in kinds:
            database = Database(
                kind,
                workdir,
                args.pg_database if kind == "postgresql" else "lms-bench",
                args.pg_admin,
            )
            entry = {"version": database.version(), "sizes": {}}
            results["databases"][kind] = entry
            log(f"{entry['version']}: timing the curricula load")
            entry["catalog"] = [time_catalog(database) for _n in range(opts.repeats)]
            log("  " + ", ".join(f"{c['total']:.2f} s" for c in entry["catalog"]))
            for size in chosen:
                staff, rows = sizes[size]
                entry["sizes"][size] = {}
                url = run_size(database, size, staff, rows, opts, workdir, entry["sizes"][size])
                if not args.no_export and size == chosen[-1]:
                    entry["export"] = run_export(url, workdir, opts)
                database.drop()
    finally:
        if database is not None:
            database.drop()  # also after an error or Ctrl+C
        results["seconds"] = time.perf_counter() - started
        results["machine"]["loadavg_end"] = os.getloadavg()
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, default=str))
        shutil.rmtree(workdir, ignore_errors=True)
    text = report(results)
    minutes, seconds = divmod(int(results["seconds"]), 60)
    text += (
        f"\nWhole run: {minutes} min {seconds} s; {results['machine']['nproc']} cores, "
        f"{results['machine']['workers']} gunicorn workers "
        f"({'Redis' if args.redis_url else 'no Redis'}), {opts.clients} clients, "
        f"{opts.duration:g} s a phase, median of {opts.repeats} runs; load average "
        f"{results['machine']['loadavg_start'][0]:.2f} at the start, "
        f"{results['machine']['loadavg_end'][0]:.2f} at the end.\n"
    )
    print(text)
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
