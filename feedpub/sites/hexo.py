"""A Hexo 8 site: `_config.yml`, `source/_posts/`, URLs and dates as Hexo gives them.

Hexo's rules, as its post processor and permalink filter apply them:

- `:title` is the post's path under `_posts/` without its extension, after
  `new_post_name` is matched against it (`:year-:month-:day-:title.md` takes the date
  out); a front-matter `slug` does not change it. A path the pattern does not match
  gets Hexo's slugize of the whole path.
- Dates: the front matter's `date`, else the date in the file name, else the file's
  time; wall clocks are in the machine's zone, moved into `timezone` when it is set.
  The permalink's date tokens are written in the machine's zone, as Hexo does.
- Any token that is not built in comes from the front-matter field of that name, then
  `permalink_defaults`; `:abbrlink` is computed as hexo-abbrlink does when a post has none.
- Category pages are `category_dir/<slug>/<slug>/`, slugs by `category_map` and
  slugize with `filename_case`.
"""

from __future__ import annotations

import datetime as dt
import functools
import posixpath
import re
from collections.abc import Container, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from ..dates import DateError
from ..formats import Format
from ..scanning import PostNames
from ..urls import site_url
from . import hexo_tags, tags
from .abbrlink import abbrlink
from .base import (
    POST_SUFFIXES,
    CategoryPaths,
    DateSource,
    PostFacts,
    Site,
    Warn,
    feed_file,
    fill,
    mapping,
    name_of,
    read_site_config,
    text,
)
from .clock import UTC, birth_time, hexo_date, relocate, zone_or_machine

if TYPE_CHECKING:
    from .tags import TagWarn
from .slugs import hexo_slugize

_FEED_TYPES = {"atom": Format.ATOM, "rss2": Format.RSS}
"""hexo-generator-feed's `type` names."""

POSTS = "_posts/"
DRAFTS = "_drafts/"
# Segments Hexo's new_post_name parser gives fixed shapes; the rest match anything.
_SEGMENTS = {
    "year": r"(\d{4})", "month": r"(\d{2})", "day": r"(\d{2})", "i_month": r"(\d{1,2})",
    "i_day": r"(\d{1,2})", "hash": r"([0-9a-f]{12})",
}  # fmt: skip
_PRESERVED = {"title", "year", "month", "day", "i_month", "i_day", "hash"}
_TOKEN = re.compile(r":(\w*[^_\W])")
_HIDDEN = re.compile(r"(^|/)[_.]")
"""A path Hexo does not read: a file or folder whose name starts with `_` or `.`."""


_DATE_TOKENS = frozenset(
    {"year", "month", "day", "hour", "minute", "second", "i_month", "i_day", "timestamp"}
)
"""Hexo's tokens of the post's date, made only for a permalink that has one of them."""
_COSTLY_TOKENS = frozenset({"post_title", "hash", "category"})
"""Hexo's own tokens made only for a permalink that has them (front matter never sets them)."""


@functools.cache
def _tokens_in(permalink: str) -> tuple[str, ...]:
    """The `:tokens` of a permalink, in order."""
    return tuple(_TOKEN.findall(permalink))


@functools.cache
def _filename_rule(new_post_name: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """What Hexo's parseFilename matches a post's path (without its extension) against for
    this `new_post_name`, and the token each of its groups is."""
    rule = posixpath.splitext(new_post_name or ":title.md")[0]
    names: list[str] = []

    def group(match: re.Match[str]) -> str:
        names.append(match.group(1))
        return _SEGMENTS.get(match.group(1), "(.+?)")

    pattern = _TOKEN.sub(group, re.escape(rule).replace(r"\:", ":"))
    return re.compile(pattern), tuple(names)


@functools.cache
def _abbrlink_in(permalink: str) -> re.Pattern[str]:
    """The URLs `permalink` makes, with the abbrlink's number as the first group."""
    parts = [re.escape(part) for part in permalink.split(":abbrlink")]
    return re.compile(
        r"(\d+)".join(_TOKEN.sub(".*?", part.replace(r"\:", ":")) for part in parts) + "$"
    )


@dataclass(frozen=True, slots=True)
class HexoSite(Site):
    machine: ZoneInfo = UTC
    """The machine's zone, which Hexo reads wall clocks in."""
    configured_zone: bool = False
    """Whether `timezone` is set (else dates stay in the machine's zone)."""

    kind = "Hexo"

    @classmethod
    def load(cls, root: Path, settings: dict[str, Any] | None = None) -> HexoSite:
        """The site at `root`, from its `_config.yml` (`settings`, if already read)."""
        settings = read_site_config(root / "_config.yml") if settings is None else settings
        machine = zone_or_machine("")
        try:
            zone = zone_or_machine(settings.get("timezone"))
        except DateError as e:
            from ..errors import ConfigError

            raise ConfigError(f"{root / '_config.yml'}: {e}") from None
        return cls(root, settings, zone, machine, bool(text(settings.get("timezone")).strip()))

    # --- configuration ---------------------------------------------------------------

    def get(self, key: str, default: Any) -> Any:
        value = self.settings.get(key)
        return default if value is None else value

    @property
    def url(self) -> str:
        return text(self.get("url", "http://example.com")).rstrip("/")

    @property
    def permalink(self) -> str:
        return (
            text(self.get("permalink", ":year/:month/:day/:title/")) or ":year/:month/:day/:title/"
        )

    @property
    def source_dir(self) -> Path:
        return self.root / text(self.get("source_dir", "source"), "source")

    def feed_settings(self) -> dict[str, Any]:
        return mapping(self.settings.get("feed"))

    def feed_files(self) -> dict[Format, str]:
        # hexo-generator-feed 3's index.js: its `type` and `path` made consistent, its way.
        feed = self.feed_settings()
        kind, path = feed.get("type"), feed.get("path")
        if isinstance(kind, list) and len(kind) >= 2:
            kinds = ["atom", "rss2"]  # it replaces any pair (its check never matches)
        elif isinstance(kind, list) and len(kind) == 1 and kind[0] in _FEED_TYPES:
            kinds = [kind[0]]
        else:
            kind = kind if isinstance(kind, str) and kind in _FEED_TYPES else "atom"
            kinds, path = [kind], [path] if isinstance(path, str) and path else []
        paths = list(path) if isinstance(path, list) else []
        paths = paths[: len(kinds)] + [f"{k}.xml" for k in kinds[len(paths) :]]
        files = {}
        for k, p in zip(kinds, paths, strict=True):
            name = feed_file(self, p, f"{k}.xml")
            files[_FEED_TYPES[k]] = name if posixpath.splitext(name)[1] else name + ".xml"
        return files

    def feed_order(self) -> tuple[str, bool]:
        # hexo-generator-feed sorts `locals.posts` by `order_by` (warehouse: "-" descends).
        order = text(self.feed_settings().get("order_by", "-date")).strip() or "-date"
        field_name = order.removeprefix("-")
        if field_name not in ("date", "updated", "title"):
            return ("date", True)
        return (field_name, order.startswith("-"))

    def summary_cut(self) -> tuple[int, str]:
        feed = self.feed_settings()
        limit = feed.get("content_limit", 140)  # hexo-generator-feed's default
        ok = isinstance(limit, int) and not isinstance(limit, bool) and limit > 0
        return (limit if ok else 140, text(feed.get("content_limit_delim", "")))

    def describe(self) -> str:
        return f"Hexo site at {self.root}: {self.url}/, permalink {self.permalink}"

    def config_values(self) -> dict[str, Any]:
        language = self.get("language", "en")
        if isinstance(language, list):
            language = language[0] if language else "en"
        feed = self.feed_settings()
        values: dict[str, Any] = {
            "title": text(self.get("title", "Hexo")) or "Hexo",
            "description": text(self.get("description", "")) or text(self.get("subtitle", "")),
            "base_url": self.url + "/",
            "language": text(language, "en") or "en",
            "author": name_of(self.get("author", "")),
            "timezone": str(self.zone),
            "posts": str(self.source_dir),
            "static": str(self.source_dir),
            "output": str(self.root / text(self.get("public_dir", "public"), "public")),
            "categories": "tree",
            "category_map": {
                str(k): str(v) for k, v in mapping(self.get("category_map", {})).items()
            },
        }
        if "limit" in feed and isinstance(feed["limit"], int):
            values["limit"] = feed["limit"] if feed["limit"] > 0 else 2**31 - 1  # 0: every post
        if feed.get("content") is False:
            values["content"] = "summary"
        kinds = feed.get("type")
        kinds = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
        formats = [_FEED_TYPES[k].value for k in kinds if k in _FEED_TYPES]
        if formats:
            values["formats"] = list(dict.fromkeys(formats))
        icon = text(feed.get("icon")).strip()
        if icon:  # full_url_for: a URL as it is, a path below the site's root
            values["icon"] = icon if re.match(r"(https?:)?//", icon) else icon.lstrip("/")
        # hexo-generator-feed's `hub` (one URL) only advertises; feedpub also pings it.
        hub = feed.get("hub")
        hubs = [hub] if isinstance(hub, str) else hub if isinstance(hub, list) else []
        hubs = [h.strip() if isinstance(h, str) else h for h in hubs]
        if any(hubs):  # anything but URLs is named by the configuration's own check
            values["hubs"] = [h for h in hubs if h]
        return values

    def publishes_future(self) -> bool:
        return self.get("future", True) is not False

    def _show_drafts(self) -> bool:
        return self.get("render_drafts", False) is True

    # --- which files are posts --------------------------------------------------------

    def keep(self, rel: str, folder: bool) -> bool:
        top, _, rest = rel.partition("/")
        if not rest:
            return folder and top + "/" in (POSTS, DRAFTS)
        if _HIDDEN.search(rest) or rest.endswith(("%", "~")):
            return False  # Hexo's hidden files, and editors' temporary files
        return folder or rest.lower().endswith(self._post_suffixes())

    def post_names(self, folder: str) -> PostNames | None:
        # (Below `_posts/` and `_drafts/`, the only folders kept, a file is kept by its name.)
        return PostNames("_.", self._post_suffixes(), ("%", "~")) if folder else None

    def _post_suffixes(self) -> tuple[str, ...]:
        if self.get("post_asset_folder", False) is True:
            wanted = posixpath.splitext(text(self.get("new_post_name", ":title.md")))[1] or ".md"
            return (wanted.lower(),)
        return POST_SUFFIXES

    def unpublished(self, rel: str, meta: Mapping[str, Any]) -> bool:
        hidden = rel.startswith(DRAFTS) or meta.get("published") is False
        return hidden and not self._show_drafts()

    # --- front matter -----------------------------------------------------------------

    def filename_info(self, rel: str) -> dict[str, str]:
        """Hexo's parseFilename: the tokens `new_post_name` finds in the post's path."""
        path = rel.split("/", 1)[1] if "/" in rel else rel
        path = posixpath.splitext(path)[0]
        pattern, names = _filename_rule(text(self.get("new_post_name", ":title.md")))
        found = pattern.fullmatch(path)
        if not found:
            return {"title": hexo_slugize(path)}
        info = dict(zip(names, found.groups(), strict=True))
        if "title" not in info:
            info["title"] = hexo_slugize(path)
        return info

    def post_facts(self, rel: str, meta: dict[str, Any], saved: dt.datetime) -> PostFacts:
        meta = dict(meta)
        info = self.filename_info(rel)
        for key, value in info.items():
            if key not in _PRESERVED:
                meta[key] = value
        if "tags" not in meta and "tag" in meta:
            meta["tags"] = meta.pop("tag")
        if "categories" not in meta and "category" in meta:
            meta["categories"] = meta.pop("category")
        date, source = self._date(meta.get("date"), info, saved)
        if source is DateSource.MODIFIED:  # Hexo's last resort is the file's birth time
            born = birth_time(self.source_dir / rel)
            if born is not None:
                date, source = born, DateSource.CREATED
        given = meta.get("updated")
        updated: dt.datetime | None
        if given not in (None, ""):
            try:
                updated = hexo_date(given, self._site_zone(), self.machine)
            except DateError:
                updated = None
        else:
            updated = saved if self.get("updated_option", "mtime") == "mtime" else None
        return PostFacts(meta, info["title"], date, source, updated)

    def _site_zone(self) -> ZoneInfo | None:
        return self.zone if self.configured_zone else None

    def _date(
        self, value: object, info: Mapping[str, str], saved: dt.datetime
    ) -> tuple[dt.datetime, DateSource]:
        if value not in (None, "", 0, False):
            try:
                return hexo_date(value, self._site_zone(), self.machine), DateSource.FRONT_MATTER
            except DateError:
                return saved, DateSource.MODIFIED  # Hexo: an unreadable date is the file's time
        month, day = info.get("month") or info.get("i_month"), info.get("day") or info.get("i_day")
        if info.get("year") and month and day:
            try:
                local = dt.datetime(int(info["year"]), int(month), int(day), tzinfo=self.machine)
            except ValueError:
                return saved, DateSource.MODIFIED
            return relocate(local, self._site_zone(), self.machine), DateSource.FILE_NAME
        return saved, DateSource.MODIFIED

    # --- URLs -------------------------------------------------------------------------

    def post_url(self, rel: str, facts: PostFacts, categories: CategoryPaths, warn: Warn) -> str:
        own = facts.front_matter.get("permalink")
        asset_folder = self.get("post_asset_folder", False) is True
        if isinstance(own, str) and own:
            path = own
        else:
            path = fill(self.permalink, self._tokens(facts, categories, warn))
        if asset_folder and not path.endswith(("/", ".html")):
            path += "/"
        path = re.sub("/{2,}", "/", "/" + path)
        pretty = mapping(self.get("pretty_urls", {}))
        if pretty.get("trailing_index") is False:
            path = re.sub(r"index\.html$", "", path)
        if pretty.get("trailing_html") is False and not path.endswith("index.html"):
            path = re.sub(r"\.html$", "", path)
        return site_url(self.url + "/", unquote(path))

    def _tokens(self, facts: PostFacts, categories: CategoryPaths, warn: Warn) -> dict[str, str]:
        meta, date, slug = facts.front_matter, facts.date, facts.slug
        title = meta.get("title")
        title_text = title if isinstance(title, str) else ""
        rule = self.permalink
        wanted = _tokens_in(rule)
        values = {
            "id": text(meta.get("id")),
            "title": slug,
            "slug": slug,
            "name": posixpath.basename(slug),
        }
        if not _DATE_TOKENS.isdisjoint(wanted):
            local = date.astimezone(self.machine)
            values.update(
                year=f"{local.year:04d}",
                month=f"{local.month:02d}",
                day=f"{local.day:02d}",
                hour=f"{local.hour:02d}",
                minute=f"{local.minute:02d}",
                second=f"{local.second:02d}",
                i_month=str(local.month),
                i_day=str(local.day),
                timestamp=str(int(date.timestamp())),
            )
        # The costly ones (most of a site's reading time), only where the permalink has them.
        if "post_title" in wanted:
            values["post_title"] = hexo_slugize(title_text, 1)
        if "hash" in wanted:
            import hashlib  # (OpenSSL: loaded only by a site whose permalink has :hash)

            stamp = slug + str(int(date.timestamp()))
            values["hash"] = hashlib.sha1(stamp.encode()).hexdigest()[:12]
        if "category" in wanted:
            values["category"] = (
                "/".join(self.category_slugs(categories[-1]))
                if categories
                else text(self.get("default_category", "uncategorized"))
            )
        for key in wanted:  # (only the permalink's: a post's other fields fill nothing)
            if key not in values and key not in _COSTLY_TOKENS and (value := text(meta.get(key))):
                values[key] = value
        for key, value in mapping(self.get("permalink_defaults", {})).items():
            values.setdefault(str(key), text(value))
        if ":abbrlink" in rule and not values.get("abbrlink"):
            options = mapping(self.settings.get("abbrlink"))
            values["abbrlink"] = abbrlink(
                title_text, text(options.get("alg"), "crc16"), text(options.get("rep"), "dec")
            )
        if ":id" in rule and not values["id"]:
            warn(
                "permalink :id: Hexo uses its database id, which only Hexo knows; give the post an `id`"
            )
        missing = [t for t in wanted if t not in values]
        if missing:
            warn(
                f"permalink tokens with no value for this post: {', '.join(':' + t for t in missing)}"
            )
        return values

    def shared_urls(
        self, url: str, sources: list[str], taken: Container[str]
    ) -> dict[str, str] | None:
        """hexo-abbrlink with `rep: dec` moves a post whose abbrlink is taken to the next free
        number, in the order Hexo reads the files (with `hex` it does not look)."""
        options = mapping(self.settings.get("abbrlink"))
        if ":abbrlink" not in self.permalink or text(options.get("rep"), "dec") != "dec":
            return None
        found = _abbrlink_in(self.permalink).search(url)
        if not found:
            return None
        value, start, end = int(found.group(1)), found.start(1), found.end(1)
        result = {}
        used: set[str] = set()  # (beside `taken`, not a copy of it: a site has many such URLs)
        for n, source in enumerate(sorted(sources)):
            candidate = url
            while n and (candidate in used or candidate in taken):
                value += 1
                candidate = url[:start] + str(value) + url[end:]
            used.add(candidate)
            result[source] = candidate
        return result

    # --- categories and bodies ---------------------------------------------------------

    def category_slugs(self, node: tuple[str, ...]) -> tuple[str, ...]:
        names = mapping(self.get("category_map", {}))
        case = self.get("filename_case", 0)
        return tuple(
            hexo_slugize(text(names.get(name)) or name, case if isinstance(case, int) else 0)
            for name in node
        )

    def category_directory(self, node: tuple[str, ...]) -> tuple[str, ...] | None:
        slugs = self.category_slugs(node)
        if not all(slugs):
            return None  # a name Hexo's slugize empties: feedpub's own safe folder instead
        folder = text(self.get("category_dir", "categories"), "categories").strip("/")
        return (*[part for part in folder.split("/") if part], *slugs)

    def code_folder(self) -> Path | None:
        return self.source_dir / text(self.get("code_dir", "downloads/code"), "downloads/code")

    def post_folder(self, rel: str) -> Path | None:
        return self.source_dir / posixpath.splitext(rel)[0]

    def asset_base(self, url: str) -> str:
        if url.endswith("/"):
            return url
        return re.sub(r"\.html?$", "", url) + "/" if self.get("post_asset_folder", False) else url

    def render_body(
        self, body: str, rel: str, url: str, title: str, warn: TagWarn | None = None
    ) -> str:
        return hexo_tags.render_hexo(
            body, tags.Context(self, rel, url, self.asset_base(url), title), warn
        )
