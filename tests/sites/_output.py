"""Reading a generator's output: its feeds, and the JSON in its pages.

The fixture sites' own layouts (Hexo theme ``mini``, Jekyll ``_layouts``) put what the
generator knows about each page into the page as JSON; the feeds are read as written.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from email.utils import parsedate_to_datetime
from pathlib import Path

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


def plain(log: str) -> str:
    """A generator's log without its colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", log)


def log_lines(log: str) -> list[str]:
    """The generator's warnings and errors (its INFO lines are left out)."""
    return [line.strip() for line in plain(log).splitlines() if re.match(r"\s*(WARN|ERROR)", line)]
