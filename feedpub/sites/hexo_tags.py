"""Hexo's built-in tag plugins, rendered as Hexo 8 renders them (players become links).

Hexo runs its tags over a post outside code: fenced blocks and inline code in backticks
are left as they are (see tags.py for the renderer and what happens to other tags).
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from .tags import (
    FENCE,
    INLINE_CODE,
    URL_LIKE,
    Context,
    Handler,
    TagWarn,
    code_block,
    escape,
    find_post,
    link_to,
    raw,
    render_part,
)


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
        url_at = next((i for i, a in enumerate(rest) if URL_LIKE.match(a)), None)
        title = " ".join(rest[:url_at] if url_at is not None else rest)
        link = ""
        if url_at is not None:
            link = link_to(rest[url_at], " ".join(rest[url_at + 1 :]) or "link")
        caption = f"<figcaption><span>{escape(title)}</span>{link}</figcaption>"
    return code_block(lang, inner or "", caption)


def _hexo_blockquote(ctx: Context, args: list[str], inner: str | None) -> str:
    url_at = next((i for i, a in enumerate(args) if re.match(r"https?://", a)), None)
    before = " ".join(args[:url_at] if url_at is not None else args)
    author, _, source = before.partition(",")
    footer = f"<strong>{escape(author.strip())}</strong>" if author.strip() else ""
    cite = escape(source.strip())
    if url_at is not None:
        cite = link_to(args[url_at], " ".join(args[url_at + 1 :]) or source.strip() or args[url_at])
    if cite:
        footer += f"<cite>{cite}</cite>"
    footer = f"<footer>{footer}</footer>" if footer else ""
    return f"\n<blockquote>\n\n{(inner or '').strip()}\n\n{footer}</blockquote>\n"


def _image(classes: list[str], src: str, rest: list[str]) -> str:
    """Hexo's img tag: [classes] src [width [height]] [title words…]."""
    attrs = [f'src="{escape(src)}"']
    if classes:
        attrs.append(f'class="{escape(" ".join(classes))}"')
    for name in ("width", "height"):
        if rest and rest[0].isdigit():
            attrs.append(f'{name}="{escape(rest.pop(0))}"')
        else:
            break
    if rest:
        attrs.append(f'title="{escape(" ".join(rest))}"')
    return f"<img {' '.join(attrs)}>"


def _hexo_img(ctx: Context, args: list[str], inner: str | None) -> str:
    # Hexo's url_for: a path from the site's root is below the site's `root` folder.
    root = urlsplit(ctx.site.config_values()["base_url"]).path
    for at, arg in enumerate(args):
        if URL_LIKE.match(arg):
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
    return link_to(_asset(ctx, args[0]), title, title)


def _hexo_asset_path(ctx: Context, args: list[str], inner: str | None) -> str:
    return escape(_asset(ctx, args[0])) if args else ""


def _hexo_link(ctx: Context, args: list[str], inner: str | None) -> str:
    url_at = next((i for i, a in enumerate(args) if URL_LIKE.match(a)), None)
    if url_at is None:
        return escape(" ".join(args))
    text = " ".join(args[:url_at]) or args[url_at]
    rest = [a for a in args[url_at + 1 :] if a not in ("true", "false")]
    return link_to(args[url_at], text, " ".join(rest))


def _other_post(ctx: Context, args: list[str], inner: str | None, as_link: bool) -> str:
    if not args:
        return ""
    found = find_post(ctx.site, args[0])
    if found is None:
        return escape(" ".join(args[1:]) or args[0]) if as_link else ""
    if not as_link:
        return escape(found.url)
    text = " ".join(a for a in args[1:] if a not in ("true", "false")) or found.title
    return link_to(found.url, text, found.title)


def _youtube(ctx: Context, args: list[str], inner: str | None) -> str:
    if not args:
        return ""
    kind = args[1] if len(args) > 1 else "video"
    url = (
        f"https://www.youtube.com/playlist?list={args[0]}"
        if kind == "playlist"
        else f"https://www.youtube.com/watch?v={args[0]}"
    )
    return link_to(url, url)


def _vimeo(ctx: Context, args: list[str], inner: str | None) -> str:
    url = f"https://vimeo.com/{args[0]}" if args else ""
    return link_to(url, url) if url else ""


def _hexo_pullquote(ctx: Context, args: list[str], inner: str | None) -> str:
    return f'\n<blockquote class="pullquote">\n\n{(inner or "").strip()}\n\n</blockquote>\n'


def _hexo_iframe(ctx: Context, args: list[str], inner: str | None) -> str:
    return link_to(args[0], args[0]) if args else ""


def _hexo_url_for(ctx: Context, args: list[str], inner: str | None) -> str:
    if len(args) < 2:
        return ""
    return link_to(urljoin(ctx.site.config_values()["base_url"], args[1].lstrip("/")), args[0])


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
    caption = f"<figcaption><span>{escape(title)}</span></figcaption>"
    return code_block(options.get("lang", path.suffix[1:]), "\n".join(lines[first:last]), caption)


HEXO: dict[str, Handler] = {
    "codeblock": _hexo_codeblock, "code": _hexo_codeblock,
    "blockquote": _hexo_blockquote, "quote": _hexo_blockquote,
    "raw": raw, "img": _hexo_img, "image": _hexo_img, "link": _hexo_link,
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
    return escape(ctx.title) if expression.split("|", 1)[0].strip() == "title" else None


def render_hexo(body: str, ctx: Context, warn: TagWarn | None = None) -> str:
    """Hexo leaves code (fenced, and inline in backticks) alone; the rest goes through its
    tag plugins. Code is masked, not cut out, so a tag around it (a note holding `code`)
    still finds its end; a mask keeps the code's line breaks, so warnings keep their lines."""
    masks: list[tuple[str, str]] = []
    out, pos = [], 0
    for start, end in _code_spans(body):
        code = body[start:end]
        mask = f"\ue000{len(masks)}\ue001" + "\n" * code.count("\n")
        masks.append((mask, code))
        out += [body[pos:start], mask]
        pos = end
    out.append(body[pos:])
    masked = "".join(out)
    rendered = render_part(masked, ctx, HEXO, _hexo_variable, warn, masked, 0)
    for mask, code in masks:
        rendered = rendered.replace(mask, code)
    return rendered


def _code_spans(body: str) -> list[tuple[int, int]]:
    """Where the body's fenced code blocks and inline code spans are, in order."""
    spans: list[tuple[int, int]] = []
    fences = [m.span() for m in FENCE.finditer(body)]
    pos = 0
    for start, end in [*fences, (len(body), len(body))]:
        spans += [(pos + m.start(), pos + m.end()) for m in INLINE_CODE.finditer(body[pos:start])]
        if start < end:
            spans.append((start, end))
        pos = end
    return spans
