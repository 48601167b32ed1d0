"""Template tags in post bodies, rendered as the generators render them, never shown raw.

This is the renderer both generators' tags share (`{% name args %}…{% endname %}` and
`{{ expression }}`); the tags themselves are in hexo_tags.py (Hexo's plugins) and
liquid.py (Jekyll's Liquid). Any other tag (a theme's `{% note warn %}`) keeps its inner
content, loses its markers and is named in a warning with its line. What is left of `{%`
and `{{` in the HTML (code that shows a tag) is written as a character reference, so no
reader ever sees a template tag as markup.
"""

from __future__ import annotations

import html
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Site
    from .lookup import PostLink

TagWarn = Callable[[str, int], None]
"""Records a warning about the body (message, 1-based line within the body)."""

_TAG = re.compile(r"\{%-?\s*(\w+)\s*(.*?)\s*-?%\}", re.DOTALL)
_VARIABLE = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
FENCE = re.compile(
    r"^( {0,3})(`{3,}|~{3,})[^\n]*\n.*?(?:^\1?\2[`~]*[ \t]*$|\Z)", re.MULTILINE | re.DOTALL
)
# Inline code: a run of backticks, then anything up to the same run, within a paragraph.
INLINE_CODE = re.compile(r"(?<!`)(`+)(?!`)(?:(?!\n[ \t]*\n).)+?(?<!`)\1(?!`)", re.DOTALL)
URL_LIKE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//|^/|^[\w.-]+\.[a-z]{2,}/", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Context:
    site: Site
    rel: str
    url: str
    """The post's own URL."""
    assets: str
    """Where the post's own files are published (Hexo's post asset folder)."""
    title: str = ""
    """The post's title, for `{{ title }}` (Hexo) and `{{ page.title }}` (Jekyll)."""
    scope: Mapping[str, object] = field(default_factory=dict)
    """Liquid's variables: `assign`ed names, a `for` loop's item, `include.*`."""


Handler = Callable[[Context, list[str], str | None], str]


def _args(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote: Hexo splits on spaces then
        return text.split()


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def link_to(href: str, text: str, title: str = "") -> str:
    title_attr = f' title="{escape(title)}"' if title else ""
    return f'<a href="{escape(href)}"{title_attr}>{escape(text)}</a>'


def code_block(lang: str, code: str, caption: str = "") -> str:
    lang_class = f' class="highlight {escape(lang)}"' if lang else ' class="highlight"'
    return f"\n<figure{lang_class}>{caption}<pre><code>{escape(code.strip(chr(10)))}</code></pre></figure>\n"


def raw(ctx: Context, args: list[str], inner: str | None) -> str:
    return inner or ""


# --- the renderer ---------------------------------------------------------------------


def render_jekyll(body: str, ctx: Context, warn: TagWarn | None = None) -> str:
    from .liquid import JEKYLL, variable  # Liquid's own evaluation, for Jekyll sites only

    return render(body, ctx, JEKYLL, variable, warn)


def render(
    text: str,
    ctx: Context,
    handlers: dict[str, Handler],
    variable: Callable[[Context, str], str | None],
    warn: TagWarn | None = None,
) -> str:
    """Render `text` (a body, or a part of one such as a loop's content) with these tags."""
    return render_part(text, ctx, handlers, variable, warn, text, 0)


def render_part(
    text: str,
    ctx: Context,
    handlers: dict[str, Handler],
    variable: Callable[[Context, str], str | None],
    warn: TagWarn | None,
    whole: str,
    offset: int,
) -> str:
    def line(at: int) -> int:
        return whole.count("\n", 0, offset + at) + 1

    def say(message: str, at: int) -> None:
        if warn is not None:
            warn(message, line(at))

    def variables(part: str, start: int) -> str:
        part = _COMMENT.sub("", part)

        def one(match: re.Match[str]) -> str:
            value = variable(ctx, match.group(1))
            if value is None:
                say(
                    f"template variable {{{{ {match.group(1)[:40]} }}}} is not known to feedpub; left out",
                    start + match.start(),
                )
                return ""
            return value

        return _VARIABLE.sub(one, part)

    out: list[str] = []
    pos = 0
    while (match := _TAG.search(text, pos)) is not None:
        out.append(variables(text[pos : match.start()], pos))
        name, arguments = match.group(1), match.group(2)
        if name.startswith("end"):
            say(f"{{% {name} %}} closes no tag; left out", match.start())
            pos = match.end()
            continue
        end = _closing(text, name, match.end())
        inner = text[match.end() : end.start()] if end else None
        pos = end.end() if end else match.end()
        handler = handlers.get(name)
        if handler is None:
            what = "its content kept" if inner is not None else "left out"
            say(f"template tag {{% {name} %}} is not one feedpub renders; {what}", match.start())
            if inner is not None:
                out.append(
                    render_part(inner, ctx, handlers, variable, warn, whole, offset + match.end())
                )
            continue
        if getattr(handler, "raw_arguments", False):  # Liquid's own syntax, parsed by it
            out.append(handler(ctx, [arguments], inner))
        elif name in ("raw", "codeblock", "code", "highlight", "comment") or inner is None:
            out.append(handler(ctx, _args(arguments), inner))
        else:
            rendered = render_part(
                inner, ctx, handlers, variable, warn, whole, offset + match.end()
            )
            out.append(handler(ctx, _args(arguments), rendered))
    out.append(variables(text[pos:], pos))
    return "".join(out)


def _closing(text: str, name: str, start: int) -> re.Match[str] | None:
    """The `{% endname %}` that closes a tag opened before `start` (same-name tags nest)."""
    pattern = re.compile(
        r"\{%-?\s*(" + re.escape(name) + "|end" + re.escape(name) + r")\b.*?-?%\}", re.DOTALL
    )
    depth = 1
    for match in pattern.finditer(text, start):
        depth += -1 if match.group(1).startswith("end") and match.group(1) != name else 1
        if depth == 0:
            return match
    return None


def no_template_markers(fragment: str) -> str:
    """`{%` and `{{` left in HTML (code showing a tag) as character references: shown the
    same by every reader, never taken for a template tag."""
    return fragment.replace("{%", "&#123;%").replace("{{", "&#123;{")


# --- other posts, for post_link, post_path, post_url and link -------------------------


def find_post(site: Site, name: str) -> PostLink | None:
    """The site's post called `name`, as the generator's tags find it."""
    key = site.fingerprint()
    if key not in _INDEXES:
        from .lookup import index_posts  # reads every post: only when a tag needs another

        _INDEXES.clear()
        _INDEXES[key] = index_posts(site)
    return _INDEXES[key].get(name.strip().strip("/"))


_INDEXES: dict[str, dict[str, PostLink]] = {}
"""The site's posts by name, once per process and site configuration."""
