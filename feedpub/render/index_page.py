"""The site's feeds → `feeds/index.html`, a page a person can subscribe from, and the
autodiscovery `<link>` tags `feedpub snippet` prints for a site's own templates.

The page is plain HTML with a small inline stylesheet: no script, no XSLT, no external
resource, readable on a phone. Every name is text (escaped, and isolated with `<bdi>`
so a right-to-left category cannot reorder its line); links to the feeds are relative,
so the page works wherever the output folder is served, a local preview included.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from ..config import Config
from ..formats import INDEX_FILE, OPML_FILE, Format
from ..models import Feed
from ..urls import quote_path
from .feed_tree import FeedNode, feed_tree, walk

_UP = "../" * INDEX_FILE.count("/")
"""From the index page's folder back to the output folder."""

_STYLE = """\
:root{color-scheme:light dark;--muted:#595959;--line:#d0d0d0;--chip:#eef2f7}
@media (prefers-color-scheme:dark){:root{--muted:#b0b0b0;--line:#444;--chip:#26303b}}
body{font:1rem/1.5 system-ui,sans-serif;margin:0 auto;max-width:48rem;padding:1rem}
h1{font-size:1.5rem;line-height:1.25;margin:.5rem 0}
ul{list-style:none;margin:0;padding:0}
ul ul{border-inline-start:2px solid var(--line);margin-inline-start:.5rem;padding-inline-start:.75rem}
.feed{display:flex;flex-wrap:wrap;gap:.25rem .75rem;align-items:baseline;padding:.5rem 0;border-bottom:1px solid var(--line)}
.name{font-weight:600;overflow-wrap:anywhere}
.meta{color:var(--muted);font-size:.875rem}
.formats{display:flex;gap:.5rem;margin-inline-start:auto}
.formats a{background:var(--chip);border-radius:.25rem;padding:.125rem .5rem;font-size:.875rem;text-decoration:none}
.formats a:hover,.formats a:focus{text-decoration:underline}
.all{background:var(--chip);border-radius:.375rem;padding:.5rem .75rem}
"""


def link_tags(feed: Feed, config: Config, href_of: dict[Format, str] | None = None) -> list[str]:
    """`<link rel="alternate">` for each format written; absolute URLs unless `href_of` says."""
    tags = []
    for fmt in config.formats:
        href = (href_of or {}).get(fmt) or feed.file_url(fmt)
        title = f"{feed.title} ({fmt.full_name})"
        tags.append(
            f'<link rel="alternate" type="{fmt.media_type}" title="{_e(title)}" href="{_e(href)}">'
        )
    return tags


def render_index(feeds: Sequence[Feed], config: Config) -> bytes:
    root = feed_tree(feeds)
    count = len(walk(root))
    head = link_tags(root.feed, config, {fmt: _relative(root.feed, fmt) for fmt in config.formats})
    lines = [
        "<!DOCTYPE html>",
        f'<html lang="{_e(config.language)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="feedpub">',
        f"<title>Feeds · {_e(config.title)}</title>",
        *head,
        f'<link rel="outline" type="text/x-opml" title="All feeds (OPML)" href="{_UP}{OPML_FILE}">',
        f"<style>\n{_STYLE}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>Feeds of <bdi>{_e(config.title)}</bdi></h1>",
        *(
            [f"<p><bdi>{_e(config.description)}</bdi></p>"]
            if config.description != config.title
            else []
        ),
        f'<p class="all">Subscribe to all {count} feeds at once: import '
        f'<a href="{_UP}{OPML_FILE}" type="text/x-opml">{OPML_FILE}</a> (OPML) into your feed reader.</p>',
        "</header>",
        '<main aria-label="Feeds">',
        f"<p>Each feed carries the newest {config.limit} posts at or below its category, "
        f"as {_formats(config)}.</p>",
        '<ul class="tree">',
        *_items(root, config),
        "</ul>",
        "</main>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def _items(node: FeedNode, config: Config) -> list[str]:
    feed = node.feed
    name = _e(node.name)
    posts = f"{feed.total} post" + ("" if feed.total == 1 else "s")
    if feed.entries:
        newest = feed.entries[0].post.date.astimezone(config.zone())
        posts += f', newest <time datetime="{newest.isoformat()}">{newest:%Y-%m-%d}</time>'
    links = " ".join(
        f'<a href="{_e(_relative(feed, fmt))}" type="{fmt.media_type}" '
        f'aria-label="{_e(fmt.label)} feed of {name}">{fmt.label}</a>'
        for fmt in config.formats
    )
    lines = [
        "<li>",
        f'<div class="feed"><a class="name" href="{_e(feed.alternate)}"><bdi>{name}</bdi></a>'
        f' <span class="meta">{posts}</span> <span class="formats">{links}</span></div>',
    ]
    if node.children:
        lines.append("<ul>")
        for child in node.children:
            lines += _items(child, config)
        lines.append("</ul>")
    lines.append("</li>")
    return lines


def _relative(feed: Feed, fmt: Format) -> str:
    return _UP + quote_path(feed.file(fmt))


def _formats(config: Config) -> str:
    written = [fmt.full_name for fmt in config.formats]
    return written[0] if len(written) == 1 else ", ".join(written[:-1]) + " and " + written[-1]


def _e(text: str) -> str:
    return html.escape(text, quote=True)
