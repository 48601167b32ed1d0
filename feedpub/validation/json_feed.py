"""JSON Feed bytes → Problems: is this a valid JSON Feed 1.1 (or 1.0) document?

The rules are the specification's (https://jsonfeed.org/version/1.1), checked in two
layers: parsing, strictly (UTF-8 as RFC 8259 asks, no duplicate member names, no NaN,
a bound on size and depth), then every member's type and value — required members,
URLs, RFC 3339 dates, MIME types, unique item ids, content in every item, attachments
with a type. Unknown members are warned about (extensions must start with "_"), as
are the members the specification only recommends.

A problem names the member by its path in the document (`items[3].date_published`);
JSON parsers give no line for a value, so only parse errors have one.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable
from typing import Any

from ..models import Problem, Severity
from .values import MIME_TYPE, relative_references, rfc3339_fault, url_fault

VERSIONS = ("https://jsonfeed.org/version/1.1", "https://jsonfeed.org/version/1")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*\Z")  # RFC 5646's shape


def looks_like_json(data: bytes) -> bool:
    """True when the document starts as JSON does (after a BOM and white space): `{` or `[`."""
    head = data[:1024].removeprefix(codecs.BOM_UTF8).lstrip(b" \t\r\n")
    return head[:1] in (b"{", b"[")


class _Out:
    def __init__(self, path: str, warnings: bool) -> None:
        self.path = path
        self.warnings = warnings  # as Findings.warnings
        self.problems: list[Problem] = []

    def add(self, where: str | None, rule: str, message: str, line: int | None = None) -> None:
        self.problems.append(Problem(self.path, message, Severity.ERROR, line, where, rule))

    def warn(self, where: str | None, rule: str, message: str) -> None:
        self.problems.append(Problem(self.path, message, Severity.WARNING, None, where, rule))


def check_json_feed(
    data: bytes, name: str, self_url: str | None = None, warnings: bool = True
) -> list[Problem]:
    """Check one JSON Feed document. `self_url` is where it is published: `feed_url` must be it.
    `warnings` False: only the errors are wanted (checks that can only warn may be skipped)."""
    out = _Out(name, warnings)
    document = _parse(data, out)
    if document is None:
        return out.problems
    if not isinstance(document, dict):
        out.add(None, "not-an-object", "a JSON Feed is a JSON object ({…}), not " + _kind(document))
        return out.problems
    version = document.get("version")
    if not isinstance(version, str) or version not in VERSIONS:
        found = "it has none" if version is None else f"not {_show(version)}"
        out.add(
            "version",
            "json-version",
            f'"version" must be "{VERSIONS[0]}" (or "{VERSIONS[1]}"); {found}',
        )
        return out.problems  # not a JSON Feed, or one of a version whose rules we do not know
    _check_members(document, "", _TOP, out)
    _deprecated_author(document, "", version, out)
    for member in ("home_page_url", "feed_url"):
        if member not in document:
            out.warn(None, f"missing-{member.replace('_', '-')}", f'the feed has no "{member}"')
    feed_url = document.get("feed_url")
    if self_url is not None and isinstance(feed_url, str) and feed_url != self_url:
        out.add(
            "feed_url",
            "feed-url-mismatch",
            f'"feed_url" "{feed_url}" is not the feed\'s URL "{self_url}"',
        )
    items = document.get("items")
    if isinstance(items, list):
        seen: dict[str, int] = {}
        for i, item in enumerate(items):
            where = f"items[{i}]"
            if not isinstance(item, dict):
                out.add(where, "json-type", f"{where} must be an object, not {_kind(item)}")
                continue
            _check_item(item, where, version, out)
            item_id = item.get("id")
            if isinstance(item_id, str | int) and not isinstance(item_id, bool):
                first = seen.setdefault(str(item_id), i)
                if first != i:
                    out.add(
                        f"{where}.id",
                        "duplicate-id",
                        f"{where}.id is the same as items[{first}].id: {_show(item_id)}",
                    )
    return out.problems


def _parse(data: bytes, out: _Out) -> Any:
    if data.startswith(codecs.BOM_UTF8):
        out.warn(None, "byte-order-mark", "JSON must not start with a byte-order mark (RFC 8259)")
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        out.add(None, "not-utf8", f"JSON must be UTF-8; byte {e.start} is not")
        return None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        what = "the feed is empty" if not text.strip() else f"not valid JSON: {e.msg}"
        out.add(None, "not-json", what, line=e.lineno)
    except _Duplicate as e:
        out.add(None, "duplicate-member", f'an object has the member "{e}" twice')
    except RecursionError:
        out.add(None, "too-deep", "the document nests arrays or objects too deep to read")
    except ValueError as e:  # NaN, Infinity; integers of more digits than Python reads
        out.add(None, "not-json", f"not valid JSON: {e}")
    return None


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Duplicate(key)
            seen.add(key)
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


# -- members -------------------------------------------------------------------------

Check = Callable[[Any, str, _Out], None]


def _string(value: Any, where: str, out: _Out) -> None:
    if not isinstance(value, str):
        out.add(where, "json-type", f"{where} must be a string, not {_kind(value)}")


def _url(value: Any, where: str, out: _Out) -> None:
    if not isinstance(value, str):
        _string(value, where, out)
        return
    fault = url_fault(value)
    if fault and fault.startswith("has characters"):  # an IRI: readers cope, most of them
        out.warn(where, "absolute-url", f'{where} "{value}" {fault}')
    elif fault:
        out.add(where, "absolute-url", f'{where} "{value}" {fault}')


def _date(value: Any, where: str, out: _Out) -> None:
    if not isinstance(value, str):
        _string(value, where, out)
        return
    fault = rfc3339_fault(value)
    if fault:
        out.add(where, "json-date", f'{where} "{value}" {fault}')


def _boolean(value: Any, where: str, out: _Out) -> None:
    if not isinstance(value, bool):
        out.add(where, "json-type", f"{where} must be true or false, not {_kind(value)}")


def _non_negative(value: Any, where: str, out: _Out) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        out.add(where, "json-type", f"{where} must be a number, not {_kind(value)}")
    elif value < 0:
        out.add(where, "json-number", f"{where} must not be negative, not {value}")


def _language(value: Any, where: str, out: _Out) -> None:
    _string(value, where, out)
    if isinstance(value, str) and not _LANGUAGE_TAG.match(value):  # readers guess: a warning
        out.warn(where, "json-language", f'{where} "{value}" is not a language tag like "zh-CN"')


def _mime_type(value: Any, where: str, out: _Out) -> None:
    _string(value, where, out)
    if isinstance(value, str) and not MIME_TYPE.match(value):
        out.add(where, "json-mime-type", f'{where} "{value}" is not a MIME type like "image/jpeg"')


def _array_of(check: Check) -> Check:
    def each(value: Any, where: str, out: _Out) -> None:
        if not isinstance(value, list):
            out.add(where, "json-type", f"{where} must be an array, not {_kind(value)}")
            return
        for i, element in enumerate(value):
            check(element, f"{where}[{i}]", out)

    return each


def _object_of(members: dict[str, tuple[Check, bool]]) -> Check:
    def check(value: Any, where: str, out: _Out) -> None:
        if not isinstance(value, dict):
            out.add(where, "json-type", f"{where} must be an object, not {_kind(value)}")
            return
        _check_members(value, where, members, out)

    return check


def _author(value: Any, where: str, out: _Out) -> None:
    _object_of(_AUTHOR)(value, where, out)
    if isinstance(value, dict) and not any(k in value for k in _AUTHOR):
        out.add(where, "empty-author", f'{where} must have a "name", "url" or "avatar"')


_AUTHOR: dict[str, tuple[Check, bool]] = {
    "name": (_string, False),
    "url": (_url, False),
    "avatar": (_url, False),
}
_HUB: dict[str, tuple[Check, bool]] = {"type": (_string, True), "url": (_url, True)}
_ATTACHMENT: dict[str, tuple[Check, bool]] = {
    "url": (_url, True),
    "mime_type": (_mime_type, True),
    "title": (_string, False),
    "size_in_bytes": (_non_negative, False),
    "duration_in_seconds": (_non_negative, False),
}
_TOP: dict[str, tuple[Check, bool]] = {
    "version": (_string, True),
    "title": (_string, True),
    "home_page_url": (_url, False),
    "feed_url": (_url, False),
    "description": (_string, False),
    "user_comment": (_string, False),
    "next_url": (_url, False),
    "icon": (_url, False),
    "favicon": (_url, False),
    "author": (_author, False),
    "authors": (_array_of(_author), False),
    "language": (_language, False),
    "expired": (_boolean, False),
    "hubs": (_array_of(_object_of(_HUB)), False),
    "items": (_array_of(lambda value, where, out: None), True),  # items: _check_item
}
_ITEM: dict[str, tuple[Check, bool]] = {
    "id": (lambda value, where, out: None, True),  # checked in _check_item
    "url": (_url, False),
    "external_url": (_url, False),
    "title": (_string, False),
    "content_html": (_string, False),
    "content_text": (_string, False),
    "summary": (_string, False),
    "image": (_url, False),
    "banner_image": (_url, False),
    "date_published": (_date, False),
    "date_modified": (_date, False),
    "author": (_author, False),
    "authors": (_array_of(_author), False),
    "tags": (_array_of(_string), False),
    "language": (_language, False),
    "attachments": (_array_of(_object_of(_ATTACHMENT)), False),
}


def _check_members(
    value: dict[str, Any], where: str, members: dict[str, tuple[Check, bool]], out: _Out
) -> None:
    prefix = f"{where}." if where else ""
    for name, (check, required) in members.items():
        if name in value:
            check(value[name], prefix + name, out)
        elif required:
            out.add(where or None, "missing-member", f'{where or "the feed"} has no "{name}"')
    for name in value:
        if name not in members and not name.startswith("_"):
            out.warn(
                prefix + name,
                "unknown-member",
                f'"{prefix}{name}" is not a JSON Feed member (extensions start with "_")',
            )


def _check_item(item: dict[str, Any], where: str, version: str, out: _Out) -> None:
    _check_members(item, where, _ITEM, out)
    item_id = item.get("id")
    if "id" in item:
        if isinstance(item_id, int | float) and not isinstance(item_id, bool):
            out.warn(f"{where}.id", "json-id", f"{where}.id should be a string, not a number")
        elif not isinstance(item_id, str):
            out.add(
                f"{where}.id", "json-type", f"{where}.id must be a string, not {_kind(item_id)}"
            )
        elif not item_id.strip():
            out.add(f"{where}.id", "json-id", f"{where}.id must not be empty")
    if "content_html" not in item and "content_text" not in item:
        out.add(where, "missing-content", f'{where} has neither "content_html" nor "content_text"')
    content = item.get("content_html")
    if isinstance(content, str) and out.warnings:  # a scan of all the content, for a warning
        relative = relative_references(content)
        if relative:
            out.warn(
                f"{where}.content_html",
                "relative-reference",
                f'{where}.content_html links to "{relative[0]}", which readers resolve against '
                "the feed's URL, not the post's: make it absolute",
            )
    _deprecated_author(item, where, version, out)


def _deprecated_author(value: dict[str, Any], where: str, version: str, out: _Out) -> None:
    if version == VERSIONS[0] and "author" in value and "authors" not in value:
        at = f"{where}.author" if where else "author"
        out.warn(at, "deprecated-member", f'"{at}" is JSON Feed 1.0\'s; 1.1 has "authors"')


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)[:80]
