"""The rules of RSS 2.0 and Atom 1.0 that a RELAX NG schema cannot state.

A schema says which elements go where; it cannot say that a `<pubDate>` is a real
RFC 822 date, that a guid is unique, or that an Atom entry needs an author only when
its feed has none. These checks do, on the tree `parse.py` has read.

Severity follows the W3C Feed Validation Service (validator.w3.org/feed), which is
what feed authors check against: what it calls an error is an error here, what it
only recommends is a warning. The few places that differ say so.

Speed matters: feedpub validates every feed it writes. Each check looks at the
children of `<channel>`/`<item>` or `<feed>`/`<entry>` once, and HTML content is
scanned with one regular expression, never parsed.
"""

from __future__ import annotations

from ..models import Severity
from .findings import ATOM_NS, Element, Findings, written_name
from .values import (
    EMAIL,
    HAS_EMAIL,
    MIME_TYPE,
    SCHEME,
    atom_id_fault,
    relative_references,
    rfc822_fault,
    rfc3339_fault,
    url_fault,
)

_A = "{" + ATOM_NS + "}"
_CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
_ID, _UPDATED, _PUBLISHED = _A + "id", _A + "updated", _A + "published"
_AUTHOR, _CONTRIBUTOR, _LINK = _A + "author", _A + "contributor", _A + "link"
_ENTRY, _CONTENT, _SUMMARY, _SOURCE = _A + "entry", _A + "content", _A + "summary", _A + "source"

KNOWN_PREFIXES = {
    "atom": ATOM_NS,
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "media": "http://search.yahoo.com/mrss/",
    "slash": "http://purl.org/rss/1.0/modules/slash/",
    "sy": "http://purl.org/rss/1.0/modules/syndication/",
    "wfw": "http://wellformedweb.org/CommentAPI/",
}
"""Prefixes whose namespace readers look for by name: bound to another namespace (a
missing slash, a typo), their elements are silently ignored."""


# -- shared checks ------------------------------------------------------------------


def _text(el: Element) -> str:
    return str(el.text or "").strip()


def _check_url(el: Element, out: Findings, value: str | None = None, attr: str = "") -> None:
    value = _text(el) if value is None else value
    fault = url_fault(value)
    if fault:
        what = f"<{written_name(el)}> {attr}" if attr else f"<{written_name(el)}>"
        out.add(el, "absolute-url", f'{what} "{value}" {fault}')


def _check_references(el: Element, out: Findings) -> None:
    if not out.warnings:  # only ever a warning, and a scan of all the content
        return
    text = el.text  # read once: lxml makes a new string of the (long) content each time
    refs = relative_references(text) if text else []
    if refs:
        more = f" (and {len(refs) - 1} more)" if len(refs) > 1 else ""
        out.warn(
            el,
            "relative-reference",
            f'<{written_name(el)}> links to the relative URL "{refs[0]}"{more}; readers resolve '
            "it against the feed's URL, not the page's, so make it absolute",
        )


def _check_self_links(
    parent: Element, links: list[Element], out: Findings, self_url: str | None
) -> None:
    """RFC 4287 and the RSS Best Practices Profile: a feed names its own URL."""
    selves = [link for link in links if link.get("rel") == "self"]
    if not selves:
        out.warn(
            parent,
            "missing-self-link",
            f'<{written_name(parent)}> has no <atom:link rel="self"> giving the feed\'s own URL',
        )
    for link in selves:
        href = link.get("href") or ""
        if self_url is not None and href != self_url:
            out.add(
                link,
                "self-link-mismatch",
                f'<{written_name(link)} rel="self"> href "{href}" is not the feed\'s URL "{self_url}"',
            )
        elif self_url is None and not SCHEME.match(href):
            out.warn(
                link,
                "relative-self",
                f'<{written_name(link)} rel="self"> href "{href}" is relative',
            )


def check_namespaces(root: Element, out: Findings) -> None:
    """A well-known prefix bound to another namespace: readers will ignore its elements."""
    for prefix, uri in root.nsmap.items():
        expected = KNOWN_PREFIXES.get(prefix)
        if expected is None or uri == expected:
            continue
        first = next(root.iter(f"{{{uri}}}*"), None)
        where = first if first is not None else root
        severity = Severity.WARNING
        if uri == "http://search.yahoo.com/mrss":  # the W3C validator's MediaRssNamespace
            severity = Severity.ERROR
        out.add(
            where,
            "wrong-namespace",
            f'<{written_name(where)}>: the prefix {prefix}: is bound to "{uri}", but readers '
            f'look for {prefix}: elements in "{expected}" only',
            severity,
        )


# -- RSS 2.0 ------------------------------------------------------------------------


def _check_rss_date(el: Element, out: Findings) -> None:
    fault = rfc822_fault(_text(el))
    if fault:
        rule, reason = fault
        severity = Severity.WARNING if rule == "rss-date-obsolete" else Severity.ERROR
        out.add(el, rule, f'<{written_name(el)}> "{_text(el)}" {reason}', severity)


def _check_rss_email(el: Element, out: Findings) -> None:
    """RSS 2.0 wants an e-mail address ("jane@example.com (Jane Doe)") in <author>,
    <managingEditor> and <webMaster>; the W3C validator rejects a bare name."""
    if not HAS_EMAIL.search(_text(el)):
        out.add(
            el,
            "rss-email",
            f'<{written_name(el)}> "{_text(el)}" is not an e-mail address; RSS 2.0 wants '
            '"jane@example.com (Jane Doe)" (a name alone can go in <dc:creator>)',
        )


def _check_hub_links(links: list[Element], out: Findings) -> None:
    """WebSub 4: a subscriber POSTs to the hub's URL, so it must be an absolute http(s) URL."""
    for link in links:
        if link.get("rel") == "hub":
            _check_url(link, out, link.get("href") or "", 'rel="hub" href')


def check_rss(root: Element, out: Findings, self_url: str | None) -> None:
    """The value rules of an RSS 2.0 document whose root is <rss>."""
    check_namespaces(root, out)
    channel = root.find("channel")
    if channel is None:
        return  # the schema has said so
    links: list[Element] = []
    guids: dict[str, int] = {}
    for child in channel:
        tag = child.tag
        if tag in ("link", "docs"):
            _check_url(child, out)
        elif tag in ("pubDate", "lastBuildDate"):
            _check_rss_date(child, out)
        elif tag in ("managingEditor", "webMaster"):
            _check_rss_email(child, out)
        elif tag in ("image", "textInput"):
            for sub in child:
                if sub.tag in ("url", "link"):
                    _check_url(sub, out)
        elif tag == _LINK:
            links.append(child)
        elif tag == "item":
            _check_rss_item(child, out, guids)
    _check_self_links(channel, links, out, self_url)
    _check_hub_links(links, out)


def _check_rss_item(item: Element, out: Findings, guids: dict[str, int]) -> None:
    enclosures = 0
    has_guid = False
    for child in item:
        tag = child.tag
        if tag in ("link", "comments"):
            _check_url(child, out)
        elif tag == "guid":
            has_guid = True
            _check_guid(child, out, guids)
        elif tag == "pubDate":
            _check_rss_date(child, out)
        elif tag == "author":
            _check_rss_email(child, out)
        elif tag in ("description", _CONTENT_ENCODED):
            _check_references(child, out)
        elif tag == "source" and child.get("url") is not None:
            _check_url(child, out, child.get("url"), "url")
        elif tag == "enclosure":
            enclosures += 1
            if enclosures == 2:
                out.warn(
                    child,
                    "multiple-enclosures",
                    "<item> has more than one <enclosure>; most readers take only the first",
                )
            _check_enclosure(child, out)
    if not has_guid:
        out.warn(
            item,
            "missing-guid",
            "<item> has no <guid>: readers cannot tell it from an "
            "edited copy, and may show it twice",
        )


def _check_guid(guid: Element, out: Findings, guids: dict[str, int]) -> None:
    value = _text(guid)
    # RSS 2.0: isPermaLink defaults to true, and then the guid is the item's URL.
    if guid.get("isPermaLink", "true") == "true":
        fault = url_fault(value)
        if fault:
            out.add(
                guid,
                "absolute-url",
                f'<guid> "{value}" {fault}; a guid that is not a URL needs isPermaLink="false"',
            )
    item = guid.getparent().sourceline or 0
    first = guids.setdefault(value, item)
    if first != item:
        out.add(
            guid, "duplicate-guid", f'<guid> "{value}" is also the guid of the item on line {first}'
        )


def _check_enclosure(el: Element, out: Findings) -> None:
    url, length, mime = el.get("url"), el.get("length"), el.get("type")
    if url is not None:
        _check_url(el, out, url, "url")
    # 0 is "unknown length" in the RSS Best Practices Profile, so it is fine.
    if length is not None and not length.strip().isdigit():
        out.add(
            el,
            "enclosure-length",
            f'<enclosure> length "{length}" is not a number of bytes (use 0 when unknown)',
        )
    if mime is not None and not MIME_TYPE.match(mime.strip()):
        out.add(
            el, "enclosure-type", f'<enclosure> type "{mime}" is not a MIME type like audio/mpeg'
        )


# -- Atom 1.0 -----------------------------------------------------------------------


def _check_atom_value(el: Element, out: Findings) -> None:
    """atom:id, atom:updated and atom:published, wherever they are."""
    value = str(el.text or "")
    if el.tag == _ID:
        fault = atom_id_fault(value)
        if fault is None and value != value.strip():
            fault = "has spaces around it"
        if fault:
            out.add(el, "atom-id", f'<{written_name(el)}> "{value.strip()}" {fault}')
    else:
        fault = rfc3339_fault(value)
        if fault:
            out.add(el, "atom-date", f'<{written_name(el)}> "{value}" {fault}')


def _check_person(person: Element, out: Findings) -> None:
    for email in person.iterchildren(_A + "email"):
        if not EMAIL.match(_text(email)):
            out.add(
                email,
                "atom-email",
                f'<{written_name(email)}> "{_text(email)}" is not an e-mail address',
            )


def _check_alternates(parent: Element, links: list[Element], out: Findings) -> None:
    """RFC 4287 4.1.1: no two alternate links with the same type and hreflang."""
    seen: set[tuple[str | None, str | None]] = set()
    for link in links:
        if link.get("rel", "alternate") != "alternate":
            continue
        key = (link.get("type"), link.get("hreflang"))
        if key in seen:
            out.add(
                link,
                "duplicate-alternate",
                f"<{written_name(parent)}> has two <link "
                'rel="alternate"> with the same type and hreflang',
            )
        seen.add(key)


def check_atom(root: Element, out: Findings, self_url: str | None) -> None:
    """The value rules of an Atom 1.0 document whose root is <feed>."""
    check_namespaces(root, out)
    links: list[Element] = []
    entries: list[Element] = []
    has_author = False
    for child in root:
        tag = child.tag
        if tag == _ENTRY:
            entries.append(child)
            continue
        if entries and isinstance(tag, str) and tag.startswith(_A):
            out.add(
                child,
                "misplaced-element",
                f"<{written_name(child)}> must come before the first <entry>",
            )
        if tag in (_ID, _UPDATED):
            _check_atom_value(child, out)
        elif tag in (_AUTHOR, _CONTRIBUTOR):
            has_author |= tag == _AUTHOR
            _check_person(child, out)
        elif tag == _LINK:
            links.append(child)
    _check_self_links(root, links, out, self_url)
    _check_hub_links(links, out)
    _check_alternates(root, links, out)
    ids: dict[str, int] = {}
    for entry in entries:
        _check_entry(entry, out, has_author, ids)


def _check_entry(entry: Element, out: Findings, feed_has_author: bool, ids: dict[str, int]) -> None:
    has_author = feed_has_author
    content = summary = None
    links: list[Element] = []
    for child in entry:
        tag = child.tag
        if tag in (_ID, _UPDATED, _PUBLISHED):
            _check_atom_value(child, out)
            if tag == _ID:
                first = ids.setdefault(_text(child), entry.sourceline or 0)
                if first != (entry.sourceline or 0):
                    out.warn(
                        child,
                        "duplicate-id",
                        f'<{written_name(child)}> "{_text(child)}" '
                        f"is also the id of the entry on line {first}",
                    )
        elif tag in (_AUTHOR, _CONTRIBUTOR):
            has_author |= tag == _AUTHOR
            _check_person(child, out)
        elif tag == _LINK:
            links.append(child)
        elif tag == _CONTENT:
            content = child
        elif tag == _SUMMARY:
            summary = child
        elif tag == _SOURCE:
            has_author |= child.find(_AUTHOR) is not None
            for sub in child:
                if sub.tag in (_ID, _UPDATED):
                    _check_atom_value(sub, out)
    name = written_name(entry)
    if not has_author:
        out.add(entry, "missing-author", f"<{name}> has no <author>, and neither has the feed")
    if content is None and not any(link.get("rel", "alternate") == "alternate" for link in links):
        out.add(
            entry,
            "content-or-alternate",
            f'<{name}> has neither <content> nor a <link rel="alternate">',
        )
    if content is not None and summary is None and _needs_summary(content):
        out.add(
            entry,
            "missing-summary",
            f"<{name}> needs a <summary>: its <content> is not text a reader can show",
        )
    _check_alternates(entry, links, out)


def _needs_summary(content: Element) -> bool:
    """RFC 4287 4.1.1.1: out-of-line content, or content that is neither text nor XML.

    (A MUST in the RFC that the W3C validator misses for out-of-line content.)
    """
    if content.get("src") is not None:
        return True
    mime = content.get("type", "text")
    if "/" not in mime:
        return False  # text, html, xhtml, or a bad type the schema reports
    return not (mime.startswith("text/") or mime.endswith(("+xml", "/xml")))
