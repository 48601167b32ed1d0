"""The site's other posts by the names tags use for them (`post_link`, `post_url`, `link`)."""

from __future__ import annotations

import datetime as dt
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from ..front_matter import FrontMatterError, split
from ..scanning import find_posts
from .base import Site


@dataclass(frozen=True, slots=True)
class PostLink:
    """Another post of the site, as a tag that names it links to it."""

    title: str
    url: str


def index_posts(site: Site) -> dict[str, PostLink]:
    """Every post of the site that can be read, by each name a tag may give it."""
    root = Path(site.config_values()["posts"])
    files, _ = find_posts(root, keep=site.keep)
    index: dict[str, PostLink] = {}
    for file in files:
        try:
            with open(os.path.join(root, file.rel), encoding="utf-8-sig") as f:
                meta = split(f.read()).metadata
        except (OSError, UnicodeDecodeError, FrontMatterError):
            continue
        saved = dt.datetime.fromtimestamp(file.mtime_ns / 1e9, dt.UTC)
        facts = site.post_facts(file.rel, meta, saved)
        url = site.post_url(file.rel, facts, (), lambda message: None)
        title = facts.front_matter.get("title")
        entry = PostLink(title if isinstance(title, str) else "", url)
        stem = posixpath.splitext(file.rel)[0]
        names = [file.rel, stem, posixpath.basename(stem), stem.partition("/")[2], facts.slug]
        for name in names:
            index.setdefault(name, entry)
        if isinstance(title, str):
            index.setdefault(title, entry)
    return index
