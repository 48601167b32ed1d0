"""Slugs as the generators make them: Hexo's `slugize` and Jekyll's `slugify`.

These decide real URLs (Hexo category pages, Jekyll's :title and :slug), so they
follow the generators' documented rules rather than feedpub's own `urls.slugify`.
"""

from __future__ import annotations

import functools
import re
import unicodedata

# Hexo replaces runs of whitespace and ASCII punctuation by the separator.
_HEXO_SPECIAL = re.compile(r"""[\s~`!@#$%^&*()\-_+=\[\]{}|\\;:"'<>,.?/]+""")
_HEXO_CONTROL = re.compile("[\x00-\x1f]")
# Hexo drops the diacritics of Latin letters (é → e, ß → s, Æ → AE, Ａ → A, ⓐ → a) in the
# Latin blocks below. The base letter is read from the character's Unicode name; letters
# of the phonetic alphabets (hooks, curls, retroflex tails) are left as they are, as Hexo does.
_LATIN_BLOCKS = ((0xC0, 0x24F), (0x1E00, 0x1EFF), (0x24B6, 0x24E9), (0x2C60, 0x2C7F),
                 (0xA722, 0xA7FF), (0xFF21, 0xFF5A))  # fmt: skip
_LATIN_NAME = re.compile(
    r"^(?:FULLWIDTH |CIRCLED )?LATIN (SMALL|CAPITAL) (?:LETTER|LIGATURE) "
    r"(?:(?:OPEN|REVERSED|TURNED|SCRIPT|DOTLESS|BARRED|SHARP|LONG|INSULAR|BROKEN|AFRICAN|SMALL) )?"
    r"([A-Z]{1,2})(?: (?:WITH|BAR|PRECEDED) .*)?$"
)
_PHONETIC = ("CURL", "RETROFLEX", "PALATAL", "MIDDLE TILDE", "BELT", "FISHHOOK", "MODIFIER")


@functools.lru_cache(maxsize=4096)
def _latin_base(char: str) -> str:
    """A Latin letter without its diacritic; any other character as it is."""
    code = ord(char)
    if not any(low <= code <= high for low, high in _LATIN_BLOCKS):
        return char
    name = unicodedata.name(char, "")
    found = _LATIN_NAME.match(name)
    if not found or any(word in name for word in _PHONETIC):
        return char
    return found.group(2) if found.group(1) == "CAPITAL" else found.group(2).lower()


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


class _JekyllMarks(dict[int, str]):
    """What each character becomes in a slug (itself, or '-'), as `str.translate` asks:
    found once a character, then looked up at C speed (a title's characters one by one
    in Python were most of a Jekyll permalink)."""

    def __init__(self, pretty: bool) -> None:
        super().__init__()
        self.pretty = pretty

    def __missing__(self, code: int) -> str:
        char = chr(code)
        mark = self[code] = char if _jekyll_keeps(char, self.pretty) else "-"
        return mark


_JEKYLL_MARKS = {False: _JekyllMarks(False), True: _JekyllMarks(True)}
_HYPHENS = re.compile("-{2,}")


def jekyll_slugify(text: str, mode: str = "default", cased: bool = False) -> str:
    """Jekyll's Utils.slugify for the modes `default`, `pretty`, `raw` and `ascii`."""
    if mode == "raw":
        slug = re.sub(r"\s+", "-", text)
    elif mode == "ascii":
        slug = re.sub("[^A-Za-z0-9]+", "-", text)
    else:  # a run of other characters is one hyphen
        slug = _HYPHENS.sub("-", text.translate(_JEKYLL_MARKS[mode == "pretty"]))
    # Jekyll strips one leading and one trailing hyphen.
    slug = slug.removeprefix("-").removesuffix("-")
    return slug if cased else slug.lower()
