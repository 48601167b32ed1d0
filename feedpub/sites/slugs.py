"""Slugs as the generators make them: Hexo's `slugize` and Jekyll's `slugify`.

These decide real URLs (Hexo category pages, Jekyll's :title and :slug), so they
follow the generators' documented rules rather than feedpub's own `urls.slugify`.
"""

from __future__ import annotations

import re
import unicodedata

# Hexo replaces runs of whitespace and ASCII punctuation by the separator.
_HEXO_SPECIAL = re.compile(r"""[\s~`!@#$%^&*()\-_+=\[\]{}|\\;:"'<>,.?/]+""")
_HEXO_CONTROL = re.compile("[\x00-\x1f]")
# Latin letters that carry no combining mark to strip, as Hexo's diacritics table maps them.
_LATIN_EXTRA = {
    "ß": "s", "Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "Œ": "OE", "œ": "oe", "Đ": "D",
    "đ": "d", "Ł": "L", "ł": "l", "Ħ": "H", "ħ": "h", "Ŧ": "T", "ŧ": "t", "ı": "i",
    "ƀ": "b", "Ɓ": "B", "ɓ": "b", "Ɨ": "I", "ɨ": "i", "Ŀ": "L", "ŀ": "l",
}  # fmt: skip


def _latin_base(char: str) -> str:
    """A Latin letter without its diacritic (é → e, Ａ → A, ⓐ → a); anything else as it is."""
    if char in _LATIN_EXTRA:
        return _LATIN_EXTRA[char]
    try:
        name = unicodedata.name(char)
    except ValueError:
        return char
    if "LATIN" not in name:
        return char
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if base.isascii() and base.isalpha() and len(base) <= 2 else char


def hexo_slugize(text: str, transform: int = 0) -> str:
    """Hexo's slugize: diacritics dropped, ASCII punctuation and spaces → '-',
    Unicode letters (Chinese included) kept; `transform` 1 lowercases, 2 uppercases
    (Hexo's `filename_case`)."""
    text = "".join(_latin_base(c) if not c.isascii() else c for c in text)
    slug = _HEXO_SPECIAL.sub("-", _HEXO_CONTROL.sub("", text))
    slug = re.sub("-{2,}", "-", slug).strip("-")
    if transform == 1:
        return slug.lower()
    if transform == 2:
        return slug.upper()
    return slug


# Jekyll keeps letters, marks and decimal digits (any script); "pretty" also keeps a few
# characters that need no escaping in a URL path.
_JEKYLL_PRETTY_KEEP = set("._~!$&'()+,;=@")


def _jekyll_keeps(char: str, pretty: bool) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LM" or category == "Nd" or (pretty and char in _JEKYLL_PRETTY_KEEP)


def jekyll_slugify(text: str, mode: str = "default", cased: bool = False) -> str:
    """Jekyll's Utils.slugify for the modes `default`, `pretty`, `raw` and `ascii`."""
    if mode == "raw":
        slug = re.sub(r"\s+", "-", text)
    elif mode == "ascii":
        slug = re.sub("[^A-Za-z0-9]+", "-", text)
    else:
        pretty = mode == "pretty"
        out: list[str] = []
        for char in text:
            if _jekyll_keeps(char, pretty):
                out.append(char)
            elif not out or out[-1] != "-":  # a run of other characters is one hyphen
                out.append("-")
        slug = "".join(out)
    # Jekyll strips one leading and one trailing hyphen.
    slug = slug.removeprefix("-").removesuffix("-")
    return slug if cased else slug.lower()
