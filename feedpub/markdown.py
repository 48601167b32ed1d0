"""Markdown → HTML, as markdown-it-py renders it (CommonMark, with tables and strikethrough).

markdown-it-pyrs, the Rust port of markdown-it by markdown-it-py's maintainers, renders
a post fifteen times faster (1.3 ms a post in Python, where a Markdown site's first build
renders thousands) and gives the same HTML, except in a few places found by comparing
the two on random Markdown (tests/test_markdown.py): there markdown-it-py renders it, so
feeds do not change with the renderer.

- Whitespace other than spaces, tabs and newlines (no-break and ideographic spaces, form
  feeds, line separators): markdown-it-py strips it where Python's `str.strip` would.
- An ampersand in an image's description: markdown-it-pyrs drops character references
  from the `alt` text it makes.
- A text that does not end with a newline: the two end an open code block differently.
- An empty blockquote, a code span of only spaces: told by the HTML they come out as.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it_pyrs import MarkdownIt as FastMarkdownIt

_UNSURE_TEXT = re.compile(
    r"[\x0b\x0c\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]|!\[[^\]]*&"
)
_UNSURE_HTML = re.compile(r"<blockquote>\n</blockquote>|<code> +</code>")


def render(text: str) -> str:
    """`text`'s HTML, byte for byte as markdown-it-py renders it."""
    if text.endswith("\n") and not _UNSURE_TEXT.search(text):
        html: str = _fast().render(text)
        if not _UNSURE_HTML.search(html):
            return html
    return str(_reference().render(text))


def prepare() -> None:
    """Make the fast renderer now (before worker processes are forked: then they share it)."""
    _fast()


@functools.cache
def _fast() -> FastMarkdownIt:
    from markdown_it_pyrs import MarkdownIt

    # CommonMark plus the two GFM extensions blog posts use most (and markdown-it-py's).
    return MarkdownIt("commonmark").enable_many(["table", "strikethrough"])


@functools.cache
def _reference() -> MarkdownIt:
    # Imported only for a text that needs it: the import alone takes 35 ms.
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"])
