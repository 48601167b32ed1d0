"""The feed formats feedpub writes: the one registry of their names, files and media types.

A new format is a new member here (and a renderer in `render/`); everything else —
configuration, file names, slugs a category may not take, HTTP types — reads it from here.
"""

from __future__ import annotations

import enum


class Format(enum.StrEnum):
    """A feed format; its value is the name used in `formats` and `--format`."""

    RSS = "rss"
    ATOM = "atom"

    @property
    def file_name(self) -> str:
        """The feed's file in its folder (the site's root, or a category's)."""
        return _FILE_NAMES[self]

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[self]


_FILE_NAMES = {Format.RSS: "rss.xml", Format.ATOM: "atom.xml"}
_MEDIA_TYPES = {Format.RSS: "application/rss+xml", Format.ATOM: "application/atom+xml"}

DEFAULT_FORMATS = (Format.RSS, Format.ATOM)
