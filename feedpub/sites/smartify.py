"""Jekyll's `smartify` (kramdown's SmartyPants), which jekyll-feed applies to every title:
straight quotes become curly ones by kramdown's rules, `---`, `--` and `...` become —, – and
…, `<<` and `>>` become « and ».

The quote rules are tried in kramdown's order at each quote (with the character before it),
the first that matches wins; the rule table is kramdown's behaviour written as Python.
"""

from __future__ import annotations

import re

_PUNCT = r"""[!"#$%'()*+,\-./:;<=>?@\[\\\]^_`{|}~]"""
_CLOSE = r"[^ \\\t\r\n\[{(-]"
L1, R1, L2, R2 = "lquote1", "rquote1", "lquote2", "rquote2"
# (pattern, what each part becomes: a group number to keep, or a quote to write)
_RULES: list[tuple[re.Pattern[str], tuple[int | str, ...]]] = [
    (re.compile(r"""("|')(?=[_*]{1,2}\S)"""), (L1,)),
    (re.compile(rf"""("|')(?={_PUNCT}(?!\.\.)\B)"""), (R1,)),
    (re.compile(r"""(\s?)"'(?=\w)"""), (1, "“", "‘")),
    (re.compile(r"""(\s?)'"(?=\w)"""), (1, "‘", "“")),
    (re.compile(r"""(\s?)'(?=\d\ds)"""), (1, "’")),
    (re.compile(r"""(\s)('|")(?=\w)"""), (1, L2)),
    (re.compile(rf"""({_CLOSE})('|")"""), (1, R2)),
    (re.compile(r"""("|')(?=\s|s\b|$)"""), (R1,)),
    (re.compile(r"""(.?)'""", re.DOTALL), (1, "‘")),
    (re.compile(r"""(.?)\"""", re.DOTALL), (1, "“")),
]
_QUOTES = {"'": ("‘", "’"), '"': ("“", "”")}
_START = re.compile(r"""[^\\]?["']""")
_SYMBOLS = re.compile(r"---|--|\.\.\.|<<|>>")
_SYMBOL = {"---": "—", "--": "–", "...": "…", "<<": "«", ">>": "»"}


def _quote(kind: str, found: re.Match[str]) -> str:
    if kind not in (L1, R1, L2, R2):
        return kind
    mark = found.group(int(kind[-1]))
    opening, closing = _QUOTES[mark]
    return opening if kind.startswith("l") else closing


def smartify(text: str) -> str:
    out: list[str] = []
    pos = 0
    while (start := _START.search(text, pos)) is not None:
        out.append(text[pos : start.start()])
        pos = start.start()
        rule = next(
            ((found, parts) for pattern, parts in _RULES if (found := pattern.match(text, pos))),
            None,
        )
        if rule is None:  # not reached: the last rules match any quote
            out.append(text[pos])
            pos += 1
            continue
        found, parts = rule
        for part in parts:
            out.append(found.group(part) if isinstance(part, int) else _quote(part, found))
        pos = max(found.end(), pos + 1)
    out.append(text[pos:])
    return _SYMBOLS.sub(lambda m: _SYMBOL[m.group(0)], "".join(out))
