"""Edits of a course draft: pure functions over its files ({relative path: text}).

A draft is the course in the `courses/` file format, so the browser, the loader, exports and
version diffs all speak one format. `course.toml` is edited with tomlkit, which keeps the
author's layout and comments.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from . import gift
from .render import markdown_to_html

MANIFEST = "course.toml"
# What a new quiz starts with, and what the loader assumes where course.toml says nothing.
QUIZ_DEFAULTS = {"pass_mark": 80, "max_attempts": 3, "shuffle": True, "review": "after_final"}
QUIZ_UNSET = {
    "pass_mark": 80,
    "max_attempts": 0,
    "time_limit": 0,
    "shuffle": False,
    "grading": "highest",
    "draw": 0,
    "draw_category": "",
}
QUIZ_FIELDS = (
    "max_attempts",
    "time_limit",
    "shuffle",
    "review",
    "grading",
    "draw",
    "draw_category",
)


class DraftError(ValueError):
    """An edit that cannot apply to this draft, in words for the trainer."""


def _doc(files: dict[str, str]) -> tomlkit.TOMLDocument:
    return tomlkit.parse(files.get(MANIFEST, ""))


def _with(files: dict[str, str], doc: tomlkit.TOMLDocument, **changes: str | None):
    updated = {**files, MANIFEST: tomlkit.dumps(doc)}
    for path, text in changes.items():
        if text is None:
            updated.pop(path, None)
        else:
            updated[path] = text
    return updated


def _bilingual(zh: str, en: str) -> Any:
    table = tomlkit.inline_table()
    table.update({"zh": zh.strip(), "en": en.strip()})
    return table


def new_course(title_zh: str, title_en: str) -> dict[str, str]:
    """The files of a new, empty course."""
    doc = tomlkit.document()
    doc["title"] = _bilingual(title_zh, title_en)
    doc["summary"] = _bilingual("", "")
    return {MANIFEST: tomlkit.dumps(doc)}


def set_course(files, title_zh: str, title_en: str, summary_zh: str, summary_en: str):
    doc = _doc(files)
    doc["title"] = _bilingual(title_zh, title_en)
    doc["summary"] = _bilingual(summary_zh, summary_en)
    return _with(files, doc)


def _modules(doc) -> AoT:
    if "modules" not in doc:
        doc["modules"] = tomlkit.aot()
    return doc["modules"]


def _module(doc, index: int) -> Table:
    modules = _modules(doc)
    if not 0 <= index < len(modules):
        raise DraftError(f"no module {index + 1}")
    return modules[index]


def add_module(files, title_zh: str, title_en: str):
    doc = _doc(files)
    module = tomlkit.table()
    module["title"] = _bilingual(title_zh, title_en)
    _modules(doc).append(module)
    return _with(files, doc)


def rename_module(files, index: int, title_zh: str, title_en: str):
    doc = _doc(files)
    _module(doc, index)["title"] = _bilingual(title_zh, title_en)
    return _with(files, doc)


def _move(sequence, index: int, delta: int) -> None:
    target = index + delta
    if not 0 <= target < len(sequence):
        raise DraftError("it is already at the end")
    entry = sequence[index]
    del sequence[index]
    sequence.insert(target, entry)


def move_module(files, index: int, delta: int):
    doc = _doc(files)
    _module(doc, index)
    _move(doc["modules"], index, delta)
    return _with(files, doc)


def delete_module(files, index: int):
    doc = _doc(files)
    if _module(doc, index).get("items"):
        raise DraftError("only an empty module can be deleted: move or delete its items first")
    del doc["modules"][index]
    return _with(files, doc)


@dataclass(frozen=True)
class Located:
    module: int
    index: int
    item: Table


def _find(doc, key: str) -> Located:
    for m, module in enumerate(_modules(doc)):
        for i, item in enumerate(module.get("items", [])):
            if item.get("file") == key:
                return Located(m, i, item)
    raise DraftError(f"no item {key!r}")


def item_files(key: str, kind: str) -> tuple[str, ...]:
    """The files an item of this kind keeps its text in."""
    suffix = {"lesson": "md", "quiz": "gift"}.get(kind)
    return (f"{key}.zh.{suffix}", f"{key}.en.{suffix}") if suffix else ()


def add_item(files, module: int, kind: str, key: str, title_zh: str, title_en: str):
    """Append a lesson, quiz or practical step, with empty texts to fill."""
    doc = _doc(files)
    if any(item.get("file") == key for m in _modules(doc) for item in m.get("items", [])):
        raise DraftError(f"the course already has an item {key!r}")
    item = tomlkit.table()
    item.update({"kind": kind, "file": key, "title": _bilingual(title_zh, title_en)})
    if kind == "quiz":
        item.update(QUIZ_DEFAULTS)
    if kind == "practical":
        item["description"] = _bilingual("", "")
    target = _module(doc, module)
    if "items" not in target:
        target["items"] = tomlkit.aot()
    target["items"].append(item)
    texts = dict.fromkeys(item_files(key, kind)[:1], "")
    return _with(files, doc, **{p: files.get(p, t) for p, t in texts.items()})


def update_item(files, key: str, fields: dict[str, Any], texts: dict[str, str]):
    """Set an item's manifest fields and its text files (an empty English text removes it)."""
    doc = _doc(files)
    item = _find(doc, key).item
    for name, value in fields.items():
        item[name] = _bilingual(*value) if isinstance(value, tuple) else value
    changes = {p: (t if t.strip() or ".zh." in p else None) for p, t in texts.items()}
    return _with(files, doc, **changes)


def move_item(files, key: str, delta: int):
    """Move an item up or down; past a module's edge it moves into the next module."""
    doc = _doc(files)
    found = _find(doc, key)
    items = _modules(doc)[found.module]["items"]
    target = found.index + delta
    if 0 <= target < len(items):
        _move(items, found.index, delta)
        return _with(files, doc)
    neighbour = found.module + delta
    if not 0 <= neighbour < len(_modules(doc)):
        raise DraftError("it is already at the end")
    entry = items[found.index]
    del items[found.index]
    module = _modules(doc)[neighbour]
    if "items" not in module:
        module["items"] = tomlkit.aot()
    module["items"].insert(len(module["items"]) if delta < 0 else 0, entry)
    return _with(files, doc)


def delete_item(files, key: str):
    doc = _doc(files)
    found = _find(doc, key)
    kind = found.item.get("kind", "")
    del _modules(doc)[found.module]["items"][found.index]
    return _with(files, doc, **dict.fromkeys(item_files(key, kind)))


def diff(old: dict[str, str], new: dict[str, str]) -> list[tuple[str, list[str]]]:
    """Per changed file, its unified diff lines: what a reviewer reads."""
    changed = []
    for path in sorted(set(old) | set(new)):
        if old.get(path) != new.get(path):
            lines = difflib.unified_diff(
                old.get(path, "").splitlines(),
                new.get(path, "").splitlines(),
                fromfile=path if path in old else "/dev/null",
                tofile=path if path in new else "/dev/null",
                lineterm="",
            )
            changed.append((path, list(lines)))
    return changed


def course_fields(files) -> dict[str, str]:
    """The course's titles and summary, as form data."""
    doc = _doc(files)
    title, summary = doc.get("title", {}), doc.get("summary", {})
    return {
        "title_zh": title.get("zh", ""),
        "title_en": title.get("en", ""),
        "summary_zh": summary.get("zh", ""),
        "summary_en": summary.get("en", ""),
    }


@dataclass(frozen=True)
class OutlineItem:
    key: str
    kind: str
    title: str


@dataclass(frozen=True)
class OutlineModule:
    title: str
    items: tuple[OutlineItem, ...]


def outline(files) -> list[OutlineModule]:
    """Modules and items as the editor lists them, even when the draft is not valid yet."""
    try:
        doc = _doc(files)
    except tomlkit.exceptions.ParseError:
        return []
    return [
        OutlineModule(
            str(module.get("title", {}).get("zh", "")),
            tuple(
                OutlineItem(
                    str(i.get("file", "")),
                    str(i.get("kind", "")),
                    str(i.get("title", {}).get("zh", "")),
                )
                for i in module.get("items", [])
            ),
        )
        for module in doc.get("modules", [])
    ]


def item_fields(files, key: str) -> dict[str, Any]:
    """An item's manifest fields and texts, as form data."""
    item = _find(_doc(files), key).item
    kind = str(item.get("kind"))
    title, description = item.get("title", {}), item.get("description", {})
    data = {
        "kind": kind,
        "title_zh": title.get("zh", ""),
        "title_en": title.get("en", ""),
        "is_required": bool(item.get("required", True)),
        "description_zh": description.get("zh", ""),
        "description_en": description.get("en", ""),
    }
    for name, default in {**QUIZ_UNSET, "review": "after_final"}.items():
        data[name] = item.get(name, default)
    text_field = {"lesson": "body", "quiz": "gift"}.get(kind)
    if text_field:
        zh, en = item_files(key, kind)
        data[f"{text_field}_zh"], data[f"{text_field}_en"] = files.get(zh, ""), files.get(en, "")
    return data


def update_item_from_form(files, key: str, data: dict[str, Any]):
    """Write an item's edit form back into the manifest and its text files."""
    kind = str(_find(_doc(files), key).item.get("kind"))
    fields: dict[str, Any] = {"title": (data["title_zh"], data["title_en"] or "")}
    fields["required"] = bool(data["is_required"])
    texts: dict[str, str] = {}
    zh_en = item_files(key, kind)
    if kind == "lesson":
        texts = dict(zip(zh_en, (data["body_zh"], data["body_en"] or ""), strict=True))
    elif kind == "quiz":
        texts = dict(zip(zh_en, (data["gift_zh"], data["gift_en"] or ""), strict=True))
        fields["pass_mark"] = float(data["pass_mark"])
        fields.update({n: data[n] or QUIZ_UNSET.get(n, data[n]) for n in QUIZ_FIELDS})
    else:
        fields["description"] = (data["description_zh"] or "", data["description_en"] or "")
    return update_item(files, key, fields, texts)


@dataclass(frozen=True)
class GiftPreview:
    questions: tuple[gift.Question, ...]
    errors: tuple[tuple[int, str], ...]

    def counts(self) -> dict[str, int]:
        return dict(Counter(q.qtype for q in self.questions))


def gift_preview(text: str) -> GiftPreview:
    """The questions a GIFT text holds, or its errors by line; nothing is written."""
    try:
        return GiftPreview(tuple(gift.parse_gift(text)), ())
    except gift.GiftError as e:
        return GiftPreview((), tuple(e.errors))


def preview(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """What the learner will see: lessons as sanitised HTML, quizzes as parsed questions."""
    if kind == "lesson":
        return {
            "zh": markdown_to_html(data["body_zh"]),
            "en": markdown_to_html(data["body_en"] or ""),
        }
    if kind == "quiz":
        return {"zh": gift_preview(data["gift_zh"]), "en": gift_preview(data["gift_en"] or "")}
    return {}


def append_gift(files, path: str, text: str):
    """Append imported questions to a quiz file."""
    current = files.get(path, "").rstrip()
    return {**files, path: f"{current}\n\n{text.strip()}\n" if current else f"{text.strip()}\n"}


def retire_question(files, key: str, name: str):
    """Take a question out of a quiz, in both languages (the files are rewritten by the writer)."""
    kind = str(_find(_doc(files), key).item.get("kind"))
    if kind != "quiz":
        raise DraftError(f"{key!r} is not a quiz")
    changes = {}
    for path in item_files(key, kind):
        if path in files:
            questions = gift.parse_gift(files[path])
            kept = [q for q in questions if q.name != name]
            if len(kept) == len(questions):
                raise DraftError(f"no question ::{name}:: in {path}")
            changes[path] = gift.write_gift(kept)
    return {**files, **changes}
