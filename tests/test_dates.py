"""Front-matter dates: one table of inputs and what they must become."""

from __future__ import annotations

import datetime as dt
import email.utils
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedpub.dates import DateError, parse_date

SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = dt.UTC


def at(*args: int, tz: dt.tzinfo = UTC) -> dt.datetime:
    return dt.datetime(*args, tzinfo=tz)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # RFC 2822 as the scraping bot writes it (56 of the real posts)
        ("Mon, 09 Aug 2021 08:36:33 GMT", at(2021, 8, 9, 8, 36, 33)),
        # RFC 2822 with a numeric offset
        ("Mon, 09 Aug 2021 16:36:33 +0800", at(2021, 8, 9, 8, 36, 33)),
        # RFC 2822 "-0000" (UTC, origin unknown) must still be timezone-aware
        ("Mon, 09 Aug 2021 08:36:33 -0000", at(2021, 8, 9, 8, 36, 33)),
        # RFC 2822 without the weekday
        ("9 Aug 2021 08:36:33 GMT", at(2021, 8, 9, 8, 36, 33)),
        # Hexo's own format, no zone: the site's time zone (8 of the real posts)
        ("2021-03-22 04:50:47", at(2021, 3, 22, 4, 50, 47, tz=SHANGHAI)),
        # ISO 8601 with Z, with an offset, with fractions, date only
        ("2021-08-09T08:36:33Z", at(2021, 8, 9, 8, 36, 33)),
        ("2021-08-09T16:36:33+08:00", at(2021, 8, 9, 8, 36, 33)),
        ("2021-08-09T08:36:33.250Z", at(2021, 8, 9, 8, 36, 33, 250000)),
        ("2021-08-09", at(2021, 8, 9, tz=SHANGHAI)),
        # Values YAML already parsed
        (dt.datetime(2021, 8, 9, 8, 36, 33), at(2021, 8, 9, 8, 36, 33, tz=SHANGHAI)),
        (dt.datetime(2021, 8, 9, 8, 36, 33, tzinfo=UTC), at(2021, 8, 9, 8, 36, 33)),
        (dt.date(2021, 8, 9), at(2021, 8, 9, tz=SHANGHAI)),
        # Unix timestamps: seconds, as text, and JavaScript's milliseconds
        (1628498193, at(2021, 8, 9, 8, 36, 33)),
        ("1628498193", at(2021, 8, 9, 8, 36, 33)),
        (1628498193000, at(2021, 8, 9, 8, 36, 33)),
        # Chinese dates, with and without a time
        ("2021年8月9日", at(2021, 8, 9, tz=SHANGHAI)),
        ("2021年8月9日 16:36", at(2021, 8, 9, 16, 36, tz=SHANGHAI)),
        # The long tail dateutil reads, when a year is present
        ("August 9, 2021 10:00", at(2021, 8, 9, 10, 0, tz=SHANGHAI)),
        ("2021/08/09 10:00", at(2021, 8, 9, 10, 0, tz=SHANGHAI)),
    ],
)
def test_readable_dates(value: object, expected: dt.datetime) -> None:
    parsed = parse_date(value, SHANGHAI)
    assert parsed.tzinfo is not None
    assert parsed == expected


@pytest.mark.parametrize(
    "value",
    [
        "Invalid Date",  # what the bot writes when it had no date (12 real posts)
        "",  # empty
        "9",  # a bare number that is no plausible timestamp: dateutil would guess a month
        "next Tuesday",  # no year: dateutil would fill in today's
        "2021年13月40日",  # looks like a date, is not one
        "99999-01-01",  # past datetime's range
        None,
        True,
        ["2021-08-09"],
    ],
)
def test_unreadable_dates(value: object) -> None:
    with pytest.raises(DateError):
        parse_date(value, SHANGHAI)


_WEEKDAYS = st.sampled_from(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Foo"])
_MONTHS = st.sampled_from(
    [
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
        "aug",
        "Foo",
    ]
)


@settings(max_examples=2000, deadline=None)
@given(
    _WEEKDAYS,
    st.integers(0, 35),
    _MONTHS,
    st.integers(0, 9999) | st.integers(1990, 2030),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
    st.sampled_from(["GMT", "UTC", "+0000", "-0000", "+0800", "EST", "UT"]),
)
def test_rfc2822_reads_as_email_utils_reads_it(
    weekday: str, day: int, month: str, year: int, hour: int, minute: int, second: int, zone: str
) -> None:
    """The scrapers' RFC 2822 is read by a fast path; email.utils is its oracle."""
    text = f"{weekday}, {day:02d} {month} {year:04d} {hour:02d}:{minute:02d}:{second:02d} {zone}"
    try:
        expected: dt.datetime | None = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        expected = None
    if expected is not None and expected.tzinfo is None:  # "-0000": UTC, origin unknown
        expected = expected.replace(tzinfo=UTC)
    if expected is not None and expected.astimezone(UTC).year < 1000:
        expected = None  # too early to be a plausible date
    try:
        parsed: dt.datetime | None = parse_date(text, SHANGHAI)
    except DateError:
        parsed = None
    assert parsed == expected
    if parsed is not None and expected is not None:
        assert parsed.utcoffset() == expected.utcoffset()
