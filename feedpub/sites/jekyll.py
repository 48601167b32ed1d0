"""A Jekyll 4 site: `_config.yml`, `_posts/` (also below other folders), as Jekyll builds it.

Jekyll's rules, as its Document and URL classes apply them:

- Only files named `YYYY-MM-DD-slug.ext` in a `_posts` folder are posts; the folders
  above `_posts` are categories, joined by the front matter's `categories` (a string
  is split on spaces) and `category`; front-matter `defaults` apply by path and type.
- `:title` is the file's slug (or the front matter's `slug`) in Jekyll's "pretty"
  slugify, case kept; `:slug` the default slugify; dates are in `timezone`.
- A post without `title` is titled from its slug ("version-3-released" → "Version 3 Released").
- `permalink` is a style (`date`, `pretty`, `ordinal`, `weekdate`, `none`) or a template;
  `collections.posts.permalink` and a post's own `permalink` win.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..dates import DateError
from ..errors import ConfigError
from ..formats import Format
from ..urls import site_url
from . import tags
from .base import (
    POST_SUFFIXES,
    CategoryPaths,
    DateSource,
    PostFacts,
    Site,
    Warn,
    feed_file,
    mapping,
    name_of,
    read_site_config,
    text,
)
from .clock import jekyll_date, zone_or_machine

if TYPE_CHECKING:
    from .tags import TagWarn
from .slugs import jekyll_slugify
from .smartify import smartify

STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
_DATED = re.compile(r"^(\d{2,4}-\d{1,2}-\d{1,2})-([^/]*)(\.[^.]+)$")
_EXCLUDED = (
    ".sass-cache", ".jekyll-cache", "gemfiles", "Gemfile", "Gemfile.lock", "node_modules",
    "vendor/bundle", "vendor/cache", "vendor/gems", "vendor/ruby",
)  # fmt: skip
_TOKEN = re.compile(r":([a-z_]+)")
_DATE_FORMATS = {
    "year": "%Y", "month": "%m", "day": "%d", "hour": "%H", "minute": "%M", "second": "%S",
    "short_month": "%b", "long_month": "%B", "short_year": "%y", "w_year": "%G", "week": "%V",
    "w_day": "%u", "short_day": "%a", "long_day": "%A", "y_day": "%j",
}  # fmt: skip
"""Jekyll's date tokens, as strftime writes them; and `i_day` and `i_month`, without a zero."""
_DATE_TOKENS = frozenset({*_DATE_FORMATS, "i_day", "i_month"})


@functools.cache
def _tokens_in(permalink: str) -> frozenset[str]:
    """The names a permalink's tokens may be looked up by (`:title_` is `title`'s too)."""
    names = _TOKEN.findall(permalink)
    return frozenset((*names, *(name[:-1] for name in names if name.endswith("_"))))


def _exclusions(excluded: tuple[str, ...]) -> tuple[frozenset[str], re.Pattern[str]]:
    """Jekyll's `exclude` (and what it always excludes): the names as they are, and one
    pattern matching a path as `fnmatch` matches any of them (made once with the site:
    `JekyllSite.skipped`; keep asks it of every file)."""
    names = (*_EXCLUDED, *excluded)
    return frozenset(names), re.compile("|".join(map(fnmatch.translate, names)))


@dataclass(frozen=True, slots=True)
class JekyllSite(Site):
    kind = "Jekyll"

    skipped: tuple[frozenset[str], re.Pattern[str], str] = field(
        init=False, repr=False, compare=False
    )
    """What Jekyll never reads: `exclude`'s names and one pattern of them (`_exclusions`), and
    `destination`, made once: `keep` asks them of every file."""

    def __post_init__(self) -> None:
        listed = self.get("exclude", [])
        if isinstance(listed, str):  # Jekyll reads a text as comma-separated values
            listed = [part.strip() for part in listed.split(",")]
        elif not isinstance(listed, list):  # (where Jekyll stops, one entry)
            listed = [listed]
        excluded = tuple(text(e).strip("/") for e in listed if text(e))
        destination = text(self.get("destination", "_site"), "_site").strip("/")
        object.__setattr__(self, "skipped", (*_exclusions(excluded), destination))

    @classmethod
    def load(cls, root: Path, settings: dict[str, Any] | None = None) -> JekyllSite:
        """The site at `root`, from its `_config.yml` (`settings`, if already read)."""
        settings = read_site_config(root / "_config.yml") if settings is None else settings
        try:
            zone = zone_or_machine(settings.get("timezone"))
        except DateError as e:
            raise ConfigError(f"{root / '_config.yml'}: {e}") from None
        return cls(root, settings, zone)

    def get(self, key: str, default: Any) -> Any:
        value = self.settings.get(key)
        return default if value is None else value

    @property
    def base_url(self) -> str:
        url = text(self.get("url", "")).rstrip("/") or "http://localhost:4000"
        baseurl = text(self.get("baseurl", "")).strip("/")
        return f"{url}/{baseurl}/" if baseurl else f"{url}/"

    @property
    def permalink(self) -> str:
        collection = mapping(mapping(self.get("collections", {})).get("posts"))
        rule = text(collection.get("permalink")) or text(self.get("permalink", "date")) or "date"
        return STYLES.get(rule, rule)

    @property
    def source(self) -> Path:
        return self.root / text(self.get("source", "."), ".")

    def feed_files(self) -> dict[Format, str]:
        # jekyll-feed writes one Atom feed, at its `path`.
        feed = mapping(self.settings.get("feed"))
        return {Format.ATOM: feed_file(self, feed.get("path"), "feed.xml")}

    def _feed_categories(self) -> list[str]:
        """jekyll-feed's categories with feeds: `feed.collections.posts.categories`, else
        `feed.categories` (empty: feedpub's feed for every category)."""
        feed = mapping(self.settings.get("feed"))
        posts = mapping(mapping(feed.get("collections")).get("posts"))
        listed = posts.get("categories") or feed.get("categories")
        listed = [listed] if isinstance(listed, str) else listed
        return [text(c) for c in listed if text(c)] if isinstance(listed, list) else []

    def keeps_category_feed(self, node: tuple[str, ...]) -> bool:
        listed = self._feed_categories()
        return not listed or node[0] in listed

    def category_feed_files(self, node: tuple[str, ...]) -> dict[Format, str]:
        listed = self._feed_categories()
        if node[0] not in listed:
            return {}
        file = f"feed/{node[0]}.xml"
        earlier = listed[: listed.index(node[0])]
        if any(c.casefold() == node[0].casefold() for c in earlier) or any(
            part in ("", ".", "..") for part in file.split("/")
        ):
            return {}  # one file on a case-blind disk, or no file: feedpub's names then
        return {Format.ATOM: file}

    def describe(self) -> str:
        return f"Jekyll site at {self.root}: {self.base_url}, permalink {self.permalink}"

    def config_values(self) -> dict[str, Any]:
        feed = mapping(self.settings.get("feed"))
        values: dict[str, Any] = {
            "title": text(self.get("title", "")) or text(self.get("name", "")) or "Jekyll",
            "description": text(self.get("description", "")),
            "base_url": self.base_url,
            "language": text(self.get("lang", "en"), "en") or "en",
            "author": name_of(self.get("author", "")),
            "timezone": str(self.zone),
            "posts": str(self.source),
            "static": str(self.source),
            "output": str(self.root / text(self.get("destination", "_site"), "_site")),
            "categories": "flat",
        }
        if isinstance(feed.get("posts_limit"), int) and feed["posts_limit"] > 0:
            values["limit"] = feed["posts_limit"]
        if feed.get("excerpt_only") is True:
            values["content"] = "summary"
        return values

    def publishes_future(self) -> bool:
        return self.get("future", False) is True

    # --- which files are posts --------------------------------------------------------

    def keep(self, rel: str, folder: bool) -> bool:
        name = posixpath.basename(rel)
        literal, pattern, destination = self.skipped
        if rel in literal or rel == destination or pattern.match(rel):
            return False
        if folder:
            return (
                not name.startswith(("_", "."))
                or name in ("_posts", "_drafts")
                or "/_posts/" in f"/{rel}/"
            )
        parts = rel.split("/")
        if "_posts" not in parts[:-1] and "_drafts" not in parts[:-1]:
            return False
        if not name.lower().endswith(POST_SUFFIXES):
            return False
        return "_drafts" in parts[:-1] or bool(_DATED.match(name))

    def item_title(self, title: str) -> str:
        return smartify(title)  # jekyll-feed: {{ post.title | smartify }}

    def unpublished(self, rel: str, meta: Mapping[str, Any]) -> bool:
        if "_drafts" in rel.split("/")[:-1] and self.get("show_drafts", False) is not True:
            return True
        return meta.get("published") is False and self.get("unpublished", False) is not True

    # --- front matter -----------------------------------------------------------------

    def defaults_for(self, rel: str) -> dict[str, Any]:
        """The `defaults` whose scope covers this post, the most specific last."""
        found: list[tuple[int, int, int, dict[str, Any]]] = []
        for index, entry in enumerate(self.get("defaults", []) or []):
            if not isinstance(entry, Mapping):
                continue
            scope = mapping(entry.get("scope"))
            path = text(scope.get("path")).strip("/")
            kind = text(scope.get("type"))
            if kind and kind not in ("posts", "drafts" if "_drafts/" in rel else "posts"):
                continue
            if path and not (
                rel == path or rel.startswith(path + "/") or fnmatch.fnmatch(rel, path + "*")
            ):
                continue
            found.append(
                (
                    len(path.split("/")) if path else 0,
                    1 if kind else 0,
                    index,
                    mapping(entry.get("values")),
                )
            )
        merged: dict[str, Any] = {}
        for *_, values in sorted(found, key=lambda f: f[:3]):
            merged.update(values)
        return merged

    def post_facts(self, rel: str, meta: dict[str, Any], saved: dt.datetime) -> PostFacts:
        defaults = self.defaults_for(rel)
        folder_categories = self._folder_categories(rel)
        categories = list(folder_categories)
        for source in (defaults, meta):
            value = source.get("categories")
            if isinstance(value, str):
                value = value.split()
            if isinstance(value, list):
                categories += [v for v in value if v not in categories]
        meta = {**defaults, **meta}
        single = meta.get("category")
        if single is not None:
            categories += single if isinstance(single, list) else [single]
        names = list(dict.fromkeys(text(c) if not isinstance(c, list) else "" for c in categories))
        meta["categories"] = [n for n in names if n]
        meta.pop("category", None)
        tags_value = meta.get("tags", meta.get("tag"))
        meta["tags"] = tags_value.split() if isinstance(tags_value, str) else tags_value
        name = posixpath.basename(rel)
        dated = _DATED.match(name)
        slug = (dated.group(2) if dated else posixpath.splitext(name)[0]).rstrip(".")
        if "title" not in meta or meta["title"] is None:
            meta["title"] = " ".join(w.capitalize() for w in slug.split("-"))
        date, origin = self._date(meta.get("date"), dated, saved)
        if origin is DateSource.MODIFIED and "_drafts" in rel.split("/")[:-1]:
            origin = DateSource.DRAFT  # Jekyll dates every draft by its file: no warning
        return PostFacts(meta, slug, date, origin)

    def _folder_categories(self, rel: str) -> list[str]:
        parts = rel.split("/")[:-1]
        for special in ("_posts", "_drafts"):
            if special in parts:
                return [p for p in parts[: parts.index(special)] if p]
        return []

    def _date(
        self, value: object, dated: re.Match[str] | None, saved: dt.datetime
    ) -> tuple[dt.datetime, DateSource]:
        if value not in (None, ""):
            try:
                return jekyll_date(value, self.zone), DateSource.FRONT_MATTER
            except DateError:
                pass  # Jekyll stops the build here; feedpub falls back and warns
        if dated:
            try:
                return jekyll_date(dated.group(1), self.zone), DateSource.FILE_NAME
            except DateError:
                pass
        return saved.astimezone(self.zone), DateSource.MODIFIED

    # --- URLs -------------------------------------------------------------------------

    def post_url(self, rel: str, facts: PostFacts, categories: CategoryPaths, warn: Warn) -> str:
        # :categories are the generator's own (its folders, defaults and front matter)
        own = facts.front_matter.get("permalink")
        rule = own if isinstance(own, str) and own else self.permalink
        values = self._tokens(rel, facts, _tokens_in(rule))
        unknown: list[str] = []

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            for key in (name, name[:-1]) if name.endswith("_") else (name,):
                if key in values:
                    return values[key] + ("_" if key != name else "")
            unknown.append(name)
            return ""

        path = _TOKEN.sub(replace, rule)
        if unknown:
            warn(f"permalink tokens Jekyll does not know: {', '.join(':' + t for t in unknown)}")
        path = ("/" + path).replace("..", "/").replace("./", "")
        path = re.sub("/{2,}", "/", path)
        return site_url(self.base_url, path)

    def _tokens(self, rel: str, facts: PostFacts, wanted: frozenset[str]) -> dict[str, str]:
        """Jekyll's values of the tokens in `wanted` (the others are not made: slugs and
        dates of every kind were most of reading a post in a Jekyll site)."""
        meta = facts.front_matter
        slug = text(meta.get("slug")) or facts.slug
        categories = [text(c) for c in meta.get("categories") or []]
        values = {
            "collection": "posts",
            "categories": "/".join(dict.fromkeys(c.lower() for c in categories)),
            "output_ext": ".html",
            "path": posixpath.splitext(rel)[0].replace("_posts", "", 1).rstrip("."),
        }
        if "name" in wanted:
            values["name"] = jekyll_slugify(posixpath.splitext(posixpath.basename(rel))[0])
        if "title" in wanted:
            values["title"] = jekyll_slugify(slug, "pretty", cased=True)
        if "slug" in wanted:
            values["slug"] = jekyll_slugify(slug)
        if "slugified_categories" in wanted:
            values["slugified_categories"] = "/".join(
                dict.fromkeys(jekyll_slugify(c) for c in categories)
            )
        if not _DATE_TOKENS.isdisjoint(wanted):
            date = facts.date.astimezone(self.zone)
            values.update((n, date.strftime(f)) for n, f in _DATE_FORMATS.items() if n in wanted)
            values.update(i_day=str(date.day), i_month=str(date.month))
        return values

    def render_body(
        self, body: str, rel: str, url: str, title: str, warn: TagWarn | None = None
    ) -> str:
        body = tags.render_jekyll(body, tags.Context(self, rel, url, url, title), warn)
        separator = self.get("excerpt_separator", "\n\n")
        if isinstance(separator, str) and separator and separator in body.strip("\n"):
            head, rest = body.strip("\n").split(separator, 1)
            body = f"{head}\n\n<!-- more -->\n\n{rest}"
        return body
