"""The site's configuration: one frozen `Config`, read from `feedpub.toml` and CLI options.

This module is the only home of defaults. `load_config` reads the TOML file (if
any), applies the command line's overrides on top and checks every value, so
the rest of feedpub can trust a `Config` without checking it again.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urljoin, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError
from .formats import DEFAULT_FORMATS, Format

if TYPE_CHECKING:
    from .sites import Site

CONFIG_NAME = "feedpub.toml"
SITE_CONFIG_NAME = "_config.yml"
"""What makes a folder a Hexo or Jekyll site's root (with its posts folder, see sites/detect.py)."""


@dataclass(frozen=True, slots=True)
class Config:
    """Everything a build needs to know about the site. Field names are the TOML keys."""

    title: str = "feedpub"
    description: str = ""
    """The site's one-line description; defaults to the title."""
    base_url: str = "https://example.com/"
    """Where the site is published. Every link in a feed is absolute against it."""
    language: str = "en"
    author: str = ""
    """The feed's author, and the author of posts that name none."""
    timezone: str = "UTC"
    """IANA zone for dates written without an offset (`2021-03-22 04:50:47`)."""
    permalink: str = ":year/:month/:day/:title/"
    posts: Path = Path("posts")
    output: Path = Path("output")
    static: Path = Path("static")
    """Files published at the site's root, used to find the size of local thumbnails."""
    formats: tuple[Format, ...] = DEFAULT_FORMATS
    limit: int = 20
    """Items per feed (newest first)."""
    content: Literal["full", "summary"] = "full"
    """`full` puts the whole post in each item; `summary` only its summary."""
    categories: Literal["tree", "flat"] = "tree"
    """`tree`: a list is one path (Hexo); `flat`: every list item is a category (Jekyll)."""
    category_map: Mapping[str, str] = field(default_factory=dict)
    """Category name → slug, as Hexo's `category_map`."""
    encoding: str = "utf-8"
    """Encoding of the post files; e.g. `gb18030` for legacy Chinese sites."""
    image_type: str = "image/jpeg"
    """Enclosure type for thumbnails whose URL has no known extension (e.g. picsum.photos)."""
    lock_timeout: float = 60.0
    """Seconds a build waits for another build on the same output folder before giving up."""
    max_post_bytes: int = 8 * 1024 * 1024
    """Posts larger than this are skipped with an error, keeping memory and time bounded."""
    jobs: int = 0
    """Processes for the heavy work of a big build; 0 means one per available core."""
    icon: str = ""
    """JSON Feed's `icon`: a square image (512×512) for the site; a URL or a path on the site."""
    favicon: str = ""
    """JSON Feed's `favicon`: a small square image (64×64); a URL or a path on the site."""
    hubs: tuple[str, ...] = ()
    """WebSub hubs (TOML key `hub`): advertised in every feed and pinged after a build."""
    opml_format: Format = Format.RSS
    """The feed `feeds.opml` subscribes to; the first format written when this one is not."""
    site: Site | None = None
    """Site mode: the Hexo or Jekyll site whose rules decide URLs and dates (not a TOML key)."""

    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    def fingerprint(self) -> str:
        """Every setting that shapes the output, as one canonical text, for the incremental
        state to key on: kept whole and compared as it is, so that no build loads a hash
        library (OpenSSL) to find that nothing changed."""
        data = {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}
        for name in ("posts", "output", "lock_timeout", "jobs"):  # where and how, not what
            del data[name]
        return json.dumps(data, sort_keys=True, ensure_ascii=False)


_zone = functools.cache(ZoneInfo)
"""A zone by name, made once: every post's date asks for it (ZoneInfo's own cache is
looked up in more steps). Names that are no zone raise, and are not kept."""


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Config)}
_TOML_NAMES = {"hubs": "hub"}
"""Fields whose key in feedpub.toml is not their name (`hub = "…"` reads better for one)."""
_SETTABLE = frozenset(_DEFAULTS) - {"site"}
"""Every field but the site, which only `--site` or detection gives."""
TOML_KEYS = frozenset(_TOML_NAMES.get(name, name) for name in _SETTABLE)
"""The keys a feedpub.toml may set."""


def toml_key(field: str) -> str:
    """The key in feedpub.toml of a `Config` field."""
    return _TOML_NAMES.get(field, field)


def _jsonable(value: object) -> object:
    if value is not None and hasattr(value, "fingerprint"):  # a Site
        return value.fingerprint()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


def load_config(
    file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    site: Site | None = None,
) -> Config:
    """Read `file` (or `./feedpub.toml` if it exists) and apply `overrides` on top.

    With a file, its folders (and the default ones) are relative to the file's own
    folder, so a cron job can run feedpub from anywhere; folders given as
    overrides are relative to the working directory, as a shell user expects.
    In site mode the site's own configuration comes first, then a `feedpub.toml`
    beside it (or `file`), key by key, then `overrides`.
    """
    values: dict[str, Any] = site.config_values() if site else {}
    if file is None and site is not None and (site.root / CONFIG_NAME).is_file():
        file = site.root / CONFIG_NAME
    if file is None and site is None and Path(CONFIG_NAME).is_file():
        file = Path(CONFIG_NAME)
    if file is not None:
        given = _read_toml(file)
        if "hubs" in given:  # the field's name is not a key of the file
            raise ConfigError(f"{file}: unknown key 'hubs' (did you mean 'hub'?)")
        if "hub" in given:
            given["hubs"] = given.pop("hub")
        for name in ("posts", "output", "static"):
            folder = given.get(name, None if site else _DEFAULTS[name])
            if isinstance(folder, str | Path):
                given[name] = str(file.parent / folder)
        values.update(given)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    config = _make_config(values, str(file) if file else "options")
    if site is None:
        return config
    from .sites.base import checked_feed_files  # the sites read this module

    checked_feed_files(site, config.formats)  # a bad feed path is an error before any work
    return dataclasses.replace(config, site=site)


def _read_toml(file: Path) -> dict[str, Any]:
    import tomllib  # only with a file: a cron run given options only never parses TOML

    try:
        with open(file, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{file}: configuration file not found") from None
    except OSError as e:
        raise ConfigError(f"{file}: cannot read configuration: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{file}: not valid TOML: {e}") from None


def _make_config(values: Mapping[str, Any], origin: str) -> Config:
    hints = typing.get_type_hints(Config, localns={"Site": object})
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in _SETTABLE:
            keys = ", ".join(sorted(TOML_KEYS))
            raise ConfigError(f"{origin}: unknown key {key!r} (known keys: {keys})")
        kwargs[key] = _coerce(toml_key(key), value, hints[key], origin)
    config = Config(**kwargs)
    _check(config, origin)
    if not config.description:
        config = dataclasses.replace(config, description=config.title)
    return _site_urls(config, origin)


def _site_urls(config: Config, origin: str) -> Config:
    """`icon` and `favicon` may be paths on the site: make them absolute, and check them."""
    urls: dict[str, Any] = {}
    for key in ("icon", "favicon"):
        value = getattr(config, key)
        if value:
            url = urljoin(config.base_url, value)
            if urlsplit(url).scheme not in ("http", "https"):
                raise ConfigError(f"{origin}: {key!r} must be an http(s) URL or a path on the site")
            urls[key] = quote(url, safe="/:?#[]@!$&'()*+,;=%~-._")
    return dataclasses.replace(config, **urls)


def _coerce(key: str, value: Any, hint: Any, origin: str) -> Any:
    """Check one value against its declared type, converting TOML's shapes to ours."""

    def wrong(expected: str) -> ConfigError:
        return ConfigError(f"{origin}: {key!r} must be {expected}, not {value!r}")

    if hint is Path:
        if not isinstance(value, str | Path) or not str(value):
            raise wrong("a folder path")
        return Path(value)
    if hint is str:
        if not isinstance(value, str):
            raise wrong("a string")
        return value
    if hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise wrong("an integer")
        return value
    if hint is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise wrong("a number")
        return float(value)
    origin_type = typing.get_origin(hint)
    if origin_type is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise wrong(" or ".join(repr(c) for c in choices))
        return value
    if hint == tuple[Format, ...]:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        names = [f.value for f in Format]
        if not isinstance(value, list | tuple):
            raise wrong(f"a list of {', '.join(names)}")
        if not value or not all(isinstance(v, str) and v in names for v in value):
            raise ConfigError(
                f"{origin}: {key!r} must be some of {', '.join(names)}, not {list(value)}"
            )
        return tuple(dict.fromkeys(Format(v) for v in value))
    if hint == tuple[str, ...]:  # hubs: one URL, or a list of them
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise wrong("a URL or a list of URLs")
        for url in value:
            if not _is_hub_url(url):
                raise ConfigError(
                    f"{origin}: {key!r} must be absolute http(s) URLs "
                    f"(no spaces, quotes or #), not {url!r}"
                )
        return tuple(dict.fromkeys(value))
    if hint is Format:
        names = [f.value for f in Format]
        if value not in names:
            raise wrong(" or ".join(repr(n) for n in names))
        return Format(value)
    if hint == Mapping[str, str]:
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise wrong("a table of strings")
        return dict(value)
    raise AssertionError(f"no coercion for {key}: {hint}")  # a new field needs a rule here


def _check(config: Config, origin: str) -> None:
    url = urlsplit(config.base_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ConfigError(
            f"{origin}: 'base_url' must be an absolute http(s) URL, not {config.base_url!r}"
        )
    if not config.base_url.endswith("/"):
        raise ConfigError(f"{origin}: 'base_url' must end with '/', e.g. {config.base_url + '/'!r}")
    try:
        config.zone()
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{origin}: 'timezone' {config.timezone!r} is not an IANA time zone"
        ) from None
    if config.limit < 1:
        raise ConfigError(f"{origin}: 'limit' must be at least 1, not {config.limit}")
    if config.jobs < 0:
        raise ConfigError(f"{origin}: 'jobs' must be 0 (one per core) or more, not {config.jobs}")
    if config.lock_timeout < 0:
        raise ConfigError(f"{origin}: 'lock_timeout' must not be negative")
    if config.max_post_bytes < 1024:
        raise ConfigError(f"{origin}: 'max_post_bytes' must be at least 1024")
    if not any(token in config.permalink for token in (":title", ":path")):
        raise ConfigError(
            f"{origin}: 'permalink' must contain :title or :path, or posts would share URLs"
        )
    try:
        "".encode(config.encoding)
    except LookupError:
        raise ConfigError(
            f"{origin}: 'encoding' {config.encoding!r} is not a known text encoding"
        ) from None
    if "/" not in config.image_type:
        raise ConfigError(f"{origin}: 'image_type' must be a MIME type such as 'image/jpeg'")


def _is_hub_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # a broken IPv6 literal
        return False
    # Only the characters RFC 3986 allows, less "$" and "'" (nginx): the URL goes into
    # XML, Link headers and server configurations, where a space, quote or "<" breaks them.
    return (
        parts.scheme in ("http", "https")
        and bool(host)
        and "#" not in url
        and _URL_CHARACTERS.fullmatch(url) is not None
    )


_URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?\[\]@!&()*+,;=%]+")
