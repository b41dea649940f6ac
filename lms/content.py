"""Course files: read and validate `courses/` (pure), then sync them into the database by slug."""

from __future__ import annotations

import hashlib
import re
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from .extensions import db
from .gift import GiftError, Question, parse_gift, question_to_dict
from .models import (
    Course,
    CourseVersion,
    Item,
    ItemKind,
    JobRole,
    Module,
    Review,
    Track,
    TrackJobRole,
)
from .models import Question as QuestionRow
from .render import markdown_to_html

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
DELIVERIES = ("online", "instructor-led")
LANGUAGES = ("zh", "en")


class ContentError(Exception):
    """Every problem found in the course files, as `file:line: message` lines."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Tr:
    zh: str
    en: str = ""


@dataclass(frozen=True)
class QuestionSpec:
    name: str
    zh: Question
    en: Question | None


@dataclass(frozen=True)
class ItemSpec:
    key: str
    kind: str
    title: Tr
    body: Tr = Tr("")
    is_required: bool = True
    questions: tuple[QuestionSpec, ...] = ()
    pass_mark: float = 80.0
    max_attempts: int = 0
    time_limit: int = 0
    is_shuffled: bool = False
    review: str = Review.AFTER_FINAL
    grading: str = "highest"
    draw: int = 0
    draw_category: str = ""
    source: str = ""


@dataclass(frozen=True)
class ModuleSpec:
    title: Tr
    items: tuple[ItemSpec, ...]


@dataclass(frozen=True)
class CourseSpec:
    slug: str
    title: Tr
    summary: Tr
    requires: tuple[str, ...]
    delivery: str
    details: dict[str, Any]
    modules: tuple[ModuleSpec, ...]
    content_hash: str
    source: str
    files: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def items(self) -> Iterator[ItemSpec]:
        for module in self.modules:
            yield from module.items


@dataclass(frozen=True)
class TrackSpec:
    slug: str
    title: Tr
    summary: Tr
    job_roles: tuple[str, ...]
    requires: tuple[str, ...]
    courses: tuple[CourseSpec, ...]
    source: str


@dataclass(frozen=True)
class Catalog:
    tracks: tuple[TrackSpec, ...]

    @property
    def courses(self) -> list[CourseSpec]:
        return [c for t in self.tracks for c in t.courses]

    def counts(self) -> dict[str, int]:
        items = [i for c in self.courses for i in c.items]
        return {
            "tracks": len(self.tracks),
            "courses": len(self.courses),
            "lessons": sum(i.kind == ItemKind.LESSON for i in items),
            "questions": sum(len(i.questions) for i in items),
        }

    def summary(self) -> str:
        n = self.counts()
        return (
            f"{n['tracks']} tracks, {n['courses']} courses, "
            f"{n['lessons']} lessons, {n['questions']} questions"
        )


@dataclass
class _Reader:
    """Collects errors while reading, so one run reports them all."""

    root: Path
    errors: list[str] = field(default_factory=list)

    def error(self, path: Path, line: int, message: str) -> None:
        self.errors.append(f"{self.rel(path)}:{line}: {message}")

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def toml(self, path: Path) -> tuple[dict[str, Any], list[str]] | None:
        try:
            text = path.read_text(encoding="utf-8")
            return tomllib.loads(text), text.splitlines()
        except FileNotFoundError:
            self.error(path, 1, "file not found")
        except UnicodeDecodeError:
            self.error(path, 1, "not UTF-8 text")
        except tomllib.TOMLDecodeError as e:
            match = re.search(r"line (\d+)", str(e))
            self.error(path, int(match.group(1)) if match else 1, f"invalid TOML: {e}")
        return None


def _line_of(lines: list[str], key: str, start: int = 0, end: int | None = None) -> int:
    """1-based line of `key = ...` within a block of lines, else the block's first line."""
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for number in range(start, end if end is not None else len(lines)):
        if pattern.match(lines[number]):
            return number + 1
    return start + 1


def _headers(lines: list[str], header: str) -> list[int]:
    return [n for n, line in enumerate(lines) if line.strip() == header]


def _tr(value: Any) -> Tr | None:
    if isinstance(value, str):
        return Tr(value)
    if isinstance(value, dict) and isinstance(value.get("zh"), str) and value["zh"].strip():
        return Tr(value["zh"].strip(), str(value.get("en", "")).strip())
    return None


def read_catalog(root: Path) -> Catalog:
    """Read and validate every track and course under root; raise ContentError on any problem."""
    reader = _Reader(root)
    if not root.is_dir():
        raise ContentError([f"{root}:1: not a folder"])
    tracks = [
        t
        for path in sorted(root.iterdir())
        if path.is_dir() and not path.name.startswith(".")
        if (t := _read_track(reader, path)) is not None
    ]
    _check_references(reader, tracks)
    if reader.errors:
        raise ContentError(reader.errors)
    return Catalog(tuple(tracks))


def _manifest(reader: _Reader, path: Path):
    """A track.toml or course.toml: its data, lines and title, with the checks both share."""
    loaded = reader.toml(path)
    if loaded is None:
        return None
    data, lines = loaded
    if not SLUG.match(path.parent.name):
        reader.error(path, 1, f"folder name {path.parent.name!r} is not a slug (a-z, 0-9, -)")
    title = _tr(data.get("title"))
    if title is None:
        reader.error(path, _line_of(lines, "title"), "title needs a non-empty zh text")
    return data, lines, title or Tr(path.parent.name)


def _read_track(reader: _Reader, folder: Path) -> TrackSpec | None:
    path = folder / "track.toml"
    if (manifest := _manifest(reader, path)) is None:
        return None
    data, lines, title = manifest
    roles = data.get("job_roles", [])
    for role in roles if isinstance(roles, list) else [roles]:
        if role not in JobRole.__members__.values():
            reader.error(path, _line_of(lines, "job_roles"), f"unknown job role {role!r}")
    listed = data.get("courses", [])
    if not isinstance(listed, list) or not listed:
        reader.error(path, _line_of(lines, "courses"), "courses must list the course folders")
        listed = []
    courses = []
    for slug in listed:
        if not (folder / str(slug) / "course.toml").is_file():
            reader.error(path, _line_of(lines, "courses"), f"no course folder {slug!r}")
        elif (course := _read_course(reader, folder / str(slug))) is not None:
            courses.append(course)
    for extra in sorted(p.name for p in folder.iterdir() if (p / "course.toml").is_file()):
        if extra not in listed:
            reader.error(path, _line_of(lines, "courses"), f"course folder {extra!r} not listed")
    return TrackSpec(
        slug=folder.name,
        title=title,
        summary=_tr(data.get("summary")) or Tr(""),
        job_roles=tuple(roles) if isinstance(roles, list) else (),
        requires=tuple(data.get("requires", [])),
        courses=tuple(courses),
        source=reader.rel(path),
    )


def _read_course(reader: _Reader, folder: Path) -> CourseSpec | None:
    path = folder / "course.toml"
    if (manifest := _manifest(reader, path)) is None:
        return None
    data, lines, title = manifest
    delivery = data.get("delivery", "online")
    if delivery not in DELIVERIES:
        reader.error(path, _line_of(lines, "delivery"), f"delivery must be one of {DELIVERIES}")
    modules = _read_modules(reader, folder, data.get("modules"), lines)
    details = {k: data[k] for k in ("days", "audience", "goals", "course_book") if k in data}
    return CourseSpec(
        slug=folder.name,
        title=title,
        summary=_tr(data.get("summary")) or Tr(""),
        requires=tuple(data.get("requires", [])),
        delivery=delivery,
        details=details,
        modules=modules,
        content_hash=_hash_files(files := folder_files(folder)),
        source=reader.rel(path),
        files=files,
    )


def _read_modules(reader: _Reader, folder: Path, modules: Any, lines: list[str]):
    path = folder / "course.toml"
    if not isinstance(modules, list) or not modules:
        reader.error(path, 1, "a course needs at least one [[modules]]")
        return ()
    module_lines = _headers(lines, "[[modules]]")
    item_lines = _headers(lines, "[[modules.items]]")
    specs, keys, item_number = [], set(), 0
    for number, module in enumerate(modules):
        start = module_lines[number] if number < len(module_lines) else 0
        title = _tr(module.get("title"))
        if title is None:
            reader.error(path, start + 1, "module title needs a non-empty zh text")
        items = []
        for item in module.get("items", []):
            at = item_lines[item_number] if item_number < len(item_lines) else start
            end = item_lines[item_number + 1] if item_number + 1 < len(item_lines) else None
            item_number += 1
            spec = _read_item(reader, folder, item, lines, at, end, item_number)
            if spec is None:
                continue
            if spec.key in keys:
                reader.error(path, at + 1, f"two items use the file {spec.key!r}")
            keys.add(spec.key)
            items.append(spec)
        if not module.get("items"):
            reader.error(path, start + 1, "a module needs at least one [[modules.items]]")
        specs.append(ModuleSpec(title or Tr(""), tuple(items)))
    return tuple(specs)


def _read_item(reader, folder, item, lines, at, end, number) -> ItemSpec | None:
    path = folder / "course.toml"

    def line(key: str) -> int:
        return _line_of(lines, key, at, end)

    kind = item.get("kind")
    if kind not in ItemKind.__members__.values():
        reader.error(path, line("kind"), f"kind must be lesson, quiz or practical, not {kind!r}")
        return None
    title = _tr(item.get("title"))
    if title is None:
        reader.error(path, line("title"), "item title needs a non-empty zh text")
        return None
    key = item.get("file") or f"practical-{number}"
    if not SLUG.match(str(key)):
        reader.error(path, line("file"), f"file {key!r} is not a slug (a-z, 0-9, -)")
        return None
    common = {
        "key": key,
        "kind": kind,
        "title": title,
        "is_required": bool(item.get("required", True)),
        "source": f"{reader.rel(path)}:{at + 1}",
    }
    if kind == ItemKind.PRACTICAL:
        return ItemSpec(**common, body=_tr(item.get("description")) or Tr(""))
    if "file" not in item:
        reader.error(path, line("kind"), f"a {kind} needs a file")
        return None
    if kind == ItemKind.LESSON:
        body = _read_texts(reader, folder, key, ".md")
        return ItemSpec(**common, body=body) if body else None
    return _read_quiz(reader, folder, item, common, line)


def _read_texts(reader: _Reader, folder: Path, key: str, suffix: str) -> Tr | None:
    texts = {}
    for language in LANGUAGES:
        path = folder / f"{key}.{language}{suffix}"
        if path.is_file():
            texts[language] = path.read_text(encoding="utf-8")
    if "zh" not in texts:
        reader.error(folder / f"{key}.zh{suffix}", 1, "file not found")
        return None
    return Tr(texts["zh"], texts.get("en", ""))


QUIZ_SETTINGS = {
    "pass_mark": (int, float),
    "max_attempts": int,
    "time_limit": int,
    "shuffle": bool,
    "review": str,
    "grading": str,
    "draw": int,
    "draw_category": str,
}
GRADING_METHODS = ("highest", "last", "first", "average")


def _is_type(value: Any, kind) -> bool:
    # TOML booleans are ints to Python; a pass mark of `true` is still wrong.
    return (
        isinstance(value, bool)
        if kind is bool
        else (isinstance(value, kind) and not isinstance(value, bool))
    )


def _read_quiz(reader, folder, item, common, line) -> ItemSpec | None:
    path = folder / "course.toml"
    for key, kind in QUIZ_SETTINGS.items():
        if key in item and not _is_type(item[key], kind):
            reader.error(path, line(key), f"{key} has the wrong type")
            return None
    pass_mark = item.get("pass_mark", 80)
    if not 0 <= pass_mark <= 100:
        reader.error(path, line("pass_mark"), "pass_mark must be between 0 and 100")
    if item.get("max_attempts", 0) < 0 or item.get("time_limit", 0) < 0:
        reader.error(path, line("max_attempts"), "max_attempts and time_limit cannot be negative")
    review = item.get("review", Review.AFTER_FINAL)
    if review not in Review.__members__.values():
        reader.error(path, line("review"), "review must be immediate, after_final or score")
    grading = item.get("grading", "highest")
    if grading not in GRADING_METHODS:
        reader.error(path, line("grading"), f"grading must be one of {', '.join(GRADING_METHODS)}")
    texts = _read_texts(reader, folder, common["key"], ".gift")
    if texts is None:
        return None
    questions = _pair_questions(reader, folder / f"{common['key']}.zh.gift", texts)
    if questions is not None and not any(q.zh.qtype != "description" for q in questions):
        reader.error(folder / f"{common['key']}.zh.gift", 1, "a quiz needs at least one question")
    draw, category = item.get("draw", 0), item.get("draw_category", "")
    pool = [q for q in questions or () if q.zh.category.startswith(category)]
    if questions is not None and not 0 <= draw <= len(pool):
        reader.error(
            path, line("draw"), f"draw must be between 0 and the {len(pool)} questions to draw from"
        )
    return ItemSpec(
        **common,
        questions=questions or (),
        pass_mark=float(pass_mark),
        max_attempts=item.get("max_attempts", 0),
        time_limit=item.get("time_limit", 0),
        is_shuffled=item.get("shuffle", False),
        review=review,
        grading=grading,
        draw=draw,
        draw_category=category,
    )


def _parse(reader: _Reader, path: Path, text: str) -> list[Question] | None:
    try:
        return parse_gift(text)
    except GiftError as e:
        for line, message in e.errors:
            reader.error(path, line, message)
        return None


def _pair_questions(reader: _Reader, zh_path: Path, texts: Tr) -> tuple[QuestionSpec, ...] | None:
    """Match the English questions to the Chinese ones by ::name::."""
    primary = _parse(reader, zh_path, texts.zh)
    if primary is None:
        return None
    for question in primary:
        if not question.name:
            reader.error(zh_path, question.line, "every question needs a ::name::")
    english: dict[str, Question] = {}
    if texts.en:
        en_path = zh_path.with_name(zh_path.name.replace(".zh.", ".en."))
        parsed = _parse(reader, en_path, texts.en) or []
        english = {q.name: q for q in parsed}
        names = {q.name for q in primary}
        for question in parsed:
            if question.name not in names:
                reader.error(en_path, question.line, f"no question ::{question.name}:: in zh")
        for question in primary:
            if question.name in english:
                _check_translation(reader, en_path, question, english[question.name])
    return tuple(QuestionSpec(q.name, q, english.get(q.name)) for q in primary)


def _check_translation(reader: _Reader, path: Path, zh: Question, en: Question) -> None:
    def shape(q: Question):
        weights = tuple(c.weight for c in q.choices) if q.qtype != "shortanswer" else ()
        return q.qtype, weights, len(q.pairs)

    if shape(zh) != shape(en):
        reader.error(
            path,
            en.line,
            f"::{en.name}:: differs from the zh question in type, weights or number of answers",
        )


def _check_references(reader: _Reader, tracks: list[TrackSpec]) -> None:
    track_slugs = {t.slug for t in tracks}
    course_sources: dict[str, str] = {}
    for track in tracks:
        for slug in track.requires:
            if slug not in track_slugs or slug == track.slug:
                reader.errors.append(f"{track.source}:1: requires unknown track {slug!r}")
        for course in track.courses:
            if course.slug in course_sources:
                reader.errors.append(
                    f"{course.source}:1: course slug {course.slug!r} is already used by "
                    f"{course_sources[course.slug]}"
                )
            course_sources[course.slug] = course.source
    for track in tracks:
        for course in track.courses:
            for slug in course.requires:
                if slug not in course_sources or slug == course.slug:
                    reader.errors.append(f"{course.source}:1: requires unknown course {slug!r}")


def folder_files(folder: Path) -> dict[str, str]:
    """A course folder's text files by name: what a version keeps."""
    return {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix in (".toml", ".md", ".gift")
    }


def _hash_files(files: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for name, text in sorted(files.items()):
        digest.update(f"{len(name)}:{name}:{len(text)}:".encode())
        digest.update(text.encode())
    return digest.hexdigest()


def read_course_files(slug: str, files: dict[str, str]) -> CourseSpec:
    """Validate one course given as {file name: text}, as a draft holds it."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / slug
        folder.mkdir()
        for name, text in files.items():
            if Path(name).name != name or name.startswith("."):
                raise ContentError([f"{slug}/{name}:1: not a plain file name"])
            (folder / name).write_text(text, encoding="utf-8")
        reader = _Reader(Path(tmp) / "courses")
        spec = _read_course(reader, folder)
        if reader.errors or spec is None:
            raise ContentError(reader.errors)
        return spec


def lint_catalog(catalog: Catalog, min_questions: int = 8) -> list[str]:
    """Content rules beyond validity: both languages, real quizzes, no duplicate questions."""
    findings: list[str] = []
    seen: dict[str, str] = {}
    for track in catalog.tracks:
        if not track.title.en:
            findings.append(f"{track.source}:1: track title has no English")
        if not track.job_roles:
            findings.append(f"{track.source}:1: track is assigned to no job role")
        for course in track.courses:
            findings += _lint_course(course, min_questions, seen)
    return findings


def _lint_course(course: CourseSpec, min_questions: int, seen: dict[str, str]) -> list[str]:
    findings = []
    items = list(course.items)
    if not course.title.en:
        findings.append(f"{course.source}:1: course title has no English")
    # A course ends in its quiz; a practical course ends in the mentor's sign-off instead.
    if items and items[-1].kind not in (ItemKind.QUIZ, ItemKind.PRACTICAL):
        findings.append(f"{course.source}:1: the course does not end in a quiz")
    for item in items:
        if not item.title.en:
            findings.append(f"{item.source}: item title has no English")
        if item.kind == ItemKind.LESSON and not item.body.en:
            findings.append(f"{item.source}: lesson {item.key!r} has no English file")
        if item.kind == ItemKind.QUIZ:
            findings += _lint_quiz(item, min_questions, seen)
    return findings


def _lint_quiz(item: ItemSpec, min_questions: int, seen: dict[str, str]) -> list[str]:
    findings = []
    if len(item.questions) < min_questions:
        findings.append(
            f"{item.source}: quiz {item.key!r} has fewer than {min_questions} questions"
        )
    for question in item.questions:
        where = f"{item.source}: ::{question.name}::"
        if question.en is None:
            findings.append(f"{where} has no English version")
        if question.zh.qtype not in ("essay", "description") and not _has_key(question.zh):
            findings.append(f"{where} has no correct answer")
        text = re.sub(r"\s+", " ", question.zh.text).strip()
        if text in seen:
            findings.append(f"{where} repeats the text of {seen[text]}")
        seen[text] = where
    return findings


def _has_key(question: Question) -> bool:
    return (
        any(c.weight > 0 for c in question.choices)
        or any(n.weight > 0 for n in question.numbers)
        or len(question.pairs) >= 2
    )


# Writing to the database ------------------------------------------------------------------------


@dataclass
class SyncSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return (
            f"courses: created {self.created}, updated {self.updated}, unchanged {self.unchanged}"
        )


def sync_catalog(catalog: Catalog) -> SyncSummary:
    """Create or update tracks, courses, items and questions by slug; retire what was removed.

    Nothing is deleted that a learner's history may point to. The caller commits.
    """
    summary = SyncSummary()
    tracks = {t.slug: t for t in db.session.scalars(select(Track))}
    courses = {c.slug: c for c in db.session.scalars(select(Course))}
    for position, spec in enumerate(catalog.tracks):
        tracks[spec.slug] = _sync_track(tracks.get(spec.slug), spec, position)
    for position, spec in enumerate(catalog.courses):
        course = courses.get(spec.slug)
        track = tracks[_track_of(catalog, spec.slug)]
        courses[spec.slug] = _sync_course(course, spec, track, position, summary)
    for spec in catalog.tracks:
        tracks[spec.slug].requires = [tracks[s] for s in spec.requires]
    for spec in catalog.courses:
        courses[spec.slug].requires = [courses[s] for s in spec.requires]
    live_tracks = {t.slug for t in catalog.tracks}
    live_courses = {c.slug for c in catalog.courses}
    for slug, track in tracks.items():
        track.is_active = slug in live_tracks
    for slug, course in courses.items():
        course.is_active = slug in live_courses
    db.session.flush()
    return summary


def _track_of(catalog: Catalog, course_slug: str) -> str:
    return next(t.slug for t in catalog.tracks for c in t.courses if c.slug == course_slug)


def _sync_track(track: Track | None, spec: TrackSpec, position: int) -> Track:
    if track is None:
        track = Track(slug=spec.slug)
        db.session.add(track)
    track.position = position
    track.title_zh, track.title_en = spec.title.zh, spec.title.en
    track.summary_zh, track.summary_en = spec.summary.zh, spec.summary.en
    roles = set(spec.job_roles)
    track.job_roles = [r for r in track.job_roles if r.job_role in roles] + [
        TrackJobRole(job_role=r) for r in sorted(roles - {r.job_role for r in track.job_roles})
    ]
    return track


def _sync_course(course, spec: CourseSpec, track: Track, position: int, summary) -> Course:
    if course is None:
        course = Course(slug=spec.slug, version=0, modules=[])
        db.session.add(course)
        summary.created += 1
    elif course.content_hash == spec.content_hash:
        summary.unchanged += 1
    else:
        summary.updated += 1
    course.track, course.position = track, position
    if course.content_hash != spec.content_hash:
        publish(course, spec, note="courses/")
    return course


def publish(course: Course, spec: CourseSpec, **version_fields: Any) -> CourseVersion:
    """Make the spec the course's content, as a new immutable version.

    Attempts keep the questions they started with, so a learner mid-attempt is not disturbed.
    """
    course.title_zh, course.title_en = spec.title.zh, spec.title.en
    course.summary_zh, course.summary_en = spec.summary.zh, spec.summary.en
    course.delivery, course.details = spec.delivery, spec.details
    _sync_modules(course, spec)
    course.version = (course.version or 0) + 1
    course.content_hash = spec.content_hash
    version = CourseVersion(
        course=course,
        number=course.version,
        content_hash=spec.content_hash,
        files=spec.files,
        **version_fields,
    )
    db.session.add(version)
    return version


def _sync_modules(course: Course, spec: CourseSpec) -> None:
    db.session.flush()
    items = {i.key: i for i in db.session.scalars(select(Item).where(Item.course_id == course.id))}
    modules = list(course.modules)
    for position, module_spec in enumerate(spec.modules):
        if position == len(modules):
            modules.append(Module(course=course, position=position, title_zh=""))
        module = modules[position]
        module.title_zh, module.title_en = module_spec.title.zh, module_spec.title.en
        for item_position, item_spec in enumerate(module_spec.items):
            item = items.pop(item_spec.key, None) or Item(course=course, key=item_spec.key)
            db.session.add(item)
            item.module, item.position = module, item_position
            _sync_item(item, item_spec)
    for retired in items.values():
        retired.is_active, retired.module = False, None
    for extra in modules[len(spec.modules) :]:
        course.modules.remove(extra)


def _sync_item(item: Item, spec: ItemSpec) -> None:
    item.is_active = True
    item.kind, item.is_required = spec.kind, spec.is_required
    item.title_zh, item.title_en = spec.title.zh, spec.title.en
    item.body_zh, item.body_en = spec.body.zh, spec.body.en
    item.html_zh = markdown_to_html(spec.body.zh)
    item.html_en = markdown_to_html(spec.body.en) if spec.body.en else ""
    item.pass_mark, item.max_attempts, item.time_limit = (
        spec.pass_mark,
        spec.max_attempts,
        spec.time_limit,
    )
    item.is_shuffled, item.review = spec.is_shuffled, spec.review
    item.grading, item.draw, item.draw_category = spec.grading, spec.draw, spec.draw_category
    if spec.kind == ItemKind.QUIZ:
        _sync_questions(item, spec)


def _sync_questions(item: Item, spec: ItemSpec) -> None:
    db.session.flush()
    rows = {
        q.name: q
        for q in db.session.scalars(select(QuestionRow).where(QuestionRow.item_id == item.id))
    }
    for position, question in enumerate(spec.questions):
        row = rows.pop(question.name, None) or QuestionRow(item_id=item.id, name=question.name)
        db.session.add(row)
        row.position, row.is_active = position, True
        row.category, row.qtype = question.zh.category, question.zh.qtype
        row.data = {"zh": question_to_dict(question.zh)}
        if question.en is not None:
            row.data["en"] = question_to_dict(question.en)
    for retired in rows.values():
        retired.is_active = False
