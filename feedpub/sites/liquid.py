"""Jekyll's Liquid in post bodies: the tags and variables Jekyll posts use, as Jekyll renders them.

Rendered: `{% raw %}`, `{% highlight %}`, `{% link %}`, `{% post_url %}`, `{% comment %}`,
`{% assign %}`, `{% for %}`, `{% include %}` (from `_includes/`), and output tags whose value
is a string, a number, `site.*`, `page.title`, `page.url`, an assigned name or `include.*`,
through the filters below. Conditions (`{% if %}`) are not evaluated: their content is kept and
the tag named in a warning, like any other tag (see tags.py).
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin

from .tags import Context, Handler, code_block, escape, find_post, raw, render

_STRING = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)')\s*$""")
_FILTER_SPLIT = re.compile(r"""\|(?=(?:[^"']|"[^"]*"|'[^']*')*$)""")
_ARGUMENT = re.compile(r"""^\s*(\w+)\s*(?::\s*(.*))?$""", re.DOTALL)
_INCLUDE_PARAM = re.compile(r"""(\w+)\s*=\s*("[^"]*"|'[^']*'|[\w.]+)""")


def _base(ctx: Context) -> str:
    return str(ctx.site.config_values()["base_url"])


def _lookup(ctx: Context, name: str) -> object:
    """The value of a Liquid name, or None when feedpub does not know it."""
    name = name.strip()
    literal = _STRING.match(name)
    if literal:
        return literal.group(1) if literal.group(1) is not None else literal.group(2)
    if re.fullmatch(r"-?\d+(?:\.\d+)?", name):
        return name
    if name == "page.url":
        return ctx.url
    if name == "page.title":
        return ctx.title
    head, _, rest = name.partition(".")
    value: object
    if head in ctx.scope:
        value = ctx.scope[head]
    elif head == "site":
        value = dict(ctx.site.settings)
        if rest in ("url", "baseurl"):
            return str(ctx.site.settings.get(rest) or "").rstrip("/")
    else:
        return None
    for part in rest.split(".") if rest else ():
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _markdownify(text: str) -> str:
    from markdown_it import MarkdownIt

    return str(MarkdownIt("commonmark").render(text)).strip()


FILTERS: dict[str, Callable[[Context, Any, str | None], Any]] = {
    "relative_url": lambda c, v, a: (
        "/"
        + "/".join(
            p
            for p in (str(c.site.settings.get("baseurl") or "").strip("/"), str(v).lstrip("/"))
            if p
        )
    ),
    "absolute_url": lambda c, v, a: urljoin(_base(c), str(v).lstrip("/")),
    "escape": lambda c, v, a: html.escape(str(v)),
    "xml_escape": lambda c, v, a: html.escape(str(v)),
    "downcase": lambda c, v, a: str(v).lower(),
    "upcase": lambda c, v, a: str(v).upper(),
    "capitalize": lambda c, v, a: str(v).capitalize(),
    "strip": lambda c, v, a: str(v).strip(),
    "split": lambda c, v, a: str(v).split(a) if a else str(v).split(),
    "join": lambda c, v, a: (a or " ").join(map(str, v)) if isinstance(v, list) else str(v),
    "append": lambda c, v, a: f"{v}{a or ''}",
    "prepend": lambda c, v, a: f"{a or ''}{v}",
    "default": lambda c, v, a: v if v not in (None, "", False, []) else a,
    "size": lambda c, v, a: str(len(v)) if isinstance(v, list | str) else "0",
    "first": lambda c, v, a: v[0] if isinstance(v, list) and v else "",
    "last": lambda c, v, a: v[-1] if isinstance(v, list) and v else "",
    "markdownify": lambda c, v, a: _markdownify(str(v)),
}


def evaluate(ctx: Context, expression: str) -> object:
    """A Liquid expression (`"x" | relative_url`); None when any part of it is unknown."""
    value, *filters = _FILTER_SPLIT.split(expression)
    result = _lookup(ctx, value)
    for spec in filters:
        found = _ARGUMENT.match(spec)
        if result is None or not found or found.group(1) not in FILTERS:
            return None
        argument = found.group(2)
        argument_value = None if argument is None else _lookup(ctx, argument)
        result = FILTERS[found.group(1)](
            ctx, result, None if argument_value is None else str(argument_value)
        )
    return result


def variable(ctx: Context, expression: str) -> str | None:
    value = evaluate(ctx, expression)
    if value is None:
        return None
    if isinstance(value, list):
        return escape("".join(map(str, value)))
    text = str(value)
    return text if expression.rstrip().endswith("markdownify") else escape(text)


def _raw_arguments(handler: Handler) -> Handler:
    handler.raw_arguments = True  # type: ignore[attr-defined]
    return handler


@_raw_arguments
def _assign(ctx: Context, args: list[str], inner: str | None) -> str:
    name, _, expression = args[0].partition("=")
    if isinstance(ctx.scope, dict) and name.strip().isidentifier():
        ctx.scope[name.strip()] = evaluate(ctx, expression)
    return ""


@_raw_arguments
def _for(ctx: Context, args: list[str], inner: str | None) -> str:
    found = re.match(r"\s*(\w+)\s+in\s+(.+?)\s*$", args[0])
    items = evaluate(ctx, found.group(2)) if found else None
    if not found or not isinstance(items, list) or inner is None:
        return inner or ""
    return "".join(
        render(
            inner,
            dataclasses.replace(ctx, scope={**ctx.scope, found.group(1): item}),
            JEKYLL,
            variable,
        )
        for item in items
    )


@_raw_arguments
def _include(ctx: Context, args: list[str], inner: str | None) -> str:
    name, _, params = args[0].strip().partition(" ")
    folder = (ctx.site.root / "_includes").resolve()
    path = (folder / name).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        return ""
    values = {key: _lookup(ctx, value) for key, value in _INCLUDE_PARAM.findall(params)}
    scope = {**ctx.scope, "include": values}
    return render(
        path.read_text("utf-8", "replace"), dataclasses.replace(ctx, scope=scope), JEKYLL, variable
    )


def _highlight(ctx: Context, args: list[str], inner: str | None) -> str:
    return code_block(args[0] if args else "", inner or "")


def _post_url(ctx: Context, args: list[str], inner: str | None) -> str:
    found = find_post(ctx.site, args[0]) if args else None
    return escape(found.url) if found else ""


def _link(ctx: Context, args: list[str], inner: str | None) -> str:
    if not args:
        return ""
    found = find_post(ctx.site, args[0])
    if found:
        return escape(found.url)
    page = re.sub(r"\.(md|markdown|mkd|mkdn|mkdown)$", ".html", args[0])
    return escape(urljoin(_base(ctx), page.lstrip("/")))


JEKYLL: dict[str, Handler] = {
    "raw": raw, "highlight": _highlight, "post_url": _post_url, "link": _link,
    "comment": lambda c, a, i: "", "assign": _assign, "for": _for, "include": _include,
}  # fmt: skip
