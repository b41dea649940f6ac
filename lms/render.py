"""Sanitised HTML from Markdown, HTML and GIFT question text."""

from html import escape

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_markdown = MarkdownIt("commonmark", {"html": True}).enable("table")


def sanitise(html: str) -> str:
    return nh3.clean(html, link_rel="noopener noreferrer")


def markdown_to_html(text: str) -> str:
    """Markdown to HTML that is safe to show whatever the author wrote."""
    return sanitise(_markdown.render(text))


def formatted_to_html(text: str, text_format: str) -> Markup:
    """A GIFT text in its [format] as safe HTML; Moodle's auto-format keeps line breaks."""
    if text_format == "markdown":
        return Markup(markdown_to_html(text))
    if text_format == "plain":
        return Markup(escape(text).replace("\n", "<br>"))
    if text_format == "html":
        return Markup(sanitise(text))
    return Markup(sanitise(text.replace("\n", "<br>")))
