"""Is this folder the root of a Hexo or a Jekyll site?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import SITE_CONFIG_NAME
from ..errors import ConfigError
from .base import Site, read_site_config, text


def _depends_on_hexo(root: Path) -> bool:
    try:
        package = json.loads((root / "package.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(package, dict):
        return False
    return any(
        isinstance(package.get(key), dict) and "hexo" in package[key]
        for key in ("dependencies", "devDependencies")
    )


def detect(root: Path) -> type[Site] | None:
    """Hexo: `_config.yml` with `source/_posts/` (or its `source_dir`), or a package.json
    that depends on hexo. Jekyll: `_config.yml` with `_posts/`."""
    found = _detected(root)
    return found[0] if found else None


def find_site(root: Path) -> Site | None:
    """The site at `root`, or None when it is neither a Hexo nor a Jekyll site."""
    found = _detected(root)
    if found is None:
        return None
    kind, settings = found
    return kind.load(root, settings)  # type: ignore[attr-defined, no-any-return]


def load_site(root: Path) -> Site:
    """The site at `root`; a ConfigError when it is neither a Hexo nor a Jekyll site."""
    site = find_site(root)
    if site is None:
        raise ConfigError(
            f"{root}: not a Hexo site (_config.yml and source/_posts/, or a package.json "
            "that depends on hexo) nor a Jekyll site (_config.yml and _posts/)"
        )
    return site


def _detected(root: Path) -> tuple[type[Site], dict[str, Any] | None] | None:
    """The kind of site at `root`, with its settings if they were read to tell (each kind
    imported only when it is the one: a cron build of a site loads one)."""
    if not (root / SITE_CONFIG_NAME).is_file():
        return None
    settings: dict[str, Any] | None = None
    if not _depends_on_hexo(root):
        try:
            settings = read_site_config(root / SITE_CONFIG_NAME)
        except ConfigError:  # (the kind's load reads it again, and says why)
            settings = None
        values = settings or {}
        source = text(values.get("source_dir"), "source") or "source"
        if not (root / source / "_posts").is_dir():
            jekyll_source = root / (text(values.get("source"), ".") or ".")
            if not (jekyll_source / "_posts").is_dir():
                return None
            from .jekyll import JekyllSite

            return JekyllSite, settings
    from .hexo import HexoSite

    return HexoSite, settings
