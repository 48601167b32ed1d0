"""A seeded mutator of real-format posts, for the fuzz test (tests/test_fuzz.py).

Every mutation is something a scraper, a bot or a careless editor has written, or
the edge of what a parser accepts: bytes flipped, control characters and character
references, huge or odd YAML values, dates at the ends of `datetime`, URLs with IPv6
zones and userinfo, very deep or long categories, permalinks shared with other posts,
NUL bytes. `mutate(seed_text, rng)` returns the bytes of one mutated post; the same
`random.Random` state always gives the same bytes.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

FIELDS = (
    "title",
    "date",
    "updated",
    "categories",
    "tags",
    "author",
    "thumbnail",
    "cover",
    "description",
    "permalink",
    "slug",
    "draft",
    "published",
)
DATES = (
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59.999999+00:00",
    "9999-12-31T23:00:00-05:00",
    "9999-12-31",
    "0001-01-01T00:00:00+01:00",
    "0001-01-01",
    "1000-01-01T00:30:00+01:00",
    "1000-01-01",
    "Wed, 01 Jan 1000 00:30:00 +0100",
    "Fri, 31 Dec 9999 23:59:59 -2359",
    "Mon, 09 Aug 2021 08:36:33 +2400",
    "Sat, 01 Jan 0000 00:00:00 GMT",
    "2021-08-09T08:36:33+23:59",
    "2021-08-09T08:36:33-23:59",
    "2021-02-29",
    "2021-13-01",
    "2021-08-09 25:61:61",
    "253402300799",
    "253402300800",
    "99999999999999",
    "-1",
    "1e308",
    ".inf",
    "-.nan",
    "2021年2月30日",
    "9999年12月31日 23:59",
    "Invalid Date",
    "'2021-08-09T08:36:33.1234567890123Z'",
    "2021-W32-1",
    "20210809T083633Z",
    "August 9, 2021 10:00 +14:00",
    "[2021-08-09]",
    "{a: 1}",
    "!!timestamp 2001-12-14t21:59:43.10-05:00",
)
URLS = (
    "'/%00.jpg'",
    "https://example.com/%00.jpg",
    "http://user@[::1]/a.jpg",
    "http://user:pass@example.com/a.jpg",
    "http://[fe80::1%25eth0]/a.jpg",
    "http://[fe80::1%eth0]/a.jpg",
    "http://[v1.fe80::a]/x",
    "http://[::1",
    "http://[::ffff:1.2.3.4]:8080/a.png",
    "http://example.com:abc/a.jpg",
    "http://example.com:99999/a.jpg",
    "http://example.com:/a.jpg",
    "http:///a.jpg",
    "http://a b/c.jpg",
    "//cdn.example.com/a.jpg",
    "https://图片.例子.测试/a.jpg",
    "https://xn--/a.jpg",
    "https://a..b/c.jpg",
    "https://-a-.com/c.jpg",
    'https://example.com/a b"<>.jpg',
    "https://example.com/\u202eexe.jpg",
    "https://example.com/a.jpg#frag ment",
    "/images/../../../../etc/passwd",
    "../../../etc/passwd",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "data:image/png;base64,AAAA",
    "HTTP://EXAMPLE.COM/A.JPG",
    "https://example.com/" + "a" * 300 + ".jpg",
    "/" + "a" * 300 + ".jpg",
    "https://example.com/%E0%A4%A.jpg",
    "https://example.com/%ff%fe.jpg",
    "https://example.com?x=1&y=2",
    "https://exa\tmple.com/a.jpg",
    "https://example.com\\@evil.com/a.jpg",
    "https://[::1]:0/a.jpg",
    "https://1.2.3.4.5/a.jpg",
    "https://example.com/a.jpg\u0000",
)
PERMALINKS = (
    *("/x/", "/x/", "/x-bb801c/", "x", "/x", "https://other.example/x/", "/", ""),
    "/2021/08/09/good/",  # the good post's own URL, from the pattern
    '"/\\ud800/"',
    "/?q=[1]",
    "/#",
)
CHARACTER_REFERENCES = (
    "&#x0C;",
    "&#x1;",
    "&#1;",
    "&#0;",
    "&#xFFFE;",
    "&#xFFFF;",
    "&#xD800;",
    "&#x110000;",
    "&#99999999999;",
    "&#x1B;",
    "&#x7F;",
    "&#x85;",
    "&#x202E;",
    "&nbsp;",
    "&bogus;",
    "&#;",
    "&#x;",
    "&amp;#x0C;",
)
CONTROLS = (
    *(chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 0x7F, 0x85)),
    *("\ufffe", "\uffff", "\u202e", "\u2028", "\ufeff"),
)
TAGS = (
    '<a HrEf="/relative/path">x</a>',
    '<A HREF="relative">x</A>',
    '<img SRC="/img.png">',
    "<img src=rel.png>",
    '<a href = "/spaced">x</a>',
    "<script>alert(1)</script>",
    "<!-- more -->",
    "<!--more-->",
    "]]>",
    '<svg><a xlink:href="/x">y</a></svg>',
    '<a href="javascript:alert(1)">x</a>',
    '<img srcset="/a.png 1x, b.png 2x">',
    '<a href="http://[fe80::1%25eth0]/">x</a>',
    '<a href="http://a b/">x</a>',
    '<p xmlns:dc="urn:a}b">ns</p>',
    "<div>" * 200,
    "</div>" * 50,
    "<math><mi>x</mi></math>",
)


def _category_value(rng: random.Random) -> str:
    kind = rng.randrange(8)
    if kind == 0:  # very deep
        depth = rng.choice((20, 100, 300))
        width = rng.choice((1, 44, 130))
        return "[" + ", ".join(f"'{'c' * width}{i}'" for i in range(depth)) + "]"
    if kind == 1:  # very long names
        return f"['{rng.choice('a中é/') * rng.choice((255, 256, 1000, 5000))}']"
    if kind == 2:  # many paths
        return "[" + ", ".join(f"[p{i}, q{i % 7}]" for i in range(rng.choice((65, 200)))) + "]"
    if kind == 3:  # odd names
        odd = rng.choice(("..", ".", "/", "rss.xml", ".feedpub", "CON", "a/b", "a-b", "%2e%2e"))
        return f"['{odd}', '{rng.choice(CONTROLS)}x']"
    if kind == 4:  # case twins (a collision the site causes)
        return "[[Tech], [tech]]"
    if kind == 5:
        return rng.choice(("{a: b}", "null", "[[[[deep]]]]", "[true, 1.5, null]", "''", "[]"))
    if kind == 6:
        return "[" + "'" + "-" * rng.choice((1, 300)) + "']"
    return f"[新媒体, {_odd_text(rng)}]"


def _odd_text(rng: random.Random) -> str:
    parts = [
        rng.choice(("x", "中文", "é", "]]>", "<b>", "&amp;", "a" * 70_000, "")),
        rng.choice(CONTROLS + CHARACTER_REFERENCES),
    ]
    text = "".join(parts)
    return "'" + text.replace("'", "''").replace("\\", "\\\\") + "'"


def _field_value(field: str, rng: random.Random) -> str:
    if field in ("date", "updated"):
        return rng.choice(DATES)
    if field in ("thumbnail", "cover"):
        return rng.choice(URLS)
    if field == "permalink":
        return rng.choice(PERMALINKS + URLS[:8])
    if field in ("categories", "tags"):
        return _category_value(rng)
    if field == "slug":
        return rng.choice(("'../../x'", "'" + "s" * 300 + "'", "'a/b'", "'%00'", "''", "'中文'"))
    if field in ("draft", "published"):
        return rng.choice(("yes", "no", "'maybe'", "1", "[]", "null"))
    choices = (
        _odd_text(rng),
        "&a [*a, *a, *a]",
        "!!python/object/apply:os.system ['touch pwned']",
        "!!binary aGVsbG8=",
        "{name: {name: x}}",
        "[a, b]",
        "12345678901234567890123",
        "1e400",
        "0x1F",
        "~",
        '"\\0\\x0c\\uFFFE\\U0010FFFF"',
        '"lone \\ud800 surrogate"',
        '"\\udfff"',
        '"\\x85\\u2028\\u2029"',
        "'" + "long " * rng.choice((10, 20_000)) + "'",
    )
    return rng.choice(choices)


def _random_character(rng: random.Random) -> str:
    """Any code point, surrogates and noncharacters included, written as a YAML escape."""
    code = rng.choice((rng.randrange(0x20), rng.randrange(0x80, 0x110000), 0xFFFE, 0xD800))
    return f"\\U{code:08x}"


def _random_yaml(rng: random.Random, depth: int = 0) -> str:
    """A random YAML flow value: scalars of any characters, nested lists and mappings."""
    kind = rng.randrange(6 if depth < 4 else 3)
    if kind == 0:
        return '"' + "".join(_random_character(rng) for _ in range(rng.randrange(1, 12))) + '"'
    if kind == 1:
        return rng.choice(("0", "-0.0", "1e999", "0o17", "2021-08-09", "null", "true", "''"))
    if kind == 2:
        return "'" + "".join(rng.choice("ab 中/.?#%&<>") for _ in range(rng.randrange(40))) + "'"
    if kind in (3, 4):
        return "[" + ", ".join(_random_yaml(rng, depth + 1) for _ in range(rng.randrange(4))) + "]"
    pairs = (f"k{i}: {_random_yaml(rng, depth + 1)}" for i in range(rng.randrange(3)))
    return "{" + ", ".join(pairs) + "}"


def _set_field(text: str, rng: random.Random) -> str:
    field = rng.choice(FIELDS)
    value = _random_yaml(rng) if rng.random() < 0.25 else _field_value(field, rng)
    line = f"{field}: {value}"
    head, sep, rest = text.partition("\n---\n")
    if not sep:
        return text
    # A new value replaces the field's line (and, for categories, its list items).
    drop = re.compile(rf"{field}\s*:|\s+- " if field == "categories" else rf"{field}\s*:")
    lines = [x for x in head.split("\n") if not drop.match(x)]
    lines.insert(rng.randrange(1, len(lines) + 1) if len(lines) > 1 else len(lines), line)
    return "\n".join(lines) + sep + rest


def _insert(text: str, rng: random.Random, what: str) -> str:
    at = rng.randrange(len(text) + 1)
    return text[:at] + what + text[at:]


def _in_body(text: str, rng: random.Random, what: str) -> str:
    head, sep, body = text.partition("\n---\n")
    if not sep:
        return _insert(text, rng, what)
    return head + sep + _insert(body, rng, what)


Mutation = Callable[[str, random.Random], str]
TEXT_MUTATIONS: tuple[Mutation, ...] = (
    _set_field,
    _set_field,
    _set_field,
    lambda t, r: _in_body(t, r, r.choice(CHARACTER_REFERENCES)),
    lambda t, r: _in_body(t, r, r.choice(CONTROLS)),
    lambda t, r: _in_body(t, r, "".join(chr(r.randrange(0x110000)) for _ in range(8))),
    lambda t, r: _insert(t, r, r.choice(CONTROLS)),
    lambda t, r: _in_body(t, r, r.choice(TAGS)),
    lambda t, r: _in_body(t, r, "\x00"),
    lambda t, r: t.replace("\n", "\r\n") if r.random() < 0.5 else t.replace("\n", "\r"),
    lambda t, r: t.replace("---", "+++", 2) if r.random() < 0.2 else t,
    lambda t, r: t.replace("\n---\n", "\n", 1) if r.random() < 0.2 else t,
    lambda t, r: "\ufeff" + t,
)


def _flip_bytes(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 8))):
        if buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    return bytes(buf)


def mutate(seed: str, rng: random.Random) -> bytes:
    """One mutated post from `seed`: one to four text mutations, then maybe byte flips."""
    text = seed
    for _ in range(rng.choice((1, 1, 2, 3, 4))):
        text = rng.choice(TEXT_MUTATIONS)(text, rng)
    data = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.15:
        data = _flip_bytes(data, rng)
    return data
