"""Template tags in post bodies, rendered as the generators render them, never shown raw.

Hexo runs its tag plugins (Nunjucks syntax) over every post outside fenced code;
Jekyll runs Liquid over the whole body. The tags both generators ship are
rendered here the way they render them (embedded players become links, since
feeds carry no iframes); any other tag (a theme's `{% note warn %}`) keeps its
inner content, loses its markers and is named in a warning with its line. What
is left of `{%` and `{{` in the HTML (code that shows a tag) is written as a
character reference, so no reader ever sees a template tag as markup.
"""

from __future__ import annotations

import html
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

if TYPE_CHECKING:
    from .base import Site

TagWarn = Callable[[str, int], None]
"""Records a warning about the body (message, 1-based line within the body)."""

_TAG = re.compile(r"\{%-?\s*(\w+)\s*(.*?)\s*-?%\}", re.DOTALL)
_VARIABLE = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_FENCE = re.compile(
    r"^( {0,3})(`{3,}|~{3,})[^\n]*\n.*?(?:^\1?\2[`~]*[ \t]*$|\Z)", re.MULTILINE | re.DOTALL
)
# Inline code: a run of backticks, then anything up to the same run, within a paragraph.
_INLINE_CODE = re.compile(r"(?<!`)(`+)(?!`)(?:(?!\n[ \t]*\n).)+?(?<!`)\1(?!`)", re.DOTALL)
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//|^/|^[\w.-]+\.[a-z]{2,}/", re.IGNORECASE)


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


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _link(href: str, text: str, title: str = "") -> str:
    title_attr = f' title="{_escape(title)}"' if title else ""
    return f'<a href="{_escape(href)}"{title_attr}>{_escape(text)}</a>'


def _code(lang: str, code: str, caption: str = "") -> str:
    lang_class = f' class="highlight {_escape(lang)}"' if lang else ' class="highlight"'
    return f"\n<figure{lang_class}>{caption}<pre><code>{_escape(code.strip(chr(10)))}</code></pre></figure>\n"


# --- Hexo's tag plugins -------------------------------------------------------------


def _hexo_codeblock(ctx: Context, args: list[str], inner: str | None) -> str:
    lang = next((a[5:] for a in args if a.startswith("lang:")), "")
    rest = [
        a
        for a in args
        if not a.startswith(
            ("lang:", "line_number:", "highlight:", "first_line:", "mark:", "wrap:")
        )
    ]
    caption = ""
    if rest:
        url_at = next((i for i, a in enumerate(rest) if _URL.match(a)), None)
        title = " ".join(rest[:url_at] if url_at is not None else rest)
        link = ""
        if url_at is not None:
            link = _link(rest[url_at], " ".join(rest[url_at + 1 :]) or "link")
        caption = f"<figcaption><span>{_escape(title)}</span>{link}</figcaption>"
    return _code(lang, inner or "", caption)


def _hexo_blockquote(ctx: Context, args: list[str], inner: str | None) -> str:
    url_at = next((i for i, a in enumerate(args) if re.match(r"https?://", a)), None)
    before = " ".join(args[:url_at] if url_at is not None else args)
    author, _, source = before.partition(",")
    footer = f"<strong>{_escape(author.strip())}</strong>" if author.strip() else ""
    cite = _escape(source.strip())
    if url_at is not None:
        cite = _link(args[url_at], " ".join(args[url_at + 1 :]) or source.strip() or args[url_at])
    if cite:
        footer += f"<cite>{cite}</cite>"
    footer = f"<footer>{footer}</footer>" if footer else ""
    return f"\n<blockquote>\n\n{(inner or '').strip()}\n\n{footer}</blockquote>\n"


def _image(classes: list[str], src: str, rest: list[str]) -> str:
    """Hexo's img tag: [classes] src [width [height]] [title words…]."""
    attrs = [f'src="{_escape(src)}"']
    if classes:
        attrs.append(f'class="{_escape(" ".join(classes))}"')
    for name in ("width", "height"):
        if rest and rest[0].isdigit():
            attrs.append(f'{name}="{_escape(rest.pop(0))}"')
        else:
            break
    if rest:
        attrs.append(f'title="{_escape(" ".join(rest))}"')
    return f"<img {' '.join(attrs)}>"


def _hexo_img(ctx: Context, args: list[str], inner: str | None) -> str:
    # Hexo's url_for: a path from the site's root is below the site's `root` folder.
    root = urlsplit(ctx.site.config_values()["base_url"]).path
    for at, arg in enumerate(args):
        if _URL.match(arg):
            src = root + arg[1:] if arg.startswith("/") and not arg.startswith("//") else arg
            return _image(args[:at], src, args[at + 1 :])
    return ""


def _asset(ctx: Context, slug: str) -> str:
    return urljoin(ctx.assets, slug)


def _hexo_asset_img(ctx: Context, args: list[str], inner: str | None) -> str:
    # The first argument that names a file of the post's asset folder is the image.
    folder = ctx.site.post_folder(ctx.rel)
    at = next((i for i, a in enumerate(args) if folder and (folder / a).is_file()), None)
    if at is None:
        at = next((i for i, a in enumerate(args) if "." in a), None)
    return _image(args[:at], _asset(ctx, args[at]), args[at + 1 :]) if at is not None else ""


def _hexo_asset_link(ctx: Context, args: list[str], inner: str | None) -> str:
    if not args:
        return ""
    title = " ".join(a for a in args[1:] if a not in ("true", "false")) or args[0]
    return _link(_asset(ctx, args[0]), title, title)


def _hexo_asset_path(ctx: Context, args: list[str], inner: str | None) -> str:
    return _escape(_asset(ctx, args[0])) if args else ""


def _hexo_link(ctx: Context, args: list[str], inner: str | None) -> str:
    url_at = next((i for i, a in enumerate(args) if _URL.match(a)), None)
    if url_at is None:
        return _escape(" ".join(args))
    text = " ".join(args[:url_at]) or args[url_at]
    rest = [a for a in args[url_at + 1 :] if a not in ("true", "false")]
    return _link(args[url_at], text, " ".join(rest))


def _other_post(ctx: Context, args: list[str], inner: str | None, as_link: bool) -> str:
    if not args:
        return ""
    found = find_post(ctx.site, args[0])
    if found is None:
        return _escape(" ".join(args[1:]) or args[0]) if as_link else ""
    title, url = found
    if not as_link:
        return _escape(url)
    text = " ".join(a for a in args[1:] if a not in ("true", "false")) or title
    return _link(url, text, title)


def _youtube(ctx: Context, args: list[str], inner: str | None) -> str:
    if not args:
        return ""
    kind = args[1] if len(args) > 1 else "video"
    url = (
        f"https://www.youtube.com/playlist?list={args[0]}"
        if kind == "playlist"
        else f"https://www.youtube.com/watch?v={args[0]}"
    )
    return _link(url, url)


def _vimeo(ctx: Context, args: list[str], inner: str | None) -> str:
    url = f"https://vimeo.com/{args[0]}" if args else ""
    return _link(url, url) if url else ""


def _raw(ctx: Context, args: list[str], inner: str | None) -> str:
    return inner or ""


def _hexo_pullquote(ctx: Context, args: list[str], inner: str | None) -> str:
    return f'\n<blockquote class="pullquote">\n\n{(inner or "").strip()}\n\n</blockquote>\n'


def _hexo_iframe(ctx: Context, args: list[str], inner: str | None) -> str:
    return _link(args[0], args[0]) if args else ""


def _hexo_url_for(ctx: Context, args: list[str], inner: str | None) -> str:
    if len(args) < 2:
        return ""
    return _link(urljoin(ctx.site.config_values()["base_url"], args[1].lstrip("/")), args[0])


def _hexo_include_code(ctx: Context, args: list[str], inner: str | None) -> str:
    """{% include_code [title] [lang:x] [from:n] [to:n] path %}: a file of `code_dir`."""
    words = [a for a in args if not re.match(r"(lang|from|to):", a, re.IGNORECASE)]
    options = {k.lower(): v for k, _, v in (a.partition(":") for a in args if a not in words)}
    if not words:
        return ""
    folder = ctx.site.code_folder()
    path = (folder / words[-1].lstrip("/")).resolve() if folder else None
    if (
        path is None
        or folder is None
        or not path.is_relative_to(folder.resolve())
        or not path.is_file()
    ):
        return ""
    lines = path.read_text("utf-8", "replace").split("\n")
    first = int(options["from"]) - 1 if options.get("from", "").isdigit() else 0
    last = int(options["to"]) if options.get("to", "").isdigit() else len(lines)
    title = " ".join(words[:-1]) or path.name
    caption = f"<figcaption><span>{_escape(title)}</span></figcaption>"
    return _code(options.get("lang", path.suffix[1:]), "\n".join(lines[first:last]), caption)


HEXO: dict[str, Handler] = {
    "codeblock": _hexo_codeblock, "code": _hexo_codeblock,
    "blockquote": _hexo_blockquote, "quote": _hexo_blockquote,
    "raw": _raw, "img": _hexo_img, "image": _hexo_img, "link": _hexo_link,
    "asset_img": _hexo_asset_img, "asset_image": _hexo_asset_img,
    "asset_link": _hexo_asset_link, "asset_path": _hexo_asset_path,
    "post_link": lambda c, a, i: _other_post(c, a, i, True),
    "post_path": lambda c, a, i: _other_post(c, a, i, False),
    "youtube": _youtube, "vimeo": _vimeo, "pullquote": _hexo_pullquote, "iframe": _hexo_iframe,
    "a": _hexo_link, "anchor": _hexo_link, "url_for": _hexo_url_for, "full_url_for": _hexo_url_for,
    "include_code": _hexo_include_code, "include-code": _hexo_include_code,
}  # fmt: skip


def _hexo_variable(ctx: Context, expression: str) -> str | None:
    """Hexo renders a post with its own fields as variables: {{ title }} is its title."""
    return _escape(ctx.title) if expression.split("|", 1)[0].strip() == "title" else None


# --- the renderer ---------------------------------------------------------------------


def render_hexo(body: str, ctx: Context, warn: TagWarn | None = None) -> str:
    """Hexo leaves code (fenced, and inline in backticks) alone; the rest goes through its
    tag plugins."""
    out, pos = [], 0
    for start, end in _code_spans(body):
        out.append(_render(body[pos:start], ctx, HEXO, _hexo_variable, warn, body, pos))
        out.append(body[start:end])
        pos = end
    out.append(_render(body[pos:], ctx, HEXO, _hexo_variable, warn, body, pos))
    return "".join(out)


def _code_spans(body: str) -> list[tuple[int, int]]:
    """Where the body's fenced code blocks and inline code spans are, in order."""
    spans: list[tuple[int, int]] = []
    fences = [m.span() for m in _FENCE.finditer(body)]
    pos = 0
    for start, end in [*fences, (len(body), len(body))]:
        spans += [(pos + m.start(), pos + m.end()) for m in _INLINE_CODE.finditer(body[pos:start])]
        if start < end:
            spans.append((start, end))
        pos = end
    return spans


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
    return _render(text, ctx, handlers, variable, warn, text, 0)


def _render(
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
                    _render(inner, ctx, handlers, variable, warn, whole, offset + match.end())
                )
            continue
        if getattr(handler, "raw_arguments", False):  # Liquid's own syntax, parsed by it
            out.append(handler(ctx, [arguments], inner))
        elif name in ("raw", "codeblock", "code", "highlight", "comment") or inner is None:
            out.append(handler(ctx, _args(arguments), inner))
        else:
            rendered = _render(inner, ctx, handlers, variable, warn, whole, offset + match.end())
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


def find_post(site: Site, name: str) -> tuple[str, str] | None:
    """(title, URL) of the site's post called `name`, as the generator's tags find it."""
    key = site.fingerprint()
    if key not in _INDEXES:
        from .lookup import index_posts  # reads every post: only when a tag needs another

        _INDEXES.clear()
        _INDEXES[key] = index_posts(site)
    return _INDEXES[key].get(name.strip().strip("/"))


_INDEXES: dict[str, dict[str, tuple[str, str]]] = {}
"""The site's posts by name, once per process and site configuration."""
