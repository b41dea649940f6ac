"""Per-process caches of what is derived from the data: the curricula, each person's plan and
standings, HR's filter lists.

Each worker keeps its own copies, each under the *stamps* it was computed from. The stamps live
in the database and move in the same transaction as the change that makes a copy stale (the
`before_flush` hook below), so a worker knows a copy is current by comparing two integers read
with the signed-in user's row; workers never need to tell each other anything, and no shared
cache server is needed for correctness.

- The site stamp (`SiteStamp`, one row) moves on any change to what applies to everyone: the
  curricula, groups and their members, assignments, people's posts.
- A person's stamp (`User.stamp`) moves on a change to their own records: progress, attempts,
  completions, record requests, reminders.

A transaction that has itself moved a stamp computes what rests on it afresh until it ends: its
changes are not committed, so nothing derived from them may be kept. Bulk `update()` and
`delete()` statements do not pass through the hook: their callers move the stamps (`touch`).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from flask import current_app, g, has_request_context
from sqlalchemy import bindparam, event, insert, inspect, select, update
from sqlalchemy.orm import Session

from .extensions import db
from .models import Assignment, AttemptAnswer, AuditEvent, GroupMember, SiteStamp, User, UserRole

T = TypeVar("T")

# Changes that no cached value depends on.
_IGNORED = (AttemptAnswer, AuditEvent, UserRole)
# A person's own, but kept with everyone's: see requirements.Assigned.
_SITE_WIDE = (Assignment, GroupMember)
# A person's own session and preferences: nothing derived from them is cached.
_PRIVATE_USER_FIELDS = {"session_token", "password_hash", "locale", "stamp"}
_STAMPED = "lms.stamped"
SITE = "site"


class LRU:
    """A bounded mapping that forgets the least recently used entry first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        if key in self.entries:
            return self.used(key)
        value = compute()
        self.put(key, value)
        return value

    def used(self, key: Hashable) -> Any:
        self.entries.move_to_end(key)
        return self.entries[key]

    def put(self, key: Hashable, value: Any) -> None:
        self.entries[key] = value
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)


def _store() -> dict[str, LRU]:
    # Per app, not per process: each test's app has its own database and so its own copies.
    return current_app.extensions.setdefault("lms.cache", {})


def _written() -> set:
    """What this transaction has changed: SITE, and the ids of the people whose records."""
    return db.session.info.get(_STAMPED, set())


def site_written() -> bool:
    """Whether this transaction has changed something that applies to everyone."""
    return SITE in _written()


def cached(
    namespace: str,
    key: Hashable,
    compute: Callable[[], T],
    size: int = 4096,
    person: int | None = None,
) -> T:
    """`compute()`, or the copy kept under `key`, which must include the stamps it rests on:
    the site's, and the person's if it is about one."""
    written = _written()
    if SITE in written or person in written:
        return compute()
    return _store().setdefault(namespace, LRU(size)).get(key, compute)


def kept(namespace: str, key: Hashable) -> Any:
    """The copy kept under `key`, or None: as the data stood before this transaction's writes."""
    store = _store().get(namespace)
    return store.entries.get(key) if store else None


def cached_each(
    namespace: str,
    keys: dict[int, Hashable],
    compute: Callable[[list[int]], dict[int, T]],
    size: int = 4096,
) -> dict[int, T]:
    """Per person id, the copy kept under its key; `compute(ids)` makes the missing ones in one
    batch."""
    written = _written()
    store = _store().setdefault(namespace, LRU(size))
    keep = {i: k for i, k in keys.items() if SITE not in written and i not in written}
    found = {i: store.used(k) for i, k in keep.items() if k in store.entries}
    missing = [i for i in keys if i not in found]
    if missing:
        made = compute(missing)
        for i in missing:
            if i in keep:
                store.put(keep[i], made[i])
        found.update(made)
    return {i: found[i] for i in keys}


def site_stamp() -> int:
    """The site stamp: read with the signed-in user in a request (lms/auth.py), else queried."""
    if has_request_context() and "site_stamp" in g:
        return g.site_stamp
    return db.session.scalar(_SITE_STAMP) or 0


_SITE_STAMP = select(SiteStamp.value).where(SiteStamp.id == 1)


def site_stamp_query():
    return _SITE_STAMP.scalar_subquery()


def _person(obj: Any) -> int | None:
    """The person whose own records `obj` belongs to, if it is one of them."""
    if isinstance(obj, (User, *_SITE_WIDE)):
        return None
    user_id = getattr(obj, "user_id", None)
    if user_id is None and getattr(obj, "user", None) is not None:
        user_id = obj.user.id
    return user_id


def _changes_site(obj: Any, is_new_or_deleted: bool) -> bool:
    if not isinstance(obj, User) or is_new_or_deleted:
        return True
    state = inspect(obj)
    changed = {a.key for a in state.attrs if a.history.has_changes()}
    return bool(changed - _PRIVATE_USER_FIELDS)


@event.listens_for(Session, "before_flush")
def _move_stamps(session: Session, _context, _instances) -> None:
    people: set[int] = set()
    site = False
    for obj, settled in (
        *((o, True) for o in session.new),
        *((o, True) for o in session.deleted),
        *((o, False) for o in session.dirty),
    ):
        if isinstance(obj, _IGNORED) or (not settled and not session.is_modified(obj)):
            continue
        person = _person(obj)
        if person is not None:
            people.add(person)
        elif _changes_site(obj, settled):
            site = True
    if people:
        touch(*people, session=session)
    if site and SITE not in session.info.get(_STAMPED, ()):
        connection = session.connection()
        stamps = SiteStamp.__table__
        moved = connection.execute(update(stamps).values(value=stamps.c.value + 1)).rowcount
        if not moved:
            connection.execute(insert(stamps).values(id=1, value=1))
        session.info.setdefault(_STAMPED, set()).add(SITE)


def touch(*user_ids: int, session: Session | None = None) -> None:
    """Move these people's stamps: for changes made by bulk statements, which skip the hook."""
    session = session or db.session()
    written = session.info.setdefault(_STAMPED, set())
    # Once a transaction is enough: what matters is that the stamp differs from before it.
    ids = set(user_ids) - written
    if not ids:
        return
    session.connection().execute(_touch_statement(), {"ids": list(ids)})
    written.update(ids)


@functools.cache
def _touch_statement():
    # Built once: every write request moves a stamp, and building the statement cost more
    # than running it.
    users = User.__table__
    ids = bindparam("ids", expanding=True)
    return update(users).where(users.c.id.in_(ids)).values(stamp=users.c.stamp + 1)


@event.listens_for(Session, "after_transaction_end")
def _forget_stamped(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_STAMPED, None)


def clear() -> None:
    """Forget every copy this app keeps (the next requests compute afresh)."""
    current_app.extensions.pop("lms.cache", None)
