"""Export: the courses as the database holds them, written back in the `courses/` file format.

What `read_catalog` reads from an export equals what was loaded, so an export can be edited and
loaded again, kept in version control, or handed to another site.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import tomlkit
from sqlalchemy import select

from .extensions import db
from .gift import question_from_dict, write_gift
from .models import Course, Item, ItemKind, JobRole, Track

LANGUAGES = ("zh", "en")
# The course.toml keys the loader keeps in Course.details, in the order the format lists them.
DETAILS = ("days", "audience", "goals", "course_book")
# A fixed timestamp, so that the same files always make the same archive.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


# TOML -------------------------------------------------------------------------------------------


def _value(value: Any) -> Any:
    """A dict becomes an inline table, as the format writes `{ zh = …, en = … }`."""
    if isinstance(value, dict):
        table = tomlkit.inline_table()
        table.update({k: _value(v) for k, v in value.items()})
        return table
    return value


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(data: dict[str, Any], container) -> Any:
    """Values first, then arrays of tables as `[[name]]` blocks, with tomlkit (as drafts do)."""
    for key, value in data.items():
        if not _is_tables(value):
            container[key] = _value(value)
    for key, value in data.items():
        if _is_tables(value):
            array = tomlkit.aot()
            for child in value:
                array.append(_table(child, tomlkit.table()))
            container[key] = array
    return container


def dumps_toml(data: dict[str, Any]) -> str:
    """A course.toml or track.toml laid out as docs/course-format.md shows it."""
    return tomlkit.dumps(_table(data, tomlkit.document()))


def _tr(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


def _number(value: float) -> float | int:
    # A pass mark of 80 reads better than 80.0 and loads as the same float.
    return int(value) if float(value).is_integer() else value


# Courses ----------------------------------------------------------------------------------------


def _course_order(course: Course) -> tuple[int, int, str]:
    return (course.track.position, course.position, course.slug)


def course_manifest(course: Course) -> dict[str, Any]:
    """The data of a course's course.toml."""
    data: dict[str, Any] = {"title": _tr(course.title_zh, course.title_en)}
    if course.summary_zh or course.summary_en:
        data["summary"] = _tr(course.summary_zh, course.summary_en)
    # The database keeps prerequisites as a set; curriculum order makes the export stable.
    # A retired course cannot be named: the loader only knows the courses in the files.
    required = sorted((c for c in course.requires if c.is_active), key=_course_order)
    data["requires"] = [c.slug for c in required]
    data["delivery"] = course.delivery
    details = course.details or {}
    data.update({key: details[key] for key in DETAILS if key in details})
    data["modules"] = [
        {
            "title": _tr(module.title_zh, module.title_en),
            "items": [_item_manifest(item) for item in module.items],
        }
        for module in course.modules
    ]
    return data


def _item_manifest(item: Item) -> dict[str, Any]:
    # Practicals get a file too, although they have none: it is their key, which progress
    # hangs on, and without it the loader would number them anew by position.
    data: dict[str, Any] = {
        "kind": item.kind,
        "file": item.key,
        "title": _tr(item.title_zh, item.title_en),
    }
    if not item.is_required:
        data["required"] = False
    if item.kind == ItemKind.QUIZ:
        data.update(
            pass_mark=_number(item.pass_mark),
            max_attempts=item.max_attempts,
            time_limit=item.time_limit,
            shuffle=item.is_shuffled,
            review=item.review,
            grading=item.grading,
            draw=item.draw,
            draw_category=item.draw_category,
        )
    if item.kind == ItemKind.PRACTICAL and (item.body_zh or item.body_en):
        data["description"] = _tr(item.body_zh, item.body_en)
    return data


def quiz_gift(item: Item, language: str = "zh") -> str:
    """The quiz's active questions in one language as GIFT; empty if none has that language."""
    questions = [question_from_dict(q.data[language]) for q in item.questions if language in q.data]
    return write_gift(questions) if questions else ""


def course_items(course: Course) -> list[Item]:
    """The course's active items in module order."""
    return [item for module in course.modules for item in module.items]


def course_files(course: Course) -> dict[str, str]:
    """The course as the database holds it, as {file name: text} of its course folder."""
    files = {"course.toml": dumps_toml(course_manifest(course))}
    for item in course_items(course):
        for language in LANGUAGES:
            if item.kind == ItemKind.LESSON:
                text, suffix = getattr(item, f"body_{language}"), "md"
            elif item.kind == ItemKind.QUIZ:
                text, suffix = quiz_gift(item, language), "gift"
            else:
                continue
            # zh is always written: the loader needs the file, and an empty lesson is still one.
            if text or language == "zh":
                files[f"{item.key}.{language}.{suffix}"] = text
    return files


# Tracks -----------------------------------------------------------------------------------------


def _role_order(role: str) -> tuple[int, str]:
    roles = list(JobRole)
    return (roles.index(role) if role in roles else len(roles), role)


def track_files(track: Track) -> dict[str, str]:
    """The track's track.toml: its texts, job roles, prerequisites and active courses in order."""
    data: dict[str, Any] = {"title": _tr(track.title_zh, track.title_en)}
    if track.summary_zh or track.summary_en:
        data["summary"] = _tr(track.summary_zh, track.summary_en)
    # Like prerequisites, job roles are a set in the database: write them in the format's order.
    data["job_roles"] = sorted((r.job_role for r in track.job_roles), key=_role_order)
    required = sorted((t for t in track.requires if t.is_active), key=lambda t: t.position)
    data["requires"] = [t.slug for t in required]
    data["courses"] = [c.slug for c in track.courses if c.is_active]
    return {"track.toml": dumps_toml(data)}


def active_tracks() -> list[Track]:
    """The active tracks in curriculum order: what `courses load` last loaded."""
    return list(db.session.scalars(select(Track).where(Track.is_active).order_by(Track.position)))


def catalog_files(tracks: Iterable[Track]) -> dict[str, str]:
    """A whole `courses/` tree: `<track>/track.toml` and `<track>/<course>/<file>`."""
    files: dict[str, str] = {}
    for track in tracks:
        files.update({f"{track.slug}/{n}": t for n, t in track_files(track).items()})
        for course in track.courses:
            if course.is_active:
                prefix = f"{track.slug}/{course.slug}"
                files.update({f"{prefix}/{n}": t for n, t in course_files(course).items()})
    return files


# Output -----------------------------------------------------------------------------------------


def _safe(name: str) -> PurePosixPath:
    """A relative path that stays inside the folder it is written to."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"not a relative path inside the export: {name!r}")
    return path


def write_files(root: Path, files: dict[str, str]) -> None:
    """Write the files under root as UTF-8, creating folders as needed."""
    for name, text in files.items():
        path = root.joinpath(*_safe(name).parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")


def zip_files(files: dict[str, str]) -> bytes:
    """A zip archive of the files, byte for byte the same for the same files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(str(_safe(name)), date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()
