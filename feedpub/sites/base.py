"""What every generator's site description offers the reader, builder and CLI.

A `Site` is a frozen value read once from the site's `_config.yml`: it is sent to
worker processes with the `Config`, and its fingerprint invalidates the
incremental state whenever the site's configuration changes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import yaml

from ..errors import ConfigError
from ..formats import SITE_FILES, Format
from ..output import STATE_DIR
from ..scanning import PostNames

if TYPE_CHECKING:
    from .tags import TagWarn

Warn = Callable[[str], None]
CategoryPaths = tuple[tuple[str, ...], ...]
"""A post's paths in the category tree, as `Post.categories` holds them."""
POST_SUFFIXES = (".md", ".markdown", ".mkd", ".mkdn", ".mkdown", ".html", ".htm")
"""Posts both generators render (Markdown through their renderer, HTML as it is)."""
_TOKEN = re.compile(r":(\w*[^_\W])")


def read_site_config(file: Path) -> dict[str, Any]:
    """The generator's `_config.yml` as a mapping; an unreadable file is a ConfigError."""
    try:
        data = yaml.safe_load(file.read_text("utf-8"))
    except OSError as e:
        raise ConfigError(f"{file}: cannot read: {e.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ConfigError(f"{file}: not valid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: must be a mapping of settings")
    return data


def text(value: object, default: str = "") -> str:
    """A config value as text: strings as they are, numbers as their digits, else `default`."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return default


def name_of(value: object) -> str:
    """An author given as text or as {name: …}."""
    if isinstance(value, Mapping):
        return text(value.get("name"))
    return text(value)


def mapping(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


class DateSource(Enum):
    """Where the generator took a post's date from; the reader warns of the fallbacks."""

    FRONT_MATTER = "front matter"
    FILE_NAME = "file name"
    MODIFIED = "file modification time"
    CREATED = "file creation time"
    """Hexo's last resort: the file's birth time, where the file system keeps one."""
    DRAFT = "draft"
    """A Jekyll draft, which Jekyll always dates by its file's modification time: no warning."""


@dataclass(frozen=True, slots=True)
class PostFacts:
    """What the generator makes of one post file, from `Site.post_facts`: the record the
    reader builds the `Post` from and hands back to `Site.post_url`."""

    front_matter: dict[str, Any]
    """The front matter as the generator sees it (Hexo: with its file name's tokens; Jekyll:
    with its `defaults` and folder categories; `tags`, `categories` under those names); read,
    never changed."""
    slug: str
    """The generator's name for the post from its file: Hexo's `:title` (after
    `new_post_name`), Jekyll's slug before a front-matter `slug`."""
    date: dt.datetime
    """The post's date, aware."""
    date_source: DateSource
    updated: dt.datetime | None = None
    """Hexo's `updated`, or the file's time by `updated_option: mtime`; None: feeds show
    `date` (Jekyll has no `updated`)."""


@dataclass(frozen=True, slots=True)
class Site:
    """The parts of a generator's configuration that decide URLs, dates and what is published."""

    root: Path
    settings: Mapping[str, Any] = field(repr=False)
    """The generator's `_config.yml`, as read."""
    zone: ZoneInfo
    """The zone dates without offsets are in, and URL dates are written in."""

    kind = "site"

    @property
    def config_file(self) -> Path:
        return self.root / "_config.yml"

    def fingerprint(self) -> str:
        """The site's settings as one canonical text (not hashed: see Config.fingerprint)."""
        from .clock import machine_zone_name  # wall clocks are read in it

        return json.dumps(
            [self.kind, str(self.root), self.settings, str(self.zone), machine_zone_name()],
            default=str,
            sort_keys=True,
        )

    # The hooks the subclasses fill in; each docstring says who calls it.

    def describe(self) -> str:
        """The summary's first line: what was detected and its URLs."""
        raise NotImplementedError

    def config_values(self) -> dict[str, Any]:
        """feedpub `Config` values this site implies (a `feedpub.toml` and options win)."""
        raise NotImplementedError

    def keep(self, rel: str, folder: bool) -> bool:
        """Whether the scan of `Config.posts` looks at this file or into this folder."""
        raise NotImplementedError

    def post_names(self, folder: str) -> PostNames | None:
        """In a folder `keep` looks into ('' or ending in '/'), the regular files it keeps
        by their names alone, when it keeps every file that rule takes: the scan then
        asks `keep` only of the others (see scanning.scan_posts). None: ask of each."""
        return None

    def post_facts(self, rel: str, meta: dict[str, Any], saved: dt.datetime) -> PostFacts:
        """What the generator makes of the post's front matter `meta` (not changed) and file.
        `saved` is the file's modification time (the generators' last resort for a date)."""
        raise NotImplementedError

    def unpublished(self, rel: str, meta: Mapping[str, Any]) -> bool:
        raise NotImplementedError

    def item_title(self, title: str) -> str:
        """A post's title as the generator's feed plugin writes it."""
        return title

    def post_url(self, rel: str, facts: PostFacts, categories: CategoryPaths, warn: Warn) -> str:
        """The post's absolute URL, from `post_facts`' result and the category paths the
        reader made of it (Hexo's `:category` is the last path's)."""
        raise NotImplementedError

    def publishes_future(self) -> bool:
        """Whether posts dated after the build are published (Hexo's and Jekyll's `future`)."""
        return bool(self.settings.get("future", False))

    def feed_files(self) -> dict[Format, str]:
        """The site feed's file of each format the generator's feed plugin writes, relative to
        the output folder, so its subscribers keep getting updates (other formats, and every
        category feed, keep feedpub's names). Checked by `checked_feed_files`."""
        return {}

    def keeps_category_feed(self, node: tuple[str, ...]) -> bool:
        """Whether this category gets a feed (jekyll-feed's `categories` list names some)."""
        return True

    def category_feed_files(self, node: tuple[str, ...]) -> dict[Format, str]:
        """As `feed_files`, for a category's feed (jekyll-feed's `feed/<category>.xml`)."""
        return {}

    def feed_order(self) -> tuple[str, bool]:
        """The site feed's order, as the feed plugin sorts: the post field (`date`,
        `updated` or `title`) and whether it is descending. Category feeds are newest first."""
        return ("date", True)

    def summary_cut(self) -> tuple[int, str] | None:
        """For summaries made from the text (summary-only feeds, posts without one): the
        plugin's length in characters and the text it cuts back to, or None for feedpub's."""
        return None

    def category_directory(self, node: tuple[str, ...]) -> tuple[str, ...] | None:
        """Folder segments of a category's feed (and page), or None for feedpub's own."""
        return None

    def render_body(
        self, body: str, rel: str, url: str, title: str, warn: TagWarn | None = None
    ) -> str:
        """The body with the generator's template tags rendered (see tags.py)."""
        raise NotImplementedError

    def shared_urls(
        self, url: str, sources: list[str], taken: Container[str]
    ) -> dict[str, str] | None:
        """The URLs the generator gives posts that would share `url` (None: no rule of its
        own, so feedpub's suffixes apply). `taken` holds every URL the site's posts have."""
        return None

    def code_folder(self) -> Path | None:
        """Where Hexo's `{% include_code %}` finds files (`code_dir` in the source folder)."""
        return None

    def post_folder(self, rel: str) -> Path | None:
        """The folder of the post's own files on disk (Hexo's post asset folder), if any."""
        return None

    def asset_base(self, url: str) -> str:
        """The URL relative references in the body resolve against."""
        return url


def feed_file(site: Site, value: object, default: str) -> str:
    """A feed plugin's `feed.path` setting as a file below the output folder."""
    path = text(value).strip().lstrip("/") or default
    if path.endswith("/") or any(part in ("", ".", "..") for part in path.split("/")):
        raise ConfigError(f"{site.config_file}: feed.path {path!r} is not a file below the site")
    return path


def checked_feed_files(site: Site, formats: tuple[Format, ...]) -> dict[Format, str]:
    """`site.feed_files()` for the formats written, each a file no other output of
    feedpub's has (another format's feed, the subscription list, the state)."""
    files = {fmt: name for fmt, name in site.feed_files().items() if fmt in formats}
    others = {fmt.file_name for fmt in formats if fmt not in files} | set(SITE_FILES)
    for fmt, name in files.items():
        rivals = [f for f, n in files.items() if n == name and f is not fmt]
        if name in others or rivals or name.split("/")[0] == STATE_DIR:
            raise ConfigError(
                f"{site.config_file}: feed.path {name!r} of the {fmt.full_name} feed is also the file "
                "of another feed or of feedpub's own; give it another name"
            )
    return files


def tokens_in(rule: str) -> list[str]:
    """The `:name` tokens of a Hexo-style rule."""
    return _TOKEN.findall(rule)


def fill(rule: str, values: Mapping[str, str]) -> str:
    """Replace every `:name` token (a missing one by ''; the caller warns)."""
    return _TOKEN.sub(lambda m: values.get(m.group(1), ""), rule)
