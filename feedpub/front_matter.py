"""Split a post's text into front matter and body, and parse the front matter.

YAML (between `---` lines) is read by yaml-rs where it surely reads as PyYAML does
(fast_yaml.py), else through python-frontmatter's YAML handler, with two guards it
does not have: the safe loader (libyaml's when installed), and a bounded result, so an
alias bomb or a recursive anchor cannot make feedpub use unbounded time or memory.
TOML (between `+++` lines) is read with the standard library's `tomllib` instead of
the unmaintained `toml` package. Each parser is imported when a block first needs it.

Many posts written by scraper bots have front matter that YAML refuses, such as
`title: ''第1集''` written with its quotes doubled over and over. When YAML fails
and the block is nothing but `key: value` lines and `- item` lists, it is read
line by line instead and the post is published with a warning: losing a post over
its quoting helps no one.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any, NamedTuple

from . import fast_yaml

if TYPE_CHECKING:
    from frontmatter.default_handlers import YAMLHandler


@functools.cache
def _pyyaml() -> tuple[YAMLHandler, type]:
    """python-frontmatter's YAML handler and the loader it is given, imported when a block
    first needs PyYAML (fast_yaml.py reads most of them without it)."""
    import yaml
    from frontmatter.default_handlers import YAMLHandler

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        """PyYAML's safe loader (libyaml's parser where installed), with a shortcut: a
        plain string scalar becomes its value without the generic construction machinery,
        which is half of the time it takes to read a scraped post's front matter."""

        def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
            if node.__class__ is yaml.ScalarNode and node.tag == _STR:
                return node.value  # what SafeConstructor.construct_yaml_str returns
            return super().construct_object(node, deep)

    return YAMLHandler(), Loader


_STR = "tag:yaml.org,2002:str"
MAX_NODES = 10_000
"""Scalars and containers a front matter may hold once aliases are expanded."""


class FrontMatterError(ValueError):
    """The front matter cannot be read; `line` is 1-based in the whole file."""

    def __init__(self, message: str, line: int | None = None, *, recoverable: bool = True) -> None:
        super().__init__(message)
        self.line = line
        self.recoverable = recoverable
        """False when reading the block line by line must not be tried (unsafe tags)."""


class NoFrontMatter(FrontMatterError):
    """The file has no front matter at all: a note or a README, not a broken post."""


class Split(NamedTuple):
    """A post's text cut in two. (A named tuple: one is made per post, in a third of the
    instructions of a frozen dataclass.)"""

    metadata: dict[str, Any]
    text: str
    """The post's text, as given to `split`."""
    body_start: int
    """Where the body starts in `text`: it is looked at there, not copied out (a body is
    most of a post, and a copy of text is a pass over it too)."""
    lenient: FrontMatterError | None
    """Why YAML refused the block, when it was read line by line instead."""

    @property
    def body(self) -> str:
        return self.text[self.body_start :]


class _Fence(NamedTuple):
    """A kind of front matter: the line that opens and closes its block, and its language."""

    boundary: re.Pattern[str]
    delimiter: str
    language: str


_FENCES = (
    # python-frontmatter's YAMLHandler.FM_BOUNDARY (a test holds them equal): known here
    # without importing the handler, which imports PyYAML
    _Fence(re.compile(r"^-{3,}\s*$", re.MULTILINE), "---", "YAML"),
    _Fence(re.compile(r"^\+{3,}\s*$", re.MULTILINE), "+++", "TOML"),
)


_LEADING_BLANK = re.compile(r"(?:[ \t]*\n)*")
_NEWLINES = re.compile(r"\n*")
_BLANKS = frozenset(" \t\n")
"""The characters a leading blank line can start with."""


def split(text: str) -> Split:
    """Front matter and body of a post's text (newlines already normalised to LF)."""
    fence, block, body_start, first_line = _cut(text)
    try:
        metadata = _load(fence, block, first_line)
    except FrontMatterError as error:
        if fence.language != "YAML" or not error.recoverable:
            raise
        recovered = _read_simple_lines(block)
        if recovered is None:
            raise
        return Split(recovered, text, body_start, lenient=error)
    return Split(metadata, text, body_start, lenient=None)


def body_of(text: str) -> str:
    """The body alone, for a post whose front matter was read before: no parsing again."""
    return text[_cut(text)[2] :]


def _cut(text: str) -> tuple[_Fence, str, int, int]:
    """(fence, front matter block, where the body starts, line of the block's first
    character). Blank lines may come before the block; it is looked for where they end
    (a `^` there is at the start of a line), without copying the text from there."""
    start = _LEADING_BLANK.match(text).end() if text[:1] in _BLANKS else 0  # type: ignore[union-attr]
    for fence in _FENCES:
        # What python-frontmatter's `detect` looks for; the match is also the first boundary.
        opening = fence.boundary.match(text, start)
        if opening is not None:
            break
    else:
        raise NoFrontMatter(
            "no front matter (a post starts with a '---' line); not a post, ignored", 1
        )
    # The closing boundary: the first line after the opening one that starts with the
    # delimiter and is a boundary (found with str.find, not by trying the boundary's
    # pattern at every character of the block).
    delimiter = f"\n{fence.delimiter}"
    at = text.find(delimiter, opening.end() - 1)
    closing = None
    while at >= 0:
        closing = fence.boundary.match(text, at + 1)
        if closing is not None:
            break
        at = text.find(delimiter, at + 1)
    if closing is None:
        opening_line = text.count("\n", 0, start) + 1
        raise FrontMatterError(
            f"front matter opened with {fence.delimiter!r} on line {opening_line} is never closed",
            opening_line,
        )
    block = text[opening.end() : closing.start()]
    body_start = _NEWLINES.match(text, closing.end()).end()  # type: ignore[union-attr]
    first_line = text.count("\n", 0, opening.end()) + 1
    return fence, block, body_start, first_line


def _load(fence: _Fence, block: str, first_line: int) -> dict[str, Any]:
    if fence.language == "YAML":
        fast = fast_yaml.load(block)  # None unless it surely reads as PyYAML reads it
        if fast is not None:
            return fast
    try:
        if fence.language == "YAML":
            handler, loader = _pyyaml()
            data = handler.load(block, Loader=loader)
        else:
            import tomllib  # only for TOML front matter, which most sites never have

            data = tomllib.loads(block)
    except Exception as e:
        error = _refusal(e, fence, block, first_line)
        if error is None:
            raise
        raise error from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FrontMatterError(
            f"front matter must be a mapping of keys to values, not a {type(data).__name__}",
            first_line + 1,
        )
    if "*" in block:  # without aliases, the data cannot be bigger than the (bounded) text
        _check_size(data)
    return data


def _refusal(e: Exception, fence: _Fence, block: str, first_line: int) -> FrontMatterError | None:
    """Why the block cannot be read, for the user; None for an error that is a bug."""
    if fence.language == "YAML":
        import yaml  # (imported already, by the reading that failed)

        if isinstance(e, yaml.constructor.ConstructorError):
            line = first_line + e.problem_mark.line if e.problem_mark else None
            return FrontMatterError(
                f"front matter uses a YAML tag feedpub does not allow: {e.problem}",
                line,
                recoverable=False,
            )
        if isinstance(e, yaml.MarkedYAMLError):
            mark = e.problem_mark or e.context_mark
            left_open = e.context and ("flow" in e.context or "quoted" in e.context)
            if e.context_mark and (left_open or mark is None or mark.index >= len(block.rstrip())):
                # Point at the bracket or quote left open, not where YAML gave up.
                mark = e.context_mark
            line = first_line + mark.line if mark else None
            message = f"front matter is not valid YAML: {e.problem or e.context}"
            if e.problem and e.context and e.context_mark:
                message += f" ({e.context} that starts on line {first_line + e.context_mark.line})"
            return FrontMatterError(message, line)
        if isinstance(e, yaml.reader.ReaderError):
            line = first_line + block.count("\n", 0, e.position)
            return FrontMatterError(
                f"front matter is not valid YAML: it contains the control character U+{e.character:04X}",
                line,
            )
        if isinstance(e, yaml.YAMLError):
            return FrontMatterError(f"front matter is not valid YAML: {e}")
    else:
        import tomllib  # (imported already, by the reading that failed)

        if isinstance(e, tomllib.TOMLDecodeError):
            return FrontMatterError(f"front matter is not valid TOML: {e}")
    if isinstance(e, (ValueError, OverflowError)):
        # YAML read a value it cannot build, e.g. the timestamp 2021-02-30 or a +99:00 offset.
        return FrontMatterError(f"front matter has a value YAML cannot read: {e}")
    if isinstance(e, (AttributeError, TypeError)):  # PyYAML's slip: `!!timestamp` on no date
        return FrontMatterError(
            "front matter has a value YAML cannot read (a !!timestamp that is not a date?)"
        )
    if isinstance(e, RecursionError):
        return FrontMatterError("front matter is nested too deeply")
    return None


def _check_size(data: object) -> None:
    """Refuse documents that expand past MAX_NODES (YAML alias bombs, recursive anchors)."""
    seen = 0
    stack = [data]
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise FrontMatterError(
                f"front matter expands to more than {MAX_NODES} values (YAML aliases?); refused"
            )
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


_KEY_VALUE = re.compile(r"^([A-Za-z_][\w-]*):(?:[ \t]+(.*?))?[ \t]*$")
_LIST_ITEM = re.compile(r"^[ \t]+-[ \t]+(.*?)[ \t]*$")
_QUOTE_RUN = re.compile(r"""^(["']+)(.*?)(["']+)$""")


def _read_simple_lines(block: str) -> dict[str, Any] | None:
    """Read `key: value` and indented `- item` lines; None if the block holds anything else."""
    data: dict[str, Any] = {}
    key = None
    for line in block.split("\n"):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = _LIST_ITEM.match(line)
        if item and key is not None and isinstance(data[key], list):
            element = _unquote(item.group(1))
            if element is None:
                return None
            data[key].append(element)
            continue
        pair = _KEY_VALUE.match(line)
        if not pair:
            return None
        key, value = pair.group(1), pair.group(2)
        data[key] = _unquote(value) if value else []
        if data[key] is None:
            return None
    # Only a title makes this worth publishing; anything else stays an error.
    if not isinstance(data.get("title"), str) or not data["title"]:
        return None
    return {k: (v if v != [] else None) for k, v in data.items()}


def _unquote(value: str) -> str | None:
    """The text of a scalar, or None for anything that is more than a scalar in YAML."""
    if value[0] in _YAML_INDICATORS:
        return None
    quoted = _QUOTE_RUN.match(value)
    if quoted:
        return quoted.group(2).strip()
    return None if value[0] in "\"'" else value  # a quote opened and never closed


# Values starting with these are tags, anchors, aliases, flow collections or block scalars.
_YAML_INDICATORS = frozenset("!&*[]{}|>%@`")
