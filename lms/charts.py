"""Charts drawn on the server as inline SVG: no script, nothing fetched from elsewhere.

Each chart is an `<svg role="img">` named by its `<title>`, followed by the same figures in a
table that only screen readers see (an image's text is not read out).
"""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH = 640
LABEL_WIDTH = 170
VALUE_WIDTH = 60
ROW_HEIGHT = 28
BAR_HEIGHT = 18
COLUMN_AREA = 160
FILL = "#1b7f3b"
# Shown to screen readers only: the usual "visually hidden" rules, inline as there is no class.
HIDDEN = (
    "position:absolute;width:1px;height:1px;margin:-1px;padding:0;border:0;"
    "overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap"
)


def figure(value: float, unit: str = "") -> str:
    """A value as shown on a chart: one decimal at most, then the unit."""
    return f"{round(value, 1):g}{unit}"


def _share(value: float, max_value: float) -> float:
    return min(1.0, max(0.0, value / max_value)) if max_value > 0 else 0.0


def _svg(title: str, height: int, body: list[str]) -> str:
    return (
        f'<svg role="img" class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'style="max-width:{WIDTH}px" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _table(title: str, items: list[tuple[str, float]], unit: str) -> str:
    rows = "".join(
        f'<tr><th scope="row">{escape(label)}</th><td>{figure(value, unit)}</td></tr>'
        for label, value in items
    )
    return f'<table style="{HIDDEN}"><caption>{escape(title)}</caption>{rows}</table>'


def _empty(empty: str) -> Markup:
    """No data, no picture: a sentence every reader gets."""
    return Markup(f'<p class="muted">{escape(empty)}</p>')


def bar_chart(
    items: list[tuple[str, float]],
    max_value: float = 100,
    unit: str = "%",
    *,
    title: str = "",
    empty: str = "—",
) -> Markup:
    """Horizontal bars, a label on the left and the value on the right of each."""
    if not items:
        return _empty(empty)
    area = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    body = []
    for n, (label, value) in enumerate(items):
        y = n * ROW_HEIGHT
        length = round(area * _share(value, max_value), 1)
        middle = y + ROW_HEIGHT / 2
        body.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{middle}" text-anchor="end" '
            f'dominant-baseline="middle" font-size="13">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + (ROW_HEIGHT - BAR_HEIGHT) / 2}" width="{length}" '
            f'height="{BAR_HEIGHT}" rx="3" fill="{FILL}"></rect>'
            f'<text x="{LABEL_WIDTH + length + 6}" y="{middle}" dominant-baseline="middle" '
            f'font-size="13">{figure(value, unit)}</text>'
        )
    return Markup(_svg(title, len(items) * ROW_HEIGHT, body) + _table(title, items, unit))


def column_chart(
    items: list[tuple[str, float]],
    max_value: float | None = None,
    unit: str = "",
    *,
    title: str = "",
    empty: str = "—",
) -> Markup:
    """Vertical columns with the value above and the label below each; scaled to the highest
    value unless `max_value` is given."""
    if not items:
        return _empty(empty)
    top = max_value if max_value is not None else max(value for _label, value in items)
    slot = WIDTH / len(items)
    width = round(slot * 0.6, 1)
    base = 20 + COLUMN_AREA
    body = []
    for n, (label, value) in enumerate(items):
        height = round(COLUMN_AREA * _share(value, top), 1)
        middle = round(slot * n + slot / 2, 1)
        body.append(
            f'<rect x="{round(middle - width / 2, 1)}" y="{base - height}" width="{width}" '
            f'height="{height}" rx="2" fill="{FILL}"></rect>'
            f'<text x="{middle}" y="{base - height - 5}" text-anchor="middle" font-size="12">'
            f"{figure(value, unit)}</text>"
            f'<text x="{middle}" y="{base + 16}" text-anchor="middle" font-size="11">'
            f"{escape(label)}</text>"
        )
    return Markup(_svg(title, base + 24, body) + _table(title, items, unit))
