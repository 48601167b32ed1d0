"""Site mode: publish a Hexo or Jekyll site's feeds from its own configuration."""

from .base import Site
from .detect import detect, find_site, load_site

__all__ = ["Site", "detect", "find_site", "load_site"]
