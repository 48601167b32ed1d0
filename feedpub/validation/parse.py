"""Feed bytes → an lxml tree, hardened, and which kind of feed it is.

lxml reads with no network, no DTD and no entity expansion. A DOCTYPE is refused
before lxml sees the bytes, since entity declarations are how XXE and "billion
laughs" attacks get in; no feed needs one.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from html.entities import name2codepoint

from lxml import etree

from ..models import Severity
from .findings import ATOM_NS, Element, Findings, written_name

_ATOM_03_NS = "http://purl.org/atom/ns#"
_RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


_DOCTYPE = re.compile(
    r"""\ufeff? (?>\s+|<\?.*?\?>|<!--.*?-->)*+   # the prolog: a BOM, space, <?xml ...?>, comments
    <!DOCTYPE (?>\s+[^\s\[>]+ (?:\s+(?:SYSTEM|PUBLIC) (?:\s+(?:"[^"]*"|'[^']*'))+ )? \s*)
    (?P<end>[\[>])?                              # '[' opens an internal subset
    """,
    re.DOTALL | re.VERBOSE,
)
_PROLOG_SCAN = 64 * 1024


@dataclass(frozen=True, slots=True)
class Doctype:
    """A document's DOCTYPE, found before libxml2 reads the document."""

    line: int
    internal_subset: bool
    """Whether it opens an internal subset (or cannot be read): libxml2 must never see it."""
    entities: bool
    """Whether that subset declares entities."""


def find_doctype(data: bytes) -> Doctype | None:
    """The document's DOCTYPE, if it has one.

    Looked for in the bytes, so that an internal subset, where XXE attacks and entity
    bombs declare their entities, never reaches libxml2. A DOCTYPE can only come
    before the root element, in the first bytes; UTF-16 and UTF-32 are decoded first,
    anything else is read as Latin-1, in which '<', '!' and newlines are ASCII's bytes.
    """
    head = data[:_PROLOG_SCAN].removeprefix(codecs.BOM_UTF8)
    encoding = "latin-1"
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        encoding = "utf-32"
    elif head.startswith((b"<\0\0\0", b"\0\0\0<")):
        encoding = "utf-32-le" if head[0] else "utf-32-be"
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif head.startswith((b"<\0", b"\0<")):
        encoding = "utf-16-le" if head[0] else "utf-16-be"
    text = head.decode(encoding, errors="replace")
    match = _DOCTYPE.match(text)
    if match is None:
        return None
    line = text.count("\n", 0, match.start("end") if match["end"] else match.end()) + 1
    internal = match["end"] != ">"  # a DOCTYPE we cannot read counts as one
    return Doctype(line, internal, internal and "<!ENTITY" in text[match.end() :])


def report_doctype(doctype: Doctype, out: Findings) -> None:
    if doctype.entities:
        out.add(
            None,
            "entity-declaration",
            "the DOCTYPE declares entities, which feedpub never "
            "expands (it is how XXE and entity-bomb attacks work); a feed needs no DOCTYPE",
            line=doctype.line,
        )
    else:
        out.add(
            None,
            "doctype-forbidden",
            "a feed must not have a DOCTYPE: readers do not load "
            "DTDs, so anything it defines is lost",
            line=doctype.line,
        )


_PARSER_OPTIONS: dict[str, bool] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
}


def _only_namespace_warnings(log: etree._ListErrorLog) -> bool:
    """Whether all libxml2 found is namespace names that are not URIs (not XML errors)."""
    entries = list(log)
    return bool(entries) and all(e.type_name.startswith("WAR_NS_URI") for e in entries)


def parse(data: bytes, out: Findings, has_doctype: bool) -> Element | None:
    """The document's root element, or None after reporting why it cannot be read."""
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        if not _only_namespace_warnings(parser.error_log):
            _report_syntax_error(parser.error_log, out)
            return None
        # Well-formed, with a namespace name that is not a URI (xmlns:dc="urn:a}b"): lxml
        # raises for libxml2's warning; the document reads the same when it goes on.
        warnings = list(parser.error_log)
        root = etree.fromstring(data, etree.XMLParser(**_PARSER_OPTIONS, recover=True))
        for warning in warnings:
            out.add(None, "namespace-uri", warning.message.strip(), Severity.WARNING, warning.line)
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and not has_doctype:  # `find_doctype` missed it (after 64 KB of comments?)
        report_doctype(Doctype(1, True, any(dtd.iterentities())), out)
        return None
    return root


_TAG_MISMATCH = re.compile(r"Opening and ending tag mismatch: (\S+) line (\d+) and (\S+)")


def _report_syntax_error(log: etree._ListErrorLog, out: Findings) -> None:
    """libxml2 stops at the first fatal error; report that one, in words."""
    first = next((e for e in log if e.level_name in ("ERROR", "FATAL")), None)
    if first is None:
        out.add(None, "not-well-formed", "the feed is not well-formed XML")
        return
    line, message, kind = first.line or None, first.message.strip(), first.type_name
    entity = re.search(r"Entity '([^']+)' not defined", message)
    mismatch = _TAG_MISMATCH.search(message)
    if entity:
        name = entity[1]
        hint = f"; write &#{name2codepoint[name]}; instead" if name in name2codepoint else ""
        out.add(
            None,
            "undefined-entity",
            f"&{name}; is not defined in XML (only &amp; &lt; &gt; &quot; &apos; are){hint}",
            line=line,
        )
        return
    if kind in ("ERR_RESOURCE_LIMIT", "ERR_NAME_TOO_LONG") or "huge" in message.lower():
        out.add(
            None,
            "parser-limit",
            f"the feed goes past a safety limit of the XML parser: {message}",
            line=line,
        )
        return
    if kind == "ERR_DOCUMENT_EMPTY":
        message = "the feed is empty"
    elif kind == "ERR_NAME_REQUIRED" and "EntityRef" in message:
        message = 'a bare "&" must be written "&amp;"'
    elif mismatch:
        message = f"<{mismatch[1]}> (line {mismatch[2]}) is closed by </{mismatch[3]}>"
    out.add(None, "not-well-formed", f"the feed is not well-formed XML: {message}", line=line)


def feed_kind(root: Element, out: Findings) -> str | None:
    """'rss' or 'atom', or None after saying why this document is neither."""
    tag = etree.QName(root)
    if root.tag == "rss":
        return "rss"
    if tag.namespace == ATOM_NS and tag.localname == "feed":
        return "atom"
    if tag.localname == "feed":
        if tag.namespace == _ATOM_03_NS:
            why = f"is in the Atom 0.3 namespace {_ATOM_03_NS}; Atom 1.0's is {ATOM_NS}"
        else:
            why = f'must be in the Atom namespace: write <feed xmlns="{ATOM_NS}">'
        out.add(root, "wrong-namespace", f"<{written_name(root)}> {why}")
    elif tag.localname == "rss":
        out.add(
            root,
            "wrong-namespace",
            f"<{written_name(root)}> must not be in a namespace (it is in {tag.namespace})",
        )
    elif tag.namespace == _RDF_NS:
        out.add(
            root,
            "unknown-root",
            f"<{written_name(root)}> makes this an RSS 1.0 feed; feedpub checks RSS 2.0 and "
            "Atom 1.0 only",
        )
    else:
        out.add(
            root,
            "unknown-root",
            f"<{written_name(root)}> is not a feed: the root must be "
            "<rss> (RSS 2.0) or <feed> (Atom 1.0)",
        )
    return None
