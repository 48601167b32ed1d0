"""The structure of a feed, checked against RELAX NG schemas written for feedpub
(schemas/rss20.rng and atom10.rng beside this file), with libxml2's terse messages put into
words that name the element at fault.
"""

from __future__ import annotations

import functools
import pkgutil
import re
import threading
from itertools import islice
from typing import NamedTuple

from lxml import etree

from .findings import ATOM_NS, MAX_PER_RULE, Element, Findings, written_name

_RNG = "{http://relaxng.org/ns/structure/1.0}"


def _schema(file: str, start: str | None = None) -> etree.RelaxNG:
    """The RELAX NG grammar in schemas/`file`, compiled once (per thread: a
    RelaxNG object keeps the error log of its last run, so threads must not share one).

    With `start`, the same grammar with its start pattern replaced by the define of
    that name, to check one <item> or <entry> at a time (see `check_structure`).
    """
    return _compiled(file, start, threading.get_ident())


@functools.cache
def _compiled(file: str, start: str | None, thread: int) -> etree.RelaxNG:
    # `thread` only keys the cache
    # pkgutil, not importlib.resources: the same package data, at a tenth of the import cost.
    data = pkgutil.get_data(__package__, f"schemas/{file}")
    assert data is not None, "the schemas are package data of feedpub.validation"
    grammar = etree.fromstring(data)
    if start is not None:
        pattern = grammar.find(_RNG + "start")
        pattern[:] = [etree.Element(_RNG + "ref", name=start)]
    return etree.RelaxNG(grammar)


def prepare() -> None:
    """Compile every schema now, in this thread: before worker processes are forked, which
    then share the compiled grammars (about 1 MB) instead of each compiling its own."""
    for file, unit in _UNITS.values():
        _schema(file)
        _schema(file, unit)


_UNITS = {"rss": ("rss20.rng", "item"), "atom": ("atom10.rng", "entry")}
"""Each kind of feed → its schema's file and the define of one item or entry."""


def check_structure(root: Element, kind: str, out: Findings) -> None:
    """Check the document against its schema: the feed, then each item or entry alone.

    libxml2 checks an <interleave> (the schemas' "these, in any order") in time
    quadratic in the element's children: 20,000 items take 0.2 s as one <channel>,
    50,000 children of one element take seconds. So the schema checks the feed without
    its items or entries, then each of those against the item/entry grammar. A fault
    is always found again in a copy (`_Shadow`): libxml2's error paths name the wrong
    element when the document has a default namespace (see `_Shadow`).
    """
    file, unit = _UNITS[kind]
    container = root.find("channel") if kind == "rss" else root
    unit_schema = _schema(file, unit)
    try:
        feed = _Shadow(root, kind, container)
        shadows = [(_schema(file), feed)]
        unexplained = 0
        for element in feed.units:
            small = sum(1 for _ in islice(element.iter(), _SMALL_UNIT + 1)) <= _SMALL_UNIT
            # the usual case, a small valid item, is checked as it is, without a copy
            if small and unit_schema.validate(element):
                continue
            if len(shadows) <= _MAX_EXPLAINED or not small:
                shadows.append((unit_schema, _Shadow(element, kind)))
            else:  # said in words for the first ones; the others only counted
                unexplained += 1
    except _TooMany as exc:
        name, (what, limit) = written_name(exc.element), _LIMITS[exc.rule]
        out.add(
            exc.element,
            exc.rule,
            f"<{name}> has more than {limit:,} {what}, more than feedpub checks",
        )
        return
    for schema, shadow in shadows:
        if not schema.validate(shadow.root):
            _explain(schema.error_log, shadow, kind, out)
    if unexplained:
        out.add(
            None,
            "schema",
            f"and {unexplained:,} more <{unit}>s that break the {_VOCABULARIES[kind].name} schema "
            "(fix the ones above first)",
        )


_MAX_EXPLAINED = MAX_PER_RULE
"""Items or entries that break the schema whose faults are put into words."""
_SMALL_UNIT = 200
"""An item or entry with at most this many elements is checked as it is; a larger one
(long XHTML content, say) is checked as a `_Shadow`, which costs more per element."""
_MAX_CHILDREN = 1000
"""No feed element needs more children (items and entries are checked apart); the cap
keeps a hostile feed from making the schema check quadratic."""
_MAX_ATTRIBUTES = 100
"""Nor more attributes: copying an element's attributes takes time quadratic in their
number (libxml2 looks through the ones set for each one it sets)."""
_LIMITS = {
    "too-many-children": ("child elements", _MAX_CHILDREN),
    "too-many-attributes": ("attributes", _MAX_ATTRIBUTES),
}


def _attributes(el: Element) -> Element:
    if len(el.attrib) > _MAX_ATTRIBUTES:
        raise _TooMany(el, "too-many-attributes")
    return el.attrib


class _TooMany(Exception):
    def __init__(self, element: Element, rule: str) -> None:
        super().__init__()
        self.element = element
        self.rule = rule


class _Shadow:
    """A copy of (part of) a feed for the schema to check, and the elements copied.

    Kept: elements, attributes, text. Left out: the items or entries of `container`
    (listed in `units`, to be checked one by one), comments, and what the schemas
    accept whatever it holds: the content of extension elements, of XHTML <div>s and
    of atom:content. `originals[i]` is the element that the i-th element of
    `root.iter()` copies, for reporting a fault where it is in the feed.

    No element of the copy is in a default namespace (Atom's gets the prefix a:), so
    libxml2's error paths name elements (a:title[2]) instead of counting them (*[2]):
    while it checks an <interleave> libxml2 relinks siblings, and counts them wrongly.
    """

    def __init__(self, top: Element, kind: str, container: Element | None = None) -> None:
        self.own = "" if kind == "rss" else f"{{{ATOM_NS}}}"
        self.container = container
        self.unit_tag = "item" if kind == "rss" else f"{{{ATOM_NS}}}entry"
        self.units: list[Element] = []
        self.originals: list[Element] = []
        self.root = etree.Element(top.tag, _attributes(top), nsmap={"a": ATOM_NS})
        self._copy(top, self.root)

    def _copy(self, el: Element, copy: Element) -> None:
        self.originals.append(el)
        copy.text = el.text
        opaque = el.tag == f"{{{ATOM_NS}}}content"
        for child in el:
            tag = child.tag
            if not isinstance(tag, str) or (el is self.container and tag == self.unit_tag):
                if isinstance(tag, str):
                    self.units.append(child)
                if child.tail and not child.tail.isspace():  # stray text: let the schema see it
                    if len(copy):
                        copy[-1].tail = (copy[-1].tail or "") + child.tail
                    else:
                        copy.text = (copy.text or "") + child.tail
                continue
            if len(copy) == _MAX_CHILDREN:
                raise _TooMany(el, "too-many-children")
            foreign = tag.startswith("{") if not self.own else not tag.startswith(self.own)
            if opaque or foreign:
                etree.SubElement(copy, tag).tail = child.tail
                self.originals.append(child)
            else:
                self._copy(child, etree.SubElement(copy, tag, _attributes(child)))
                copy[-1].tail = child.tail


class _Vocabulary(NamedTuple):
    """What a schema says, restated to put libxml2's errors into words: for a feed that
    lacks its <title>, libxml2 says "Expecting an element link, got nothing"."""

    name: str
    required: dict[str, tuple[str, ...]]  # element → its required children
    attributes: dict[str, tuple[str, ...]]  # element → its required attributes
    values: dict[tuple[str, str], str]  # (element, attribute) → the values allowed


_TEXT_TYPE = '"text", "html" or "xhtml"'
_VOCABULARIES = {
    "rss": _Vocabulary(
        "RSS 2.0",
        {
            "rss": ("channel",),
            "channel": ("title", "link", "description"),
            "image": ("url", "title", "link"),
            "textInput": ("title", "description", "name", "link"),
            "skipHours": ("hour",),
            "skipDays": ("day",),
        },
        {
            "rss": ("version",),
            "enclosure": ("url", "length", "type"),
            "source": ("url",),
            "cloud": ("domain", "port", "path", "registerProcedure", "protocol"),
        },
        {
            ("rss", "version"): '"2.0" (feedpub checks RSS 2.0 only)',
            ("guid", "isPermaLink"): '"true" or "false"',
        },
    ),
    "atom": _Vocabulary(
        "Atom 1.0",
        {
            "feed": ("id", "title", "updated"),
            "entry": ("id", "title", "updated"),
            "author": ("name",),
            "contributor": ("name",),
        },
        {"link": ("href",), "category": ("term",)},
        {
            **{(name, "type"): _TEXT_TYPE for name in ("title", "subtitle", "rights", "summary")},
            ("content", "type"): f"{_TEXT_TYPE} or a MIME type",
            ("link", "type"): "a MIME type",
        },
    ),
}
_MESSAGE_NAME = re.compile(r"(?:element|content:|Type) (\S+?)(?:,? |$)")
_MESSAGE_VALUE = re.compile(r"value '(.*)'")


def _explain(log: etree._ListErrorLog, shadow: _Shadow, kind: str, out: Findings) -> None:
    """Turn libxml2's RELAX NG error log for one unit into Problems a person can act on.

    libxml2 reports the innermost fault first and stops there; what follows are its
    echoes ("Extra element item in interleave", "Element channel failed to validate
    content"). So the first entry says what is wrong, and the first entry with a path
    says where (libxml2 leaves the path out of some entries).
    """
    entries = list(log)
    first = entries[0]
    path = next((e.path for e in entries if e.path), None)
    el = _locate(shadow, path)
    if el is None:
        out.add(None, "schema", first.message, line=first.line or None)
        return
    name, local = written_name(el), etree.QName(el).localname
    words = _VOCABULARIES[kind]
    mentioned = _MESSAGE_NAME.search(first.message)
    other = mentioned[1] if mentioned else "?"
    match first.type_name:
        case "RELAXNG_ERR_NOELEM" if local == "item":
            out.add(el, "required-element", "<item> must have a <title> or a <description>")
        case "RELAXNG_ERR_NOELEM":
            present = {etree.QName(c).localname for c in el if isinstance(c.tag, str)}
            missing = [r for r in words.required.get(local, (other,)) if r not in present]
            for child in missing or [other]:
                out.add(el, "required-element", f"<{name}> is missing required <{child}>")
        case "RELAXNG_ERR_INTEREXTRA" | "RELAXNG_ERR_EXTRACONTENT" if other == "text":
            out.add(el, "unexpected-text", f"<{name}> must not contain text")
        case "RELAXNG_ERR_NOTELEM":
            out.add(el, "unexpected-text", f"<{name}> must hold elements, not text")
        case "RELAXNG_ERR_ELEMWRONG" if other == "text":
            out.add(el, "unexpected-text", f"text is not allowed directly in <{name}>")
        case "RELAXNG_ERR_INTEREXTRA" | "RELAXNG_ERR_EXTRACONTENT" | "RELAXNG_ERR_ELEMWRONG":
            if local != other:  # libxml2 named the parent (it does for the root): find the child
                same = [
                    c for c in el if isinstance(c.tag, str) and etree.QName(c).localname == other
                ]
                el = same[1] if len(same) > 1 else same[0] if same else el
                name = written_name(el)
            parent = el.getparent()
            where = written_name(parent) if parent is not None else "the document"
            if parent is not None and parent.get("type") == "xhtml":
                out.add(
                    parent,
                    "xhtml-div",
                    f'<{where} type="xhtml"> must hold exactly one '
                    '<div xmlns="http://www.w3.org/1999/xhtml">',
                )
            elif any(sib.tag == el.tag for sib in el.itersiblings(preceding=True)):
                out.add(el, "duplicate-element", f"<{where}> has more than one <{name}>")
            else:
                out.add(
                    el,
                    "unexpected-element",
                    f"<{name}> is not allowed in <{where}>: {words.name} does not define it there",
                )
        case "RELAXNG_ERR_ATTRVALID" | "RELAXNG_ERR_INVALIDATTR":
            _explain_attributes(el, words, first.message, out)
        case "RELAXNG_ERR_TYPEVAL" | "RELAXNG_ERR_VALUE" | "RELAXNG_ERR_DATATYPE":
            value = _MESSAGE_VALUE.search(first.message)
            shown = value[1] if value else str(el.text or "").strip()
            out.add(
                el, "invalid-value", f'<{name}> "{shown}" is not a value {words.name} allows here'
            )
        case _:
            out.add(el, "schema", f"<{name}>: {first.message}")


def _explain_attributes(el: Element, words: _Vocabulary, message: str, out: Findings) -> None:
    """An attribute is missing, unknown, or has a value the schema does not allow."""
    name, local = written_name(el), etree.QName(el).localname
    missing = [a for a in words.attributes.get(local, ()) if el.get(a) is None]
    for absent in missing:
        out.add(el, "required-attribute", f"<{name}> is missing required attribute {absent}")
    if missing:
        return
    named = re.search(r"Invalid attribute (\S+)", message)
    valued = [a for a in el.attrib if (local, a) in words.values]
    attribute = named[1] if named else valued[0] if valued else None
    if attribute is None:
        out.add(el, "invalid-attribute", f"<{name}>: {message}")
        return
    value = el.get(attribute)
    if attribute == "src" and local == "content":
        out.add(
            el, "unexpected-text", f'<{name} src="{value}"> must be empty: its content is elsewhere'
        )
    elif attribute == "type" and value == "xhtml":
        out.add(
            el,
            "xhtml-div",
            f'<{name} type="xhtml"> must hold exactly one '
            '<div xmlns="http://www.w3.org/1999/xhtml">',
        )
    elif (local, attribute) in words.values:
        allowed = words.values[local, attribute]
        out.add(
            el,
            "invalid-attribute",
            f'<{name}> {attribute}="{value}" is not allowed: it must be {allowed}',
        )
    else:
        out.add(
            el,
            "unexpected-attribute",
            f"<{name}> has an attribute {attribute} that {words.name} does not define",
        )


def _locate(shadow: _Shadow, path: str | None) -> Element | None:
    """The feed element whose copy libxml2's error `path` names."""
    tree = shadow.root.getroottree()
    pairs = zip(shadow.root.iter(), shadow.originals, strict=True)
    return next((original for copy, original in pairs if tree.getpath(copy) == path), None)
