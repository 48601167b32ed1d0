"""Front-matter dates → timezone-aware datetimes.

Posts carry dates in whatever shape their writer used: RFC 2822 from scrapers
(`Mon, 09 Aug 2021 08:36:33 GMT`), ISO 8601, Hexo's `2021-03-22 04:50:47`,
values YAML already turned into `date`/`datetime`, Unix timestamps and Chinese
`2021年8月9日`. A date without an offset is in the site's time zone, as Hexo
reads it. Anything else raises `DateError`; the reader then falls back to the
file's modification time (one documented policy, see README "Dates").
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo


class DateError(ValueError):
    """The value is not a date feedpub can read."""


_CJK_DATE = re.compile(
    r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]"
    r"(?:\s*(\d{1,2})\s*[:：时点]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2})\s*秒?)?\s*分?)?\s*$"
)
_RFC2822_START = re.compile(r"^(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s")
_HAS_YEAR = re.compile(r"\d{4}")
_MONTH_DIGITS = {
    name: f"{number:02d}"
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
# `Mon, 09 Aug 2021 08:36:33 GMT` exactly, in UTC (email.utils ignores the weekday's name).
_USUAL_RFC2822 = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"([1-9]\d{3}) (\d\d:\d\d:\d\d) (?:GMT|UTC|\+0000)\Z",
    re.ASCII,
)
# Seconds since 1970 in the range a blog could mean (1973 … 2286); more digits are milliseconds.
_EPOCH_SECONDS = range(10**8, 10**10)
_EPOCH_MILLIS = range(10**11, 10**13)


def parse_date(value: object, zone: ZoneInfo) -> dt.datetime:
    """Read one front-matter date value; naive results are placed in `zone`."""
    # What scrapers write, so most dates of big sites: in UTC and in the years 1000-9999,
    # so none of the checks below can apply.
    if type(value) is str and (usual := _usual_rfc2822(value)) is not None:
        return usual
    date = _parse(value, zone)
    # Feeds carry dates in UTC: the year is the one UTC gives (1000-01-01T00:30+01:00 is 999).
    try:
        utc = date.astimezone(dt.UTC)
    except OverflowError:  # beyond what datetime holds once in UTC, at either end
        if date.year > _FIRST_YEAR:
            return LAST_DATE
        utc = dt.datetime.min.replace(tzinfo=dt.UTC)
    # RFC 822 has four-digit years; and no feed reader sorts the year 999 sensibly.
    if utc.year < _FIRST_YEAR:
        raise DateError(f"{value!r} is before the year {_FIRST_YEAR}: not a plausible date")
    return LAST_DATE if utc > LAST_DATE else date


_FIRST_YEAR = 1000
LAST_DATE = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
"""The latest date feedpub keeps: later ones (9999-12-31T23:59:59-01:00 is in the year
10000 in UTC) become this, so that every date can be written in UTC and in any zone's
permalink, and a post dated so far ahead stays scheduled."""


def _parse(value: object, zone: ZoneInfo) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return _aware(value, zone)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=zone)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_timestamp(value)
    if not isinstance(value, str):
        raise DateError(f"expected a date, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise DateError("the date is empty")
    if text.isdigit():
        return _from_timestamp(int(text))
    if _RFC2822_START.match(text):  # first: what scrapers write, so most dates in big sites
        return _rfc2822(text)
    try:
        return _aware(dt.datetime.fromisoformat(text), zone)
    except ValueError:
        pass
    cjk = _CJK_DATE.match(text)
    if cjk:
        year, month, day, hour, minute, second = (int(g) if g else 0 for g in cjk.groups())
        try:
            return dt.datetime(year, month, day, hour, minute, second, tzinfo=zone)
        except ValueError as e:
            raise DateError(f"{text!r} is not a real date: {e}") from None
    # dateutil reads the long tail ("August 9, 2021 10:00"), but guesses the year
    # and month from today when they are missing: refuse text with no year in it.
    if not _HAS_YEAR.search(text):
        raise DateError(f"{text!r} is not a date")
    import dateutil.parser  # only for the long tail: its import costs more than most builds' dates

    try:
        return _aware(dateutil.parser.parse(text), zone)
    except (ValueError, OverflowError):
        raise DateError(f"{text!r} is not a date") from None


def _aware(value: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def _rfc2822(text: str) -> dt.datetime:
    if (usual := _usual_rfc2822(text)) is not None:
        return usual
    import email.utils  # imported when first needed: most builds read no date at all

    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        raise DateError(f"{text!r} is not an RFC 2822 date") from None
    # "-0000" means "UTC, origin unknown"; email.utils leaves such dates naive.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _usual_rfc2822(text: str) -> dt.datetime | None:
    """`text` as email.utils reads it if it is `_USUAL_RFC2822`'s date, eight times faster:
    as the ISO 8601 text it is (datetime's own parser, in C, checks the day and time);
    None if it is not, or is no real day or time (email.utils then says why)."""
    usual = _USUAL_RFC2822.match(text)
    if usual is None:
        return None
    day, month, year, time = usual.groups()
    try:
        return dt.datetime.fromisoformat(f"{year}-{_MONTH_DIGITS[month]}-{day}T{time}+00:00")
    except ValueError:
        return None


def _from_timestamp(value: float) -> dt.datetime:
    if value != value or value in (float("inf"), float("-inf")):  # YAML's .nan and .inf
        raise DateError(f"{value!r} is not a date")
    whole = int(value)
    if whole in _EPOCH_MILLIS:
        value /= 1000
    elif whole not in _EPOCH_SECONDS:
        raise DateError(f"{value!r} is not a plausible Unix timestamp")
    return dt.datetime.fromtimestamp(value, dt.UTC)
