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

With Redis (`CACHE_REDIS_URL`, from REDIS_URL) a namespace may also share its copies between
workers (`Shared`): each worker asks Redis for what its own memory lacks, so HR paging through
thousands of people pays the computation once, not once per worker. The same rule keeps those
copies current, the stamps in the key, but a shared copy outlives a worker and is seen by every
database that uses the same Redis, where a worker's memory only ever saw one:

- The site stamp's row starts at a random value, so two databases (or one dropped and created
  anew, as the benchmark and the tests do) never count through the same stamps: their ids and
  people's stamps start alike. Nothing is shared while there is no row (stamp 0, the same
  everywhere). A database restored from a backup counts again through stamps it had already
  used, with other data: flush the cache's Redis after a restore.
- Keys carry a prefix naming the namespace and, where the way a copy is worked out may change
  with a release, the code that works it out: a new release never reads an older one's copies.
- Redis is only a faster way to a copy: when it fails the page computes as without it, and the
  process leaves Redis alone for a while rather than wait on it at every request.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
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
# Seconds a process waits on Redis at most, and then leaves it alone after a failure.
REDIS_TIMEOUT = 0.25
REDIS_REST = 30.0

log = logging.getLogger(__name__)


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


def keep(namespace: str, key: Hashable, value: T, size: int = 4096) -> T:
    """Keep `value` under `key`: for what never changes once written, which needs no stamps."""
    _store().setdefault(namespace, LRU(size)).put(key, value)
    return value


@dataclass(frozen=True)
class Shared:
    """How a namespace's copies go through Redis: as text `encode` makes and `decode` reads,
    under `prefix` and the key's parts, for `seconds` (a day's keys are useless the next)."""

    prefix: str
    encode: Callable[[Any], str]
    decode: Callable[[bytes], Any]
    seconds: int = 2 * 24 * 3600

    def name(self, key: Hashable) -> str:
        parts = key if isinstance(key, tuple) else (key,)
        return self.prefix + ":".join(map(str, parts))


def cached_each(
    namespace: str,
    keys: dict[int, Hashable],
    compute: Callable[[list[int]], dict[int, T]],
    size: int = 4096,
    shared: Shared | None = None,
) -> dict[int, T]:
    """Per person id, the copy kept under its key; `compute(ids)` makes the missing ones in one
    batch. With `shared` and Redis, the worker's missing copies are looked for there first, in
    one round trip, and those computed are put there in another."""
    written = _written()
    store = _store().setdefault(namespace, LRU(size))
    keep = {i: k for i, k in keys.items() if SITE not in written and i not in written}
    found = {i: store.used(k) for i, k in keep.items() if k in store.entries}
    missing = [i for i in keys if i not in found]
    names = _shared_names(shared, {i: keep[i] for i in missing if i in keep})
    if names:
        fetched = _fetch(shared, names)
        for i, value in fetched.items():
            store.put(keep[i], value)
        found.update(fetched)
        missing = [i for i in missing if i not in found]
    if missing:
        made = compute(missing)
        for i in missing:
            if i in keep:
                store.put(keep[i], made[i])
        found.update(made)
        _share(shared, {names[i]: made[i] for i in missing if i in names})
    return {i: found[i] for i in keys}


def _shared_names(shared: Shared | None, keys: dict[int, Hashable]) -> dict[int, str]:
    """The Redis names of these keys, or none when nothing is to go through Redis."""
    if shared is None or not keys or _redis() is None or not site_stamp():
        return {}
    return {i: shared.name(key) for i, key in keys.items()}


def _fetch(shared: Shared, names: dict[int, str]) -> dict[int, Any]:
    from redis.exceptions import RedisError

    try:
        values = _redis().mget(list(names.values()))
    except RedisError as error:
        _failed(error)
        return {}
    return {i: shared.decode(v) for i, v in zip(names, values, strict=True) if v is not None}


def _share(shared: Shared | None, values: dict[str, Any]) -> None:
    from redis.exceptions import RedisError

    client = _redis() if values else None
    if client is None:  # nothing to share, or Redis failed a moment ago
        return
    pipeline = client.pipeline(transaction=False)
    for name, value in values.items():
        pipeline.set(name, shared.encode(value), ex=shared.seconds)
    try:
        pipeline.execute()
    except RedisError as error:
        _failed(error)


# One client per process and URL, made on first use: after gunicorn forks, as a rule, and
# redis-py's pool opens connections anew in a process other than the one that made it.
_clients: dict[str, Any] = {}
_resting_until: dict[str, float] = {}


def _redis() -> Any:
    """The process's client of the cache's Redis, or None: none set, or resting after a
    failure."""
    url = current_app.config.get("CACHE_REDIS_URL")
    if not url or time.monotonic() < _resting_until.get(url, 0.0):
        return None
    if url not in _clients:
        # Imported here: it takes a tenth of a second, which a worker without Redis never pays.
        import redis

        _clients[url] = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
    return _clients[url]


def _failed(error: Exception) -> None:
    url = current_app.config["CACHE_REDIS_URL"]
    _resting_until[url] = time.monotonic() + REDIS_REST
    log.warning("Redis cache unavailable, computing without it for %d s: %s", REDIS_REST, error)


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
            # Random: see the module's docstring. 30 bits leave a billion moves before
            # PostgreSQL's 32-bit integer column (migrations/versions/0001) would overflow.
            first = 1 + secrets.randbits(30)
            connection.execute(insert(stamps).values(id=1, value=first))
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
