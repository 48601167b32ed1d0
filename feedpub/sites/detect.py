"""Is this folder the root of a Hexo or a Jekyll site?"""

from __future__ import annotations

import json
from pathlib import Path

from ..config import SITE_CONFIG_NAME
from ..errors import ConfigError
from .base import Site, read_site_config, text
from .hexo import HexoSite
from .jekyll import JekyllSite


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
    if not (root / SITE_CONFIG_NAME).is_file():
        return None
    if _depends_on_hexo(root):
        return HexoSite
    try:
        settings = read_site_config(root / SITE_CONFIG_NAME)
    except ConfigError:
        settings = {}
    source = text(settings.get("source_dir"), "source") or "source"
    if (root / source / "_posts").is_dir():
        return HexoSite
    jekyll_source = root / (text(settings.get("source"), ".") or ".")
    if (jekyll_source / "_posts").is_dir():
        return JekyllSite
    return None


def load_site(root: Path) -> Site:
    """The site at `root`; a ConfigError when it is neither a Hexo nor a Jekyll site."""
    kind = detect(root)
    if kind is None:
        raise ConfigError(
            f"{root}: not a Hexo site (_config.yml and source/_posts/, or a package.json "
            "that depends on hexo) nor a Jekyll site (_config.yml and _posts/)"
        )
    return kind.load(root)  # type: ignore[attr-defined, no-any-return]
