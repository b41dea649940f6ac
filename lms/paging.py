"""Pages sought from a neighbouring row instead of by number: each costs the same at any depth,
where a numbered page counted every row and skipped past every row before it (OFFSET)."""

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

# read(towards_newer, anchor, limit): up to `limit` rows just newer (True) or older (False) than
# the row keyed `anchor`, nearest first; with no anchor, the newest rows, newest first.
Read = Callable[[bool, int | None, int], Sequence[T]]


def seek(
    read: Read[T], key: Callable[[T], int], size: int, older: int | None, newer: int | None
) -> tuple[list[T], int | None, int | None]:
    """The `size` rows just older than the row keyed `older`, or just newer than the one keyed
    `newer`, or else the newest ones; newest first, with the keys to page on from: the first row
    shown (towards newer rows) and the last (towards older ones), None at either end. Fewer than
    a page newer than `newer` gives the newest page."""
    if newer is not None:
        rows = list(read(True, newer, size + 1))
        if len(rows) > size:
            rows = rows[:size][::-1]
            return rows, key(rows[0]), key(rows[-1])
    elif older is not None:
        rows = list(read(False, older, size + 1))
        if rows:
            return _newest_first(rows, size, key, newer=key(rows[0]))
    return _newest_first(list(read(False, None, size + 1)), size, key, newer=None)


def _newest_first(
    rows: list[T], size: int, key: Callable[[T], int], newer: int | None
) -> tuple[list[T], int | None, int | None]:
    """The first `size` of these rows (read one more, to know whether there are older ones)."""
    return rows[:size], newer, key(rows[size - 1]) if rows[size:] else None
