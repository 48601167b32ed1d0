"""Expectations from a Hexo build: its public/ folder, its feeds and its db.json."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from _output import feeds_in, log_lines, page_records, plain, post_files, tag_sections


def collect_hexo(site: Path, log: str, started: float, finished: float) -> dict:
    """Expectations from a Hexo build: public/ pages, atom/rss2 feeds and db.json.

    ``started`` and ``finished`` bound the copy and the build: a post dated between them
    has no date of its own and got its file's birth time, the time of this build's copy.
    """
    public = site / "public"
    records = page_records(public)
    index = next(r for r in records if r["layout"] == "index" and r["file"] == "index.html")
    # Hexo's own list of published posts (site.posts), as the theme's index page wrote it:
    # complete even when two posts share one URL and so one page.
    listed = {p["source"]: p for p in index["site_posts"]}
    feeds = feeds_in(public)
    # Atom has more to say (updated, categories with their pages); RSS when it is the only one.
    ranked = sorted(feeds.values(), key=lambda f: f["format"] != "atom")
    main_feed = ranked[0] if ranked else None
    # A URL may be shared (hexo-abbrlink in hex gives equal titles equal links): the
    # publication instant tells such entries apart.
    entry_of = (
        {(e["url"], _epoch(e["published"])): e for e in main_feed["entries"]} if main_feed else {}
    )
    db = json.loads((site / "db.json").read_text(encoding="utf-8"))["models"]
    db_posts = {p["source"]: p for p in db["Post"]}
    # Hexo names a post it could not read (bad YAML) and builds the others.
    failed = set(re.findall(r"Process failed: (\S.*?)\s*$", plain(log), re.M))

    categories = _listing_pages(records, "category")
    tags = _listing_pages(records, "tag")
    posts: dict[str, dict] = {}
    source_of: dict[tuple[str, str], str] = {}
    for source in post_files(site / "source", ("_posts", "_drafts")):
        key = f"source/{source}"
        post = listed.get(source)
        if post is None:
            reason = (
                "unreadable" if source in failed else _hexo_reason(source, db_posts.get(source))
            )
            posts[key] = {"published": False, "reason": reason}
            continue
        entry = entry_of.get((post["permalink"], _epoch(post["date"])))
        source_of[(post["permalink"], post["date"])] = key
        posts[key] = {
            "published": True,
            "url": post["permalink"],
            "path": post["path"],
            "slug": post["slug"],
            "title": entry["title"] if entry else post["title"],
            "date": entry["published"] if entry else post["date"],
            "updated": entry.get("updated", post["updated"]) if entry else post["updated"],
            "categories": [_term(c) for c in post["categories"]],
            "tags": [_term(t) for t in post["tags"]],
            "in_feed": entry is not None,
            "assets": _assets(public, post, index["url"]),
        }
        if started - 1 <= _epoch(post["date"]) <= finished + 1:
            posts[key]["date"] = None
            posts[key]["date_source"] = "birthtime"
        if entry is not None and main_feed and main_feed["format"] == "atom":
            _check_same(key, entry, post)
        if entry is not None:
            posts[key]["content"] = entry["content"]
            posts[key]["summary"] = entry["summary"]
            sections = tag_sections(entry["content"])
            if sections:
                posts[key]["tag_sections"] = sections
    shared = _shared_urls(posts)
    undated = {key for key, post in posts.items() if post.get("date_source") == "birthtime"}
    memberships = _hexo_memberships(feeds, source_of)
    for listing in [*memberships.values(), *categories.values(), *tags.values()]:
        listing["posts"] = _steady(listing["posts"], undated)
    non_posts = sorted(
        f"source/{r['source']}" for r in records if r["layout"] == "page" and "source" in r
    )
    return {
        "site": {
            "base_url": main_feed["alternate"] if main_feed else index["url"],
            "title": index["title"],
            "language": index["lang"],
            "subtitle": main_feed["subtitle"] if main_feed else None,
            "author": main_feed["author"] if main_feed else None,
            "published_dir": "public",
            "feeds": sorted(feeds),
            "category_pages": categories,
            "tag_pages": tags,
        },
        "feeds": memberships,
        "posts": posts,
        "shared_urls": shared,
        "non_posts": non_posts,
        "log": log_lines(log),
    }


def _epoch(instant: str) -> float:
    return datetime.fromisoformat(instant).timestamp()


def _hexo_memberships(feeds: dict[str, dict], source_of: dict[tuple[str, str], str]) -> dict:
    """Each feed's entries as source paths; RSS gives its dates as RFC 2822 text."""
    by_url_instant = {(url, _epoch(date)): key for (url, date), key in source_of.items()}
    out = {}
    for name, feed in feeds.items():
        keys = []
        for entry in feed["entries"]:
            when = _epoch(entry["published"])
            keys.append(by_url_instant.get((entry["url"], when), entry["url"]))
        out[name] = {
            "format": feed["format"],
            "url": feed["self"],
            "title": feed["title"],
            "posts": keys,
        }
    return out


def _steady(order: list[str], undated: set[str]) -> list[str]:
    """The generator's order, but posts dated by their copy's birth time in name order.

    Their birth times, and so their order among themselves, change from one build to the next.
    """
    names = iter(sorted(key for key in order if key in undated))
    return [next(names) if key in undated else key for key in order]


def _shared_urls(posts: dict[str, dict]) -> dict[str, list[str]]:
    """URLs that the generator gave to more than one post (their pages overwrite each other)."""
    by_url: dict[str, list[str]] = {}
    for key, post in posts.items():
        if post["published"]:
            by_url.setdefault(post["url"], []).append(key)
    return {url: keys for url, keys in by_url.items() if len(keys) > 1}


def _hexo_reason(source: str, db_post: dict | None) -> str:
    if source.startswith("_drafts/"):
        return "draft"
    if db_post is not None and not db_post.get("published", True):
        return "published: false"
    return "future"


def _term(record: dict) -> dict:
    return {"name": record["name"], "slug": record["slug"], "url": record["permalink"]}


def _assets(public: Path, post: dict, site_url: str) -> list[str]:
    """URLs of the files that the build put into the post's asset folder.

    Hexo writes a post's assets to its path without a trailing .html (hexo#2134).
    """
    folder = re.sub(r"\.html?$", "", post["path"]).strip("/")
    where = public / folder
    if not where.is_dir():
        return []
    return sorted(
        f"{site_url.rstrip('/')}/{quote(f'{folder}/{p.name}')}"
        for p in where.iterdir()
        if p.is_file() and p.name != "index.html"
    )


def _check_same(key: str, entry: dict, post: dict) -> None:
    """The feed and Hexo's post list must agree, or this script reads one of them wrongly."""
    terms = [c["name"] for c in post["categories"]] + [t["name"] for t in post["tags"]]
    if [c["term"] for c in entry["categories"]] != terms:
        raise AssertionError(f"{key}: feed categories {entry['categories']} but page {terms}")
    if entry["title"] != post["title"]:
        raise AssertionError(f"{key}: feed title {entry['title']!r} but Hexo {post['title']!r}")


def _listing_pages(records: list[dict], layout: str) -> dict:
    """Category or tag pages: their file in the published folder and the posts they list."""
    out = {}
    for record in records:
        if record["layout"] == layout:
            name = record[layout]
            out[record["file"]] = {
                "name": name,
                "posts": [f"source/{s}" for s in record["posts"]],
            }
    return out
