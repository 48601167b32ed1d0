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
from pathlib import Path
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
        instant = parse_date(value, zone)
    return instant.astimezone(zone)
