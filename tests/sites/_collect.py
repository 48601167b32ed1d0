"""Read a generator's output back into the expectation records of regenerate.py.

Values come from the feeds the generator wrote and from the JSON that the fixture sites'
own layouts put into every generated page (Hexo theme ``mini``, Jekyll ``_layouts``).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
PAGE_DATA = re.compile(
    r'<script type="application/json" id="(?:hexo|jekyll)-page">(.*?)</script>', re.S
)
SECTION = re.compile(r"<h2\b[^>]*>(.*?)</h2>", re.S)
POST_SUFFIXES = {".md", ".markdown", ".html"}


def page_records(published: Path) -> list[dict]:
    """The JSON record of every generated HTML page, with the page's file path added."""
    records = []
    for page in sorted(published.rglob("*.html")):
        match = PAGE_DATA.search(page.read_text(encoding="utf-8"))
        if match:
            record = json.loads(match.group(1))
            record["file"] = page.relative_to(published).as_posix()
            records.append(record)
    return records


def read_feed(path: Path) -> dict:
    """A feed file as the generator wrote it: kind, self link, and its entries in order."""
    root = ET.parse(path).getroot()
    if root.tag == f"{ATOM}feed":
        return _read_atom(root)
    if root.tag == "rss":
        return _read_rss(root)
    raise ValueError(f"{path} is not a feed")


def _read_atom(root: ET.Element) -> dict:
    links = root.findall(f"{ATOM}link")
    self_link = next((x.get("href") for x in links if x.get("rel") == "self"), None)
    alternate = next((x.get("href") for x in links if x.get("rel") in (None, "alternate")), None)
    entries = []
    for entry in root.findall(f"{ATOM}entry"):
        link = entry.find(f"{ATOM}link[@rel='alternate']")
        if link is None:
            link = entry.find(f"{ATOM}link")
        content = entry.find(f"{ATOM}content")
        author = entry.find(f"{ATOM}author/{ATOM}name")
        entries.append(
            {
                "url": link.get("href") if link is not None else None,
                "id": _text(entry, f"{ATOM}id"),
                "title": _text(entry, f"{ATOM}title"),
                "published": _text(entry, f"{ATOM}published"),
                "updated": _text(entry, f"{ATOM}updated"),
                "categories": [
                    {"term": c.get("term"), "scheme": c.get("scheme")}
                    for c in entry.findall(f"{ATOM}category")
                ],
                "content": content.text if content is not None else None,
                "summary": _text(entry, f"{ATOM}summary"),
                "author": author.text if author is not None else None,
            }
        )
    return {
        "format": "atom",
        "language": root.get("{http://www.w3.org/XML/1998/namespace}lang"),
        "self": self_link,
        "alternate": alternate,
        "title": _text(root, f"{ATOM}title"),
        "subtitle": _text(root, f"{ATOM}subtitle"),
        "author": _text(root, f"{ATOM}author/{ATOM}name"),
        "entries": entries,
    }


def _read_rss(root: ET.Element) -> dict:
    channel = root.find("channel")
    assert channel is not None
    self_link = next(
        (x.get("href") for x in channel.findall(f"{ATOM}link") if x.get("rel") == "self"), None
    )
    entries = []
    for item in channel.findall("item"):
        pub_date = _text(item, "pubDate")
        entries.append(
            {
                "url": _text(item, "link"),
                "title": _text(item, "title"),
                "pubDate": pub_date,
                "published": parsedate_to_datetime(pub_date).isoformat() if pub_date else None,
                "categories": [c.text for c in item.findall("category")],
                "content": _text(item, CONTENT),
                "summary": _text(item, "description"),
            }
        )
    return {
        "format": "rss",
        "self": self_link,
        "alternate": _text(channel, "link"),
        "title": _text(channel, "title"),
        "subtitle": _text(channel, "description"),
        "author": None,
        "language": _text(channel, "language"),
        "entries": entries,
    }


def _text(element: ET.Element, tag: str) -> str | None:
    found = element.find(tag)
    return found.text if found is not None else None


def feeds_in(published: Path) -> dict[str, dict]:
    """Every feed file of the published folder, by its path there."""
    feeds = {}
    for path in sorted(published.rglob("*.xml")):
        try:
            feeds[path.relative_to(published).as_posix()] = read_feed(path)
        except (ET.ParseError, ValueError):
            continue
    return feeds


def tag_sections(html: str | None) -> dict[str, str]:
    """A post's HTML cut at its <h2> headings: the fixture posts hold one template tag a section."""
    if not html:
        return {}
    parts = SECTION.split(html)
    sections = {}
    for i in range(1, len(parts) - 1, 2):
        heading = re.sub(r"<[^>]+>", "", parts[i]).strip()
        sections[heading] = parts[i + 1].strip()
    return sections


def post_files(root: Path, folders: tuple[str, ...]) -> list[str]:
    """Post files under the given folders of root, as paths relative to root."""
    found = []
    for folder in folders:
        for path in sorted((root / folder).rglob("*")) if (root / folder).is_dir() else []:
            if path.is_file() and path.suffix in POST_SUFFIXES:
                found.append(path.relative_to(root).as_posix())
    return found


def feed_memberships(feeds: dict[str, dict], source_of: dict[str, str]) -> dict[str, dict]:
    """Each feed's URL, format and its entries as source paths, in the generator's order."""
    out = {}
    for name, feed in feeds.items():
        out[name] = {
            "format": feed["format"],
            "url": feed["self"],
            "title": feed["title"],
            "posts": [source_of.get(entry["url"], entry["url"]) for entry in feed["entries"]],
        }
    return out


def collect_hexo(site: Path, log: str) -> dict:
    """Expectations from a Hexo build: public/ pages, atom/rss2 feeds and db.json."""
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

    posts: dict[str, dict] = {}
    source_of: dict[tuple[str, str], str] = {}
    for source in post_files(site / "source", ("_posts", "_drafts")):
        key = f"source/{source}"
        post = listed.get(source)
        if post is None:
            posts[key] = {"published": False, "reason": _hexo_reason(source, db_posts.get(source))}
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
        if entry is not None and main_feed and main_feed["format"] == "atom":
            _check_same(key, entry, post)
        if entry is not None:
            posts[key]["content"] = entry["content"]
            posts[key]["summary"] = entry["summary"]
            sections = tag_sections(entry["content"])
            if sections:
                posts[key]["tag_sections"] = sections
    shared = _shared_urls(posts)
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
            "category_pages": _listing_pages(records, "category"),
            "tag_pages": _listing_pages(records, "tag"),
        },
        "feeds": _hexo_memberships(feeds, source_of),
        "posts": posts,
        "shared_urls": shared,
        "non_posts": non_posts,
        "log": _log_lines(log),
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


def _check_same(key: str, entry: dict, page: dict) -> None:
    """The feed and the post's own page must agree, or this script reads one of them wrongly."""
    terms = [c["name"] for c in page["categories"]] + [t["name"] for t in page["tags"]]
    if [c["term"] for c in entry["categories"]] != terms:
        raise AssertionError(f"{key}: feed categories {entry['categories']} but page {terms}")
    if entry["title"] != page["title"]:
        raise AssertionError(f"{key}: feed title {entry['title']!r} but page {page['title']!r}")


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


def _log_lines(log: str) -> list[str]:
    """The generator's warnings, without colour codes (its INFO lines are left out)."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", log)
    return [line.strip() for line in plain.splitlines() if re.match(r"\s*(WARN|ERROR)", line)]


def collect_jekyll(site: Path, log: str, future: set[str]) -> dict:
    """Expectations from a Jekyll build: _site/ pages and jekyll-feed's feeds.

    ``future`` holds the posts that a second build with ``--future`` published.
    """
    published = site / "_site"
    records = page_records(published)
    index = next(r for r in records if r["layout"] == "index")
    listed = {p["path"]: p for p in index["posts"]}
    feeds = feeds_in(published)
    main_feed = next(f for f in feeds.values() if f["format"] == "atom")
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
        "log": _log_lines(log),
    }


def jekyll_listed(site: Path) -> set[str]:
    """The posts a Jekyll build published, from the index page its layouts wrote."""
    index = next(r for r in page_records(site) if r["layout"] == "index")
    return {p["path"] for p in index["posts"]}


def _jekyll_reason(path: str, future: set[str]) -> str:
    if "_drafts" in path.split("/"):
        return "draft"
    return "future" if path in future else "published: false"
