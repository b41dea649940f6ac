"""Charts as inline SVG: pure functions, no app."""

import re

import pytest
from markupsafe import Markup

from lms.charts import bar_chart, column_chart, figure


def bars(svg: str) -> list[float]:
    """The drawn lengths: widths of a bar chart's rects."""
    return [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]


def heights(svg: str) -> list[float]:
    return [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]


def hidden_table(svg: str) -> list[tuple[str, str]]:
    return re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td>', svg)


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (66.666, "%", "66.7%"),
        (100, "%", "100%"),
        (0, "%", "0%"),
        (12.0, "", "12"),
        (2.25, "", "2.2"),
    ],
)
def test_figures_have_one_decimal_at_most(value, unit, shown):
    assert figure(value, unit) == shown


@pytest.mark.parametrize("chart", [bar_chart, column_chart])
def test_a_chart_is_a_titled_image_with_its_figures_as_a_table(chart):
    svg = chart([("东城支行", 50), ("西城支行", 25), ("南城支行", 0)], title="按支行")
    assert isinstance(svg, Markup)
    assert svg.startswith('<svg role="img"')
    assert "<title>按支行</title>" in svg
    assert svg.count("<rect ") == 3
    assert "<caption>按支行</caption>" in svg
    assert len(hidden_table(svg)) == 3
    assert "<script" not in svg


def test_bars_are_as_long_as_their_share_of_the_maximum():
    svg = bar_chart([("a", 100), ("b", 50), ("c", 0), ("d", 150)], title="t")
    full, half, none, over = bars(svg)
    assert half == pytest.approx(full / 2)
    assert none == 0
    assert over == full  # clamped to the chart
    assert hidden_table(svg) == [("a", "100%"), ("b", "50%"), ("c", "0%"), ("d", "150%")]


def test_columns_scale_to_the_highest_value_unless_told():
    svg = column_chart([("2025-01", 4), ("2025-02", 2), ("2025-03", 0)], title="t")
    assert heights(svg) == [160, 80, 0]
    fixed = column_chart([("2025-01", 4)], max_value=8, title="t")
    assert heights(fixed) == [80]


@pytest.mark.parametrize("chart", [bar_chart, column_chart])
def test_labels_and_titles_are_escaped(chart):
    svg = chart([("<script>alert(1)</script>", 10)], title='<b onclick="x">')
    assert "<script>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert "<b " not in svg
    assert "&lt;b onclick=&#34;x&#34;&gt;" in svg


def test_all_zero_data_draws_bars_of_no_length():
    svg = bar_chart([("a", 0), ("b", 0)], title="t")
    assert bars(svg) == [0, 0]
    assert hidden_table(svg) == [("a", "0%"), ("b", "0%")]


def test_all_zero_months_draw_columns_of_no_height():
    svg = column_chart([("2025-01", 0), ("2025-02", 0)], title="t")
    assert heights(svg) == [0, 0]
    assert hidden_table(svg) == [("2025-01", "0"), ("2025-02", "0")]


@pytest.mark.parametrize("chart", [bar_chart, column_chart])
def test_no_data_is_a_sentence_not_an_empty_picture(chart):
    empty = chart([], title="t", empty="暂无<数据>")
    assert "<svg" not in empty
    assert empty == Markup('<p class="muted">暂无&lt;数据&gt;</p>')


def test_a_zero_maximum_draws_nothing_rather_than_dividing_by_zero():
    assert bars(bar_chart([("a", 5)], max_value=0, title="t")) == [0]
