"""Expectations from a Jekyll build: its _site/ folder and jekyll-feed's feeds."""

from __future__ import annotations

from pathlib import Path

from _output import POST_SUFFIXES, feed_memberships, feeds_in, log_lines, page_records, tag_sections


def collect_jekyll(site: Path, log: str, future: set[str]) -> dict:
    """Expectations from a Jekyll build: _site/ pages and jekyll-feed's feeds.

    ``future`` holds the posts that a second build with ``--future`` published.
    """
    published = site / "_site"
    records = page_records(published)
    index = next(r for r in records if r["layout"] == "index")
    listed = {p["path"]: p for p in index["posts"]}
    feeds = feeds_in(published)
    # jekyll-feed writes the site's feed at `feed.path` and the others under feed/.
    main_feed = next(f for name, f in feeds.items() if not name.startswith("feed/"))
    entry_of = {e["url"]: e for feed in feeds.values() for e in feed["entries"]}
    category_feeds = {
        name.removeprefix("feed/").removesuffix(".xml"): feed["self"]
        for name, feed in feeds.items()
        if name.startswith("feed/") and name.count("/") == 1
    }
    tag_feeds = {
        name.removeprefix("feed/by_tag/").removesuffix(".xml"): feed["self"]
        for name, feed in feeds.items()
        if name.startswith("feed/by_tag/")
    }
    candidates = [
        p.relative_to(site).as_posix()
        for p in sorted(site.rglob("*"))
        if p.is_file()
        and p.suffix in POST_SUFFIXES
        and {"_posts", "_drafts"} & set(p.relative_to(site).parts[:-1])
        and "_site" not in p.relative_to(site).parts
    ]
    posts: dict[str, dict] = {}
    source_of: dict[str, str] = {}
    for path in candidates:
        post = listed.get(path)
        if post is None:
            posts[path] = {"published": False, "reason": _jekyll_reason(path, future)}
            continue
        source_of[post["url"]] = path
        entry = entry_of.get(post["url"])
        record = {
            "published": True,
            "url": post["url"],
            "id": post["id"],
            "slug": post["slug"],
            "title": post["title"],
            "feed_title": entry["title"] if entry else None,
            "date": entry["published"] if entry else post["date"],
            "updated": entry["updated"] if entry else post["date"],
            "categories": [{"name": c, "feed": category_feeds.get(c)} for c in post["categories"]],
            "tags": [{"name": t, "feed": tag_feeds.get(t)} for t in post["tags"]],
            "author": entry["author"] if entry else None,
            "in_feed": entry is not None,
        }
        if entry is not None:
            record["content"] = entry["content"]
            record["summary"] = entry["summary"]
            record["feed_categories"] = [c["term"] for c in entry["categories"]]
            sections = tag_sections(entry["content"])
            if sections:
                record["tag_sections"] = sections
        posts[path] = record
    non_posts = sorted(r["path"] for r in records if r["layout"] == "page")
    return {
        "site": {
            "base_url": index["url"],
            "title": index["title"],
            "feed_title": main_feed["title"],
            "language": index["lang"],
            "subtitle": main_feed["subtitle"],
            "author": main_feed["author"],
            "timezone": index["timezone"],
            "published_dir": "_site",
            "feeds": sorted(feeds),
            "categories": index["categories"],
            "tags": index["tags"],
        },
        "feeds": feed_memberships(feeds, source_of),
        "posts": posts,
        "non_posts": non_posts,
        "log": log_lines(log),
    }


def jekyll_listed(site: Path) -> set[str]:
    """The posts a Jekyll build published, from the index page its layouts wrote."""
    index = next(r for r in page_records(site) if r["layout"] == "index")
    return {p["path"] for p in index["posts"]}


def _jekyll_reason(path: str, future: set[str]) -> str:
    if "_drafts" in path.split("/"):
        return "draft"
    return "future" if path in future else "published: false"
