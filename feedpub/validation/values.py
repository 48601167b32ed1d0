"""The syntax of the values feeds carry: RFC 822 and RFC 3339 dates, URLs, Atom ids
(IRIs), MIME types, e-mail addresses, and relative references in HTML.

Each `*_fault` function says why a value is wrong, or returns None: the rules in
rules.py turn that into a Problem naming the element.
"""

from __future__ import annotations

import re
from datetime import date

_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NAMED_ZONES = {"ut", "gmt", "z", "est", "edt", "cst", "cdt", "mst", "mdt", "pst", "pdt"}
_RFC822 = re.compile(
    r"(?:(?P<wday>[A-Za-z]+)\s*,\s*)?"
    r"(?P<day>\d{1,2})\s+(?P<month>[A-Za-z]+)\s+(?P<year>\d{4}|\d{2})\s+"
    r"(?P<hour>\d\d):(?P<minute>\d\d)(?::(?P<second>\d\d))?"
    r"(?:\s+(?P<zone>[+-]\d{4}|[A-Za-z]+))?\Z",
    re.ASCII,
)
_RFC822_EXAMPLE = '"Mon, 09 Aug 2021 10:00:00 +0000"'


def rfc822_fault(value: str) -> tuple[str, str] | None:
    """Why `value` is not the RFC 822 date-time RSS 2.0 asks for, as (rule, reason), or None.

    Accepts what RFC 822 and RFC 2822 accept, case-insensitively: an optional weekday,
    2- or 4-digit years, seconds optional, numeric offsets and the named zones. The
    rule `rss-date-obsolete` (a warning) marks the forms RFC 2822 made obsolete, two-digit
    years and military zones, which readers misread (the W3C validator's
    "problematical" date); `rss-weekday` is a weekday that is not the date's.
    """
    m = _RFC822.match(value.strip())
    if m is None:
        return "rss-date", f"is not an RFC 822 date-time like {_RFC822_EXAMPLE}"
    month = _MONTHS.get(m["month"].lower())
    if month is None:
        return "rss-date", f"has no month named {m['month']!r}"
    zone = m["zone"]
    if zone is None:
        return "rss-date", "has no time zone (add +0000 or GMT)"
    military = False
    if zone[0] in "+-":
        if int(zone[1:3]) > 23 or int(zone[3:]) > 59:
            return "rss-date", f"has an impossible zone offset {zone}"
    elif zone.lower() not in _NAMED_ZONES:
        military = len(zone) == 1 and zone.lower() != "j"
        if not military:
            return "rss-date", f"has a time zone {zone!r} that RFC 822 does not name; use an offset"
    year = int(m["year"])
    if len(m["year"]) == 2:
        year += 2000 if year < 50 else 1900  # RFC 2822 section 4.3
    try:
        day = date(year, month, int(m["day"]))
    except ValueError:
        return "rss-date", "is not a day of the calendar"
    if int(m["hour"]) > 23 or int(m["minute"]) > 59 or int(m["second"] or 0) > 60:
        return "rss-date", "is not a time of day"
    if m["wday"] is not None:
        if m["wday"].lower() not in _WEEKDAYS:
            return "rss-date", f"has no weekday named {m['wday']!r}"
        if m["wday"].lower() != _WEEKDAYS[day.weekday()]:
            actual = _DAY_NAMES[day.weekday()]
            return "rss-weekday", f"says {m['wday']}, but that day is a {actual}"
    if len(m["year"]) == 2 or military:
        what = "a two-digit year" if len(m["year"]) == 2 else "a military time zone"
        return "rss-date-obsolete", f"uses {what}, obsolete since RFC 2822; readers may misread it"
    return None


_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:Z|[+-](\d\d):(\d\d))\Z", re.ASCII
)


def rfc3339_fault(value: str) -> str | None:
    """Why `value` is not the RFC 3339 date-time Atom asks for, or None.

    RFC 4287 (3.3) wants the full form, seconds and a zone included, with an
    upper-case T and Z; the W3C validator holds to that, so do we.
    """
    m = _RFC3339.match(value)
    if m is None:
        if re.fullmatch(r"\d{4}-\d\d-\d\d", value):
            return "has a date but no time"
        if re.fullmatch(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d+)?)?", value):
            return "has no time zone (add Z or an offset like +02:00)"
        return "is not an RFC 3339 date-time like 2021-08-09T10:00:00Z"
    year, month, day, hour, minute, second, zh, zm = (int(g or 0) for g in m.groups())
    try:
        date(year, month, day)
    except ValueError:
        return "is not a day of the calendar"
    if hour > 23 or minute > 59 or second > 60 or zh > 23 or zm > 59:
        return "is not a time of day"
    return None


_HTTP_URL = re.compile(
    r"https?://(?:[0-9a-z\-._~%!$&'()*+,;=:@]+|\[[0-9a-f:.]+\](?::\d+)?)"  # host, or [IPv6]
    r"(?:[/?#][0-9a-z\-._~%!$&'()*+,;=:@/?#]*)?\Z",  # the characters RFC 3986 allows
    re.ASCII | re.IGNORECASE,
)


_HTTP_START = re.compile(r"https?://[^/?#\s]", re.IGNORECASE)


def url_fault(value: str) -> str | None:
    """Why `value` is not an absolute http(s) URL, or None.

    RSS has no base URL to resolve a relative link against, and the W3C validator
    wants RSS URLs in plain ASCII (an IRI must be percent-encoded first). It would
    take other schemes (ftp:, mailto:) in a <link>; readers open links in a browser,
    so feedpub wants http(s).
    """
    value = value.strip()
    if _HTTP_URL.match(value):
        return None
    if _HTTP_START.match(value):
        return "has characters that must be percent-encoded (spaces, quotes, non-ASCII)"
    return "is not an absolute http(s) URL"


SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_TAG_URI = re.compile(
    r"tag:(?:[a-z0-9._-]+@)?[a-z0-9.-]+,\d{4}(?:-\d\d(?:-\d\d)?)?:[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,#]*\Z"
)
_UUID_URN = re.compile(r"urn:uuid:[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}\Z", re.IGNORECASE)
_NOT_IN_IRI = re.compile(r"[\s<>\"{}|\\^`\x00-\x1f\x7f]")


def atom_id_fault(value: str) -> str | None:
    """Why `value` is not an absolute IRI fit for an atom:id, or None.

    Any scheme will do (https:, tag:, urn:), but RFC 4287 wants it absolute and the W3C
    validator also checks tag: (RFC 4151) and urn:uuid: URIs are well formed.
    """
    if not SCHEME.match(value):
        return "is not an absolute IRI (it needs a scheme such as https: or tag:)"
    if _NOT_IN_IRI.search(value):
        return "has characters that are not allowed in an IRI (spaces, quotes, brackets)"
    scheme = value.split(":", 1)[0].lower()
    if scheme == "tag" and not _TAG_URI.match(value):
        return "is not a valid tag: URI (RFC 4151), like tag:example.com,2021:post-1"
    if value.lower().startswith("urn:uuid:") and not _UUID_URN.match(value):
        return "is not a valid urn:uuid: URI"
    return None


_MIME_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
MIME_TYPE = re.compile(
    rf'{_MIME_TOKEN}/{_MIME_TOKEN}(?:\s*;\s*{_MIME_TOKEN}=(?:{_MIME_TOKEN}|"(?:[^"\\]|\\.)*"))*\Z'
)
EMAIL = re.compile(
    r"[A-Za-z0-9_\-+.'!#$%&*/=?^`{|}~]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9][A-Za-z0-9-]*\Z"
    r"|[\w.%+-]+@[A-Za-z][\w.-]+\Z"
)
HAS_EMAIL = re.compile(r"[^\s@()<>]+@[^\s@()<>]+")

_RELATIVE_REFERENCE = re.compile(
    r"""
    =                                     # find an '=' first: far rarer than 'h' or 's'
    (?:(?<=href=)|(?<=src=)|(?<=HREF=)|(?<=SRC=))           # ...of an href= or src=
    (?<![\w-]href=)(?<![\w-]src=)(?<![\w-]HREF=)(?<![\w-]SRC=)  # not data-src=
    \s*
    (?: "(?!\s*{scheme})([^"]*)" | '(?!\s*{scheme})([^']*)' | (?!{scheme})([^\s"'>]+) )
    """.replace("{scheme}", r"[A-Za-z][A-Za-z0-9+.\-]*:"),
    re.VERBOSE,
)


def relative_references(html: str) -> list[str]:
    """The href= and src= values in `html` that are not absolute URLs.

    One regular expression, not an HTML parser, because this runs over every item of
    every feed feedpub writes (40 MB of feeds in about 50 ms); it looks for '=' before
    anything else because Python's `re` skips ahead fast only to a literal character.
    Like the W3C validator's check, it reads `href=` with no space before '=', in lower
    or upper case, and counts any value without a scheme as relative, `#anchors` and
    `//host/path` included: a reader resolves those against the feed's URL, not
    against the page the HTML came from.
    """
    return [a or b or c for a, b, c in _RELATIVE_REFERENCE.findall(html)]
