"""Markdown renders as markdown-it-py renders it, whichever renderer markdown.py takes.

markdown-it-py is the oracle: on random Markdown as posts are written (which must take the
fast path: else this proves nothing), on random text made of what the two renderers
disagree about, on each disagreement found, and on every post the project and the real
corpus hold.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedpub import markdown
from feedpub.front_matter import FrontMatterError, NoFrontMatter, body_of
from feedpub.reader import _HTML_START
from tests.helpers import SHARED_CORPUS

ROOT = Path(__file__).parent.parent


def _reference(text: str) -> str:
    return str(markdown._reference().render(text))


_WORD = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N")), min_size=1, max_size=8
) | st.sampled_from(["中文", "é", "x_y", "a*b", "1<2", "&amp;", "&copy;", "AT&T", "&#35;"])
_INLINE = st.one_of(
    _WORD,
    _WORD.map(lambda w: f"*{w}*"),
    _WORD.map(lambda w: f"**{w}**"),
    _WORD.map(lambda w: f"~~{w}~~"),
    _WORD.map(lambda w: f"`{w}`"),
    _WORD.map(lambda w: f"[{w}](https://example.org/{w})"),
    _WORD.filter(lambda w: "&" not in w).map(lambda w: f"![{w}](/images/{w}.png)"),
    _WORD.map(lambda w: f"<b>{w}</b>"),
    st.just("<https://example.org/x>"),
)
_LINE = st.lists(_INLINE, min_size=1, max_size=8).map(" ".join)
_PARAGRAPH = st.lists(_LINE, min_size=1, max_size=3).map("\n".join)
_BLOCK = st.one_of(
    _PARAGRAPH,
    _LINE.map(lambda line: "# " + line),
    _LINE.map(lambda line: "### " + line),
    st.lists(_LINE, min_size=1, max_size=4).map(lambda ls: "\n".join("- " + x for x in ls)),
    st.lists(_LINE, min_size=1, max_size=4).map(
        lambda ls: "\n".join(f"{n}. {x}" for n, x in enumerate(ls, 1))
    ),
    _PARAGRAPH.map(lambda p: "> " + p.replace("\n", "\n> ")),
    _PARAGRAPH.map(lambda p: "```python\n" + p + "\n```"),
    _PARAGRAPH.map(lambda p: "    " + p.replace("\n", "\n    ")),
    st.sampled_from(["---", "<!-- more -->", "> a\n>\n> b"]),
    st.lists(_WORD, min_size=2, max_size=2).map(
        lambda w: f"| {w[0]} | {w[1]} |\n|---|:-:|\n| {w[1]} | {w[0]} |"
    ),
    _PARAGRAPH.map(lambda p: "<div>\n" + p + "\n</div>"),
)
_DOCUMENT = st.lists(_BLOCK, min_size=1, max_size=8).map(lambda bs: "\n\n".join(bs) + "\n")


@settings(max_examples=600, deadline=None)
@given(_DOCUMENT)
def test_markdown_as_posts_are_written_takes_the_fast_renderer_and_renders_the_same(
    text: str,
) -> None:
    assert markdown._UNSURE_TEXT.search(text) is None
    fast = markdown._fast().render(text)
    assert markdown._UNSURE_HTML.search(fast) is None
    assert fast == _reference(text)
    assert markdown.render(text) == fast


_PIECES = [
    "# ", "## ", "*", "**", "_", "~~", "~", "`", "```", "\n", "\n\n", "> ", ">", "- ", "1. ",
    "  ", "    ", "\t", "[a](http://x.y/z)", '![i](/p.png "t")', "![a &amp; b](/p.png)",
    "<div>", "</div>", "<b>", "&amp;", "&#0;", "&#x1F600;", "&nbsp;", "|",
    "| a | b |\n|---|:-:|\n| 1 | 2 |", "---", "***", "\\", "<!-- more -->", "http://a.b",
    "<http://a.b>", "word", "中文", "é", "[ref]", "[ref]: http://r.s", "<script>x</script>",
    "=", "+", "#", "1)", "<", ">", "&", '"', "'", "\u3000", "\xa0", "\u2028", "\x0c", "\x85",
]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=25).map("".join))
def test_any_text_renders_as_markdown_it_py_renders_it(text: str) -> None:
    assert markdown.render(text) == _reference(text)


@pytest.mark.parametrize(
    "text",
    [
        "\u3000\u3000段落以全角空格开头。\n",  # a paragraph's leading ideographic spaces
        "\xa0# not a heading\n",
        "text\x0c\n",
        "![Tom &amp; Jerry](/cat.png)\n",  # a reference in an image's description
        "```\ncode that is never closed",  # no newline at the end
        "<div>\nraw HTML",
        "x\n\n>\n\ny\n",  # an empty blockquote
        "- a\n\n  > \n",
        "```    ```\n",  # a code span of only spaces
    ],
)
def test_each_disagreement_found_is_rendered_by_markdown_it_py(text: str) -> None:
    assert markdown._fast().render(text) != _reference(text)
    assert markdown.render(text) == _reference(text)


def _bodies(folder: Path) -> list[tuple[Path, str]]:
    """The body of every post under `folder`, rendered as Markdown whatever it is (an HTML
    body is rendered too: markdown-it's HTML blocks are where the two could differ)."""
    bodies = []
    for path in sorted(folder.rglob("*.md")):
        try:
            bodies.append((path, body_of(path.read_text("utf-8"))))
        except (UnicodeDecodeError, FrontMatterError, NoFrontMatter, ValueError):
            continue
    return bodies


def test_every_post_of_the_project_renders_the_same() -> None:
    bodies = [b for folder in (ROOT / "posts", ROOT / "tests") for b in _bodies(folder)]
    assert sum(not _HTML_START.match(body) for _, body in bodies) > 20  # Markdown ones
    for path, body in bodies:
        assert markdown.render(body) == _reference(body), path


@pytest.mark.skipif(not SHARED_CORPUS.is_dir(), reason="the shared corpus is not here")
def test_every_post_of_the_real_corpus_renders_the_same() -> None:
    bodies = _bodies(SHARED_CORPUS)
    assert bodies
    for path, body in bodies:
        assert markdown.render(body) == _reference(body), path
