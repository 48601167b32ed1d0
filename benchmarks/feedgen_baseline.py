"""The plain baseline: what a short script with python-frontmatter and feedgen does.

    python benchmarks/feedgen_baseline.py POSTS OUTPUT [--limit 20]

It reads every post with python-frontmatter (PyYAML's loader), groups them into the
site's feed and one feed per node of the category tree (newest first, `--limit` items),
and writes each as RSS 2.0 and Atom 1.0 with feedgen, full content included: the feeds
feedpub publishes, without its checks (no sanitising, no validation, no incremental
state, dates read only in the corpus's RFC 2822 form). The benchmark times it beside
feedpub and Hugo, cold every time, since it keeps nothing between runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
from collections import defaultdict
from pathlib import Path

import frontmatter
from feedgen.feed import FeedGenerator

BASE_URL = "https://bench.example.org/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("posts", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args()
    members: dict[tuple[str, ...], list[tuple[dt.datetime, str, frontmatter.Post]]] = defaultdict(
        list
    )
    for path in sorted(args.posts.rglob("*.md")):
        post = frontmatter.load(path)
        when = _date(post.get("date"), path)
        rel = path.relative_to(args.posts).as_posix()
        categories = post.get("categories") or []
        names = [str(c) for c in (categories if isinstance(categories, list) else [categories])]
        members[()].append((when, rel, post))
        for depth in range(1, len(names) + 1):
            members[tuple(names[:depth])].append((when, rel, post))
    for node, posts in members.items():
        posts.sort(key=lambda p: (-p[0].timestamp(), p[1]))
        _write(node, posts[: args.limit], args.output)


def _date(value: object, path: Path) -> dt.datetime:
    if isinstance(value, str):
        try:
            return email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            pass
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)


def _write(
    node: tuple[str, ...], posts: list[tuple[dt.datetime, str, frontmatter.Post]], output: Path
) -> None:
    folder = output.joinpath("categories", *node) if node else output
    url = BASE_URL + "/".join(("categories", *node, "")) if node else BASE_URL
    fg = FeedGenerator()
    fg.id(url)
    fg.title(" › ".join(("bench", *node)))
    fg.description("bench")
    fg.link(href=url, rel="alternate")
    for when, rel, post in posts:
        fe = fg.add_entry(order="append")
        link = BASE_URL + rel.removesuffix(".md") + "/"
        fe.id(link)
        fe.title(str(post.get("title") or rel))
        fe.link(href=link)
        fe.published(when)
        fe.updated(when)
        fe.author({"name": str(post.get("author") or "bench")})
        fe.content(post.content, type="html")
        fe.description(post.content)
    folder.mkdir(parents=True, exist_ok=True)
    fg.rss_file(str(folder / "rss.xml"), pretty=True)
    fg.atom_file(str(folder / "atom.xml"), pretty=True)


if __name__ == "__main__":
    main()
