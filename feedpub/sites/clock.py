"""Front-matter dates read as Hexo 8 and Jekyll 4 read them, and the machine's zone.

The generators disagree with each other (and with feedpub's own reading) about
dates written without an offset, so each has its rule here:

- Hexo reads a YAML timestamp's wall clock (in UTC if it had an offset: the offset
  itself is lost), any other value as JavaScript's `Date` does, and places the
  wall clock it sees in the machine's zone into `timezone` when one is set.
- Jekyll (through Psych) reads a YAML timestamp without an offset as UTC, a date
  as midnight and a string as `Time.parse` does, in `timezone` (else the machine's).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..dates import DateError, parse_date

UTC = ZoneInfo("UTC")


@functools.cache
def machine_zone_name() -> str:
    """The IANA name of this machine's zone: $TZ, /etc/timezone or /etc/localtime's target."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text().strip())
    try:
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        if name:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
            return name
    return "UTC"


_STATX_BTIME = 0x800
_AT_FDCWD = -100


def birth_time(path: str | Path) -> dt.datetime | None:
    """When the file was created, where the file system keeps it (Linux's statx, through
    the C library; Python 3.11 has no st_birthtime on Linux). Hexo dates posts by it."""
    birth = getattr(os.stat(path), "st_birthtime", None)
    if birth is not None:
        return dt.datetime.fromtimestamp(int(birth), dt.UTC)
    statx = _statx()
    if statx is None:
        return None
    import ctypes

    buffer = ctypes.create_string_buffer(256)
    if statx(_AT_FDCWD, os.fsencode(path), 0, _STATX_BTIME, buffer) != 0:
        return None
    raw = buffer.raw
    if not int.from_bytes(raw[0:4], "little") & _STATX_BTIME:  # stx_mask
        return None
    seconds = int.from_bytes(raw[80:88], "little", signed=True)  # stx_btime.tv_sec
    return dt.datetime.fromtimestamp(seconds, dt.UTC) if seconds > 0 else None


@functools.cache
def _statx() -> Any:
    import ctypes  # (only a post dated by no field nor file name asks for it)

    try:
        return getattr(ctypes.CDLL(None, use_errno=True), "statx", None)
    except OSError:
        return None


def zone_or_machine(name: object) -> ZoneInfo:
    """`name` as a zone; empty or missing means the machine's (what both generators do)."""
    if isinstance(name, str) and name.strip():
        try:
            return ZoneInfo(name.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise DateError(f"timezone {name!r} is not an IANA time zone") from None
    return ZoneInfo(machine_zone_name())


def _wall(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=None)


def hexo_date(value: object, site: ZoneInfo | None, machine: ZoneInfo) -> dt.datetime:
    """A front-matter `date` as Hexo 8 reads it (`site` is None when `timezone` is empty).

    Raises DateError where Hexo would fall back to the file's time.
    """
    if isinstance(value, dt.datetime):  # a YAML timestamp: its UTC wall clock, as local time
        wall = _wall(value.astimezone(UTC)) if value.tzinfo else value
        instant = wall.replace(tzinfo=machine)
    elif isinstance(value, dt.date):
        instant = dt.datetime(value.year, value.month, value.day, tzinfo=machine)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        instant = dt.datetime.fromtimestamp(value / 1000, UTC)  # JavaScript's Date(ms)
    else:
        instant = parse_date(value, machine)  # naive text is local time, as Date() reads it
    return relocate(instant, site, machine)


def relocate(instant: dt.datetime, site: ZoneInfo | None, machine: ZoneInfo) -> dt.datetime:
    """Hexo's timezone adjustment: the wall clock seen on this machine, placed in `site`."""
    if site is None:
        return instant
    return _wall(instant.astimezone(machine)).replace(tzinfo=site)


def jekyll_date(value: object, zone: ZoneInfo) -> dt.datetime:
    """A front-matter `date` as Jekyll 4 reads it, in the site's `zone`."""
    if isinstance(value, dt.datetime):
        instant = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, dt.date):
        instant = dt.datetime(value.year, value.month, value.day, tzinfo=zone)
    else:
        try:
            instant = parse_date(value, zone)
        except DateError:
            instant = _ruby_time_parse(str(value), zone)
    return instant.astimezone(zone)


_RUBY_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_RUBY_TIME = re.compile(r"(?<![\d:])(\d{1,2}):(\d{2})(?::(\d{2}))?(?![\d:])")
_RUBY_OFFSET = re.compile(r"(?:^|\s)(?:([+-])(\d{2}):?(\d{2})|(Z|UTC|GMT))(?=\s|$)")


def _ruby_time_parse(text: str, zone: ZoneInfo) -> dt.datetime:
    """Ruby's Time.parse picks the date, the time and the offset out of text that has more
    (`2023-01-29 18:30:22 2023 -0800`, as a real Jekyll post has it) and ignores the rest."""
    date = _RUBY_DATE.search(text)
    if not date:
        raise DateError(f"{text!r} is not a date")
    time = _RUBY_TIME.search(text, date.end())
    offset = _RUBY_OFFSET.search(text, time.end() if time else date.end())
    tz: dt.tzinfo = zone
    if offset and offset.group(4):
        tz = UTC
    elif offset:
        minutes = int(offset.group(2)) * 60 + int(offset.group(3))
        tz = dt.timezone(dt.timedelta(minutes=-minutes if offset.group(1) == "-" else minutes))
    hour, minute, second = (int(g or 0) for g in time.groups()) if time else (0, 0, 0)
    try:
        year, month, day = (int(g) for g in date.groups())
        return dt.datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError:
        raise DateError(f"{text!r} is not a real date") from None
