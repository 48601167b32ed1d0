"""Text fit for XML 1.0, on which every field and body a feed carries must stand.

The reader cleans front-matter fields with `clean`; the body stage strips what
`XML_ILLEGAL` finds from bodies. Neither knows anything else of XML.
"""

from __future__ import annotations

import codecs
import functools
import re
from typing import Protocol

# Characters XML 1.0 cannot carry at all: all but TAB, LF, CR, U+0020-U+D7FF, U+E000-U+FFFD
# and U+10000-U+10FFFF. Listed, not written as "[^what XML allows]": the regular expression
# compiler loops in Python over every code point of a class's ranges (5 ms for that one).
XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Bidirectional embeddings, overrides and isolates: they can make a title read as something else.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
WHITESPACE = re.compile(r"\s+")
# Bytes other than the C0 controls XML forbids: deleting them leaves only those controls.
_XML_SAFE_BYTES = bytes(b for b in range(256) if b >= 0x20 or b in (0x09, 0x0A, 0x0D))


class Warn(Protocol):
    """Records a warning about the post being read (and which field it is about)."""

    def __call__(
        self, message: str, element: str | None = None, line: int | None = None
    ) -> None: ...


MAX_FIELD_CHARACTERS = 65536
"""A front-matter text field longer than this is cut (the body's excerpt is as long): the
20 items of a feed must stay far below the 64 MiB the validator reads."""
MAX_NAME_CHARACTERS = 200
"""Category and tag names, titles of feeds too: a post has up to 64 paths of 16 levels."""


def clean(value: str, field: str, warn: Warn, limit: int = MAX_FIELD_CHARACTERS) -> str:
    """Text safe for XML, on one line, at most `limit` characters: what every feed field needs."""
    if len(value) > limit:
        warn(
            f"{field}: {len(value):,} characters is more than feeds carry; cut to {limit:,}", field
        )
        value = value[:limit]
    if value.isprintable() and "  " not in value:
        # No control, format (bidi) or separator character but single spaces: nothing to
        # remove or fold (what nearly every title, name and URL is, found in one pass).
        return value.strip()
    if XML_ILLEGAL.search(value):
        value = XML_ILLEGAL.sub("", value)
        warn(f"{field}: removed characters that XML 1.0 does not allow", field)
    if _BIDI_CONTROLS.search(value):
        value = _BIDI_CONTROLS.sub("", value)
        warn(f"{field}: removed bidirectional override characters (they can disguise text)", field)
    return WHITESPACE.sub(" ", value).strip()


def may_hold_illegal(data: bytes, text: str, encoding: str) -> bool:
    """A fast look for what XML_ILLEGAL finds in `text` (`data` decoded), so clean bodies
    (nearly all) are not scanned character by character. Exact for UTF-8 (which cannot hold
    surrogates); other encodings get the scan."""
    if not is_utf8(encoding) or data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    return not fit_for_xml(data, text)


def fit_for_xml(data: bytes, text: str) -> bool:
    """`text`, whose UTF-8 encoding is `data`, holds no character XML 1.0 forbids: looked
    for at C speed (UTF-8 cannot hold surrogates)."""
    if data.translate(None, _XML_SAFE_BYTES):  # the C0 controls, in the bytes
        return False
    # U+FFFE and U+FFFF: two searches for one character in the text beat one for their
    # bytes' prefix, EF BF
    return "\ufffe" not in text and "\uffff" not in text


def without_nul(text: str, data: bytes | None = None) -> tuple[str, int]:
    """The text without NUL characters (no parser or feed can carry them), and how many.
    `data`, the UTF-8 bytes `text` was decoded from, is searched instead when given: bytes
    are searched faster than text."""
    if ("\x00" not in text) if data is None else (b"\x00" not in data):  # faster than count
        return text, 0
    return text.replace("\x00", ""), text.count("\x00")


def forbidden_references(html: str, start: int = 0) -> list[str]:
    """Character references in `html` (from `start` on) to characters XML 1.0 forbids
    (`&#x0C;`, `&#xFFFE;`): an HTML parser turns them into those characters."""
    if "#" not in html or "&#" not in html:  # one character is found far faster than two
        return []
    return [m[0] for m in _REFERENCE.finditer(html, start) if _forbidden(m)]


_REFERENCE = re.compile(r"&#(?:[xX]0*([0-9a-fA-F]{1,8})|0*([0-9]{1,10}));?")


def _forbidden(reference: re.Match[str]) -> bool:
    code = int(reference[1], 16) if reference[1] else int(reference[2])
    # HTML parsers turn NUL, surrogates and what is past U+10FFFF into U+FFFD themselves.
    return 0 < code < 0x110000 and bool(XML_ILLEGAL.match(chr(code)))


@functools.lru_cache(maxsize=4)
def is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"
