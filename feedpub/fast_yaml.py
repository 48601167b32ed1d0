"""A fast path for YAML front matter: the Rust parser yaml-rs, where it agrees with PyYAML.

PyYAML (YAML 1.1, with libyaml's scanner) is what feedpub's bad-input policy is written
against: its errors, their lines, its refusal of tags, its booleans (`no` is false). Its
constructor runs in Python, though, and costs a third of reading a scraped post; yaml-rs
parses the same front matter about four times faster. yaml-rs reads YAML 1.2, so it is
used only where the two cannot differ, and PyYAML decides everything else:

- blocks with tags, anchors, aliases, directives, block scalars, reserved indicators,
  backslash escapes, tabs, document markers, a colon at either end of a plain scalar in a
  flow collection, or characters PyYAML's reader refuses go to PyYAML;
- a result goes back to PyYAML if any string in it (key or value) is one YAML 1.1 would
  read as something else (`yes`, `1_000`, `2021-08-09`, `<<`, …), or if it holds a
  number, where the two versions' rules differ (`012`, `1e3`);
- a block yaml-rs refuses goes to PyYAML, whose error (and line) the user sees.

Duplicate keys go to PyYAML too (it keeps the last value, but builds, and may refuse,
every one). tests/test_fast_yaml.py compares the
two on random front matter and on every case in tests/cases.

PyYAML itself is not imported here: its reader compiles a pattern over all of Unicode
when it is imported, which made importing PyYAML cost more than reading one post (a
build that reads one changed post, or none, needs it only for a block that goes to it).
So YAML 1.1's implicit types are written out below, as PyYAML resolves them; a test
holds them equal to PyYAML's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml_rs

# What PyYAML would treat differently, or reads with rules yaml-rs does not share (besides
# document markers, looked for apart, and a node at the block's start: _FIRST_NODE).
_PYYAML_ONLY = re.compile(
    # a tag, anchor, alias, block scalar, directive or reserved indicator where a node starts
    # (after a line break, not ^: with ^ in MULTILINE the search of a block with a % in it
    # took two and a half times as long)
    r"[-:?,\[\]{}\n][ \t]*[!&*|>@`%]|"
    r"[\\\t\x85\u2028\u2029\ufeff]|"
    # characters PyYAML's reader refuses (it names them; the lenient reading may take over):
    # all but TAB, LF, CR, U+0020-U+007E, U+00A0-U+D7FF, U+E000-U+FFFD and U+10000 up, listed
    # (as in text.XML_ILLEGAL: compiling "[^…]" over those ranges costs milliseconds)
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]"
)
_FIRST_NODE = re.compile(r"[ \t]*[!&*|>@`%]")
# A colon that ends a plain scalar in a flow collection with no space after it (`{a:}`), or
# starts one (`[:a]`): YAML 1.2 reads them, PyYAML refuses them.
_FLOW_COLON = re.compile(r":[,\[\]{}]|[\[{,][ \t\n]*:")
# Any character _PYYAML_ONLY looks for: one quick scan clears most blocks. (Listed, not as
# "[^…]": the indicators !%&*>@\`| and TAB, the C0 and C1 controls, U+2028, U+2029, surrogates,
# U+FEFF, U+FFFE and U+FFFF.)
_SUSPECT = re.compile(
    r"[\x00-\x09\x0b\x0c\x0e-\x1f\x21\x25\x26\x2a\x3e\x40\x5c\x60\x7c\x7f-\x9f"
    r"\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]"
)
_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
"""YAML 1.1's implicit types by the first character of a plain scalar, as PyYAML's
`Resolver.yaml_implicit_resolvers` has them: what makes `no` false and `1_000` a number."""


def _implicit(tag: str, pattern: str, firsts: str | list[str]) -> None:
    regexp = re.compile(pattern, re.X)
    for first in firsts:
        _IMPLICIT.setdefault(first, []).append((f"tag:yaml.org,2002:{tag}", regexp))


_implicit("bool", r"""^(?:yes|Yes|YES|no|No|NO
    |true|True|TRUE|false|False|FALSE
    |on|On|ON|off|Off|OFF)$""", "yYnNtTfFoO")  # fmt: skip
_implicit("float", r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", "-+0123456789.")  # fmt: skip
_implicit("int", r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+
    |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$""", "-+0123456789")  # fmt: skip
_implicit("merge", r"^(?:<<)$", "<")
_implicit("null", r"""^(?: ~
    |null|Null|NULL
    | )$""", ["~", "n", "N", ""])  # fmt: skip
_implicit("timestamp", r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
    |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
     (?:[Tt]|[ \t]+)[0-9][0-9]?
     :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
     (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""", "0123456789")  # fmt: skip
_implicit("value", r"^(?:=)$", "=")
_implicit("yaml", r"^(?:!|&|\*)$", "!&*")  # (no plain scalar starts so: PyYAML's too)
_RESOLVED_FIRST = frozenset(first for first in _IMPLICIT if first)
_DUPLICATES_REFUSED = yaml_rs.DuplicateKeyPolicy.Error


def load(block: str) -> dict[str, Any] | None:
    """The block's mapping where yaml-rs and PyYAML surely agree on it; None: ask PyYAML."""
    if _pyyaml_only(block):
        return None
    try:
        data = yaml_rs.loads(block, parse_datetime=False, duplicate_key_policy=_DUPLICATES_REFUSED)
    except Exception:  # any refusal: PyYAML gives the error the user sees
        return None
    if type(data) is not dict or not _as_pyyaml_reads_it(data):  # keys are text too
        return None
    return data


def _pyyaml_only(block: str) -> bool:
    """The block holds what only PyYAML reads as PyYAML does (see _PYYAML_ONLY)."""
    if "\n---" in block or "\n..." in block or block.startswith(("---", "...")):
        return True  # document markers
    if ("[" in block or "{" in block) and _FLOW_COLON.search(block):
        return True
    return bool(_SUSPECT.search(block) and (_FIRST_NODE.match(block) or _PYYAML_ONLY.search(block)))


def _as_pyyaml_reads_it(data: dict[str, Any]) -> bool:
    """Every key is text, and every key and value is what PyYAML would read it as: text,
    None, a boolean, or a list or mapping of them (numbers are not: YAML 1.1 and 1.2 read
    them by different rules). Walked with a stack, not recursion: yaml-rs nests as deep as
    the text does. (By exact type: yaml-rs makes no subclasses.)"""
    stack: list[object] = [data]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            if not _keys_as_text(tuple(node)):
                return False
            values: Iterable[object] = node.values()
        else:
            assert type(node) is list  # only containers are pushed
            values = node
        for value in values:
            if type(value) is str:
                if value and value[0] in _RESOLVED_FIRST and not _as_text(value):
                    return False
            elif type(value) is dict or type(value) is list:
                stack.append(value)
            elif value is not None and type(value) is not bool:
                return False
    return True


def _keys_as_text(keys: tuple[Any, ...]) -> bool:
    """Every key is text that PyYAML reads as text: looked at once per distinct set of
    keys (thousands of posts share a few)."""
    known = _KEYS_VERDICTS.get(keys)
    if known is None:
        known = all(type(key) is str and _as_text(key) for key in keys)
        # (Their lengths are counted only when all are text.)
        if known and len(keys) <= _VERDICT_KEYS and sum(map(len, keys)) <= _KEYS_CHARACTERS:
            if len(_KEYS_VERDICTS) >= _VERDICTS_SIZE:
                _KEYS_VERDICTS.clear()
            _KEYS_VERDICTS[keys] = known
    return known


def _as_text(text: str) -> bool:
    """PyYAML reads this plain scalar as text, as yaml-rs did. '' can only have been
    quoted (a plain empty value is None in both versions), and most text starts with a
    character no YAML 1.1 resolver looks at; the rest is looked at once per distinct text
    (keys, and the category names thousands of posts share)."""
    if not text or text[0] not in _RESOLVED_FIRST:
        return True
    known = _TEXT_VERDICTS.get(text)
    if known is None:
        known = not any(regexp.match(text) for _, regexp in _IMPLICIT[text[0]])
        if len(text) <= _VERDICT_KEY_CHARACTERS:
            if len(_TEXT_VERDICTS) >= _VERDICTS_SIZE:
                _TEXT_VERDICTS.clear()
            _TEXT_VERDICTS[text] = known
    return known


_TEXT_VERDICTS: dict[str, bool] = {}
_KEYS_VERDICTS: dict[tuple[Any, ...], bool] = {}
_VERDICTS_SIZE = 4096
_VERDICT_KEY_CHARACTERS = 256
_VERDICT_KEYS = 64
_KEYS_CHARACTERS = 1024
