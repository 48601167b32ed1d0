"""Site mode: publish a Hexo or Jekyll site's feeds from its own configuration."""

from .base import Site
from .detect import detect, load_site

__all__ = ["Site", "detect", "load_site"]
