"""Per-process caches of what is derived from the data: the curricula, each person's plan and
standings, HR's filter lists.

Each worker keeps its own copies, each under the *stamps* it was computed from. The stamps live
in the database and move in the same transaction as the change that makes a copy stale (the
`before_flush` hook below), so a worker knows a copy is current by comparing two integers read
with the signed-in user's row; workers never need to tell each other anything, and no shared
cache server is needed for correctness.

- The site stamp (`SiteStamp`, one row) moves on any change to what applies to everyone: the
  curricula, groups, assignments, people's posts.
- A person's stamp (`User.stamp`) moves on a change to their own records: progress, attempts,
  completions, record requests, reminders, group memberships.

A transaction that has itself moved a stamp reads and computes afresh until it ends: its changes
are not committed, so nothing it derives may be kept. Bulk `update()`/`delete()` statements do
not pass through the hook; the few in the app change nothing that is cached here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from flask import current_app, g, has_request_context
from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.orm import Session

from .extensions import db
from .models import AttemptAnswer, AuditEvent, SiteStamp, User, UserRole

T = TypeVar("T")

# Changes that no cached value depends on.
_IGNORED = (AttemptAnswer, AuditEvent, UserRole)
# A person's own session and preferences: nothing derived from them is cached.
_PRIVATE_USER_FIELDS = {"session_token", "password_hash", "locale", "stamp"}
_STAMPED = "lms.stamped"


class LRU:
    """A bounded mapping that forgets the least recently used entry first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        try:
            self.entries.move_to_end(key)
            return self.entries[key]
        except KeyError:
            value = self.entries[key] = compute()
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
            return value


def _store() -> dict[str, LRU]:
    # Per app, not per process: each test's app has its own database and so its own copies.
    return current_app.extensions.setdefault("lms.cache", {})


def cached(namespace: str, key: Hashable, compute: Callable[[], T], size: int = 4096) -> T:
    """`compute()`, or the copy kept under `key` (which must include the stamps it rests on)."""
    if db.session.info.get(_STAMPED):
        return compute()
    store = _store()
    if namespace not in store:
        store[namespace] = LRU(size)
    return store[namespace].get(key, compute)


def has_written() -> bool:
    """Whether this transaction has changed something cached values rest on."""
    return bool(db.session.info.get(_STAMPED))


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
    if isinstance(obj, User):
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
    if site:
        connection = session.connection()
        stamps = SiteStamp.__table__
        moved = connection.execute(update(stamps).values(value=stamps.c.value + 1)).rowcount
        if not moved:
            connection.execute(insert(stamps).values(id=1, value=1))
        session.info[_STAMPED] = True


def touch(*user_ids: int, session: Session | None = None) -> None:
    """Move these people's stamps: for changes made by bulk statements, which skip the hook."""
    session = session or db.session()
    users = User.__table__
    session.connection().execute(
        update(users).where(users.c.id.in_(user_ids)).values(stamp=users.c.stamp + 1)
    )
    session.info[_STAMPED] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_stamped(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_STAMPED, None)


def clear() -> None:
    """Forget every copy this app keeps (the next requests compute afresh)."""
    current_app.extensions.pop("lms.cache", None)
