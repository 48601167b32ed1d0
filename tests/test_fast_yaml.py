"""The yaml-rs fast path never reads front matter differently from PyYAML.

PyYAML is the oracle: wherever fast_yaml gives an answer, PyYAML (as feedpub loads it)
must give the same one, on random front matter made of the things YAML 1.1 and 1.2
disagree about, on random text, on every bad-input case and on the real posts.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedpub import fast_yaml
from feedpub.front_matter import _FENCES, FrontMatterError, NoFrontMatter, _cut
from feedpub.front_matter import _pyyaml as pyyaml_and_loader
from tests.helpers import SHARED_CORPUS

CASES = Path(__file__).parent / "cases"
TRICKY = [
    "yes", "No", "ON", "off", "y", "n", "~", "null", "Null", "true", "False", "1_000", "012",
    "0o12", "0x1F", "1e3", "1.5", ".inf", "-.Inf", ".NaN", "1:20", "2021-08-09",
    "2021-08-09 10:00:00", "2021-08-09T10:00:00Z", "<<", "=", "Mon, 09 Aug 2021 08:36:33 GMT",
    "Invalid Date", "a: b", "a #b", "- x", "中文标题", "https://picsum.photos/400/300?random=1",
    "", " ", "'", '"', "it's", "x\\y", "tab\there", "%", "@x", "`x", "|", ">",
]  # fmt: skip
_KEYS = st.sampled_from(["title", "date", "categories", "yes", "on", "1", "<<", "a b", "中"])
_SCALAR_TEXT = st.sampled_from(TRICKY) | st.text(max_size=12)


def _pyyaml(block: str) -> object:
    return yaml.load(block, Loader=pyyaml_and_loader()[1])


def _scalar(text: str, style: str) -> str:
    if style == "single":
        return "'" + text.replace("'", "''") + "'"
    if style == "double":
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


@st.composite
def front_matter(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        key = draw(_KEYS)
        shape = draw(st.sampled_from(["scalar", "list", "flow", "map", "block"]))
        style = st.sampled_from(["plain", "single", "double"])
        if shape == "scalar":
            lines.append(f"{key}: {_scalar(draw(_SCALAR_TEXT), draw(style))}")
        elif shape == "list":
            lines.append(f"{key}:")
            for item in draw(st.lists(_SCALAR_TEXT, max_size=3)):
                lines.append(f" - {_scalar(item, draw(style))}")
        elif shape == "flow":
            items = [_scalar(i, draw(style)) for i in draw(st.lists(_SCALAR_TEXT, max_size=3))]
            lines.append(f"{key}: [{', '.join(items)}]")
        elif shape == "map":
            lines.append(f"{key}:")
            lines.append(f"  {draw(_KEYS)}: {_scalar(draw(_SCALAR_TEXT), draw(style))}")
        else:
            lines.append(f"{key}: {draw(st.sampled_from(['|', '>', '|-', '>+']))}")
            lines += [f"  {line}" for line in draw(st.lists(_SCALAR_TEXT, max_size=3))]
    return "\n".join(lines) + "\n"


def _agrees(block: str) -> None:
    fast = fast_yaml.load(block)
    if fast is None:
        return
    try:
        expected = _pyyaml(block)
    except (yaml.YAMLError, ValueError, RecursionError) as e:
        pytest.fail(f"yaml-rs read {block!r} as {fast!r}; PyYAML refuses it: {e}")
    assert fast == expected, block
    assert [type(v) for v in fast.values()] == [type(v) for v in expected.values()]  # type: ignore[union-attr]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(front_matter())
def test_random_front_matter_reads_as_pyyaml_reads_it(block: str) -> None:
    _agrees(block)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab: -'\"[]{},#|>\n yn1.~中"), max_size=40))
def test_random_text_reads_as_pyyaml_reads_it(block: str) -> None:
    _agrees(block)


@pytest.mark.parametrize(
    "block", ["{.:}", "{:1}", "k: {a:}", "k: [:a]", "k: [a, :b]", "k: [a:]", "k: [\n :a]"]
)
def test_a_colon_at_an_end_of_a_plain_scalar_in_a_flow_collection_goes_to_pyyaml(
    block: str,
) -> None:
    """YAML 1.2 reads these (yaml-rs did); PyYAML refuses them, and its error is the one
    the user sees. (Found by the random text above.)"""
    assert fast_yaml.load(block) is None
    with pytest.raises(yaml.YAMLError):
        _pyyaml(block)


def _blocks(folder: Path) -> list[str]:
    blocks = []
    for path in sorted(folder.rglob("*.md")):
        try:
            blocks.append(_cut(path.read_text("utf-8").replace("\r\n", "\n"))[1])
        except (UnicodeDecodeError, NoFrontMatter, FrontMatterError):
            continue
    return blocks


def test_every_case_reads_as_pyyaml_reads_it() -> None:
    blocks = _blocks(CASES)
    assert len(blocks) > 40
    for block in blocks:
        _agrees(block)


def test_the_real_posts_take_the_fast_path() -> None:
    if not SHARED_CORPUS.is_dir():
        pytest.skip("../shared/corpus/real is not here (it is not part of the repository)")
    blocks = _blocks(SHARED_CORPUS)
    fast = [block for block in blocks if fast_yaml.load(block) is not None]
    for block in blocks:
        _agrees(block)
    assert len(fast) >= 0.8 * len(blocks)


def test_what_yaml_1_1_reads_otherwise_goes_to_pyyaml() -> None:
    for block in ("title: no\n", "n: 012\n", "date: 2021-08-09\n", "a: &x 1\nb: *x\n",
                  "t: !!python/object/apply:os.system [ls]\n", "a: 1\n---\nb: 2\n",
                  "title: [unclosed\n", "t: \"\\/\"\n", "t: 'tab\there'\n"):  # fmt: skip
        assert fast_yaml.load(block) is None, block
    assert fast_yaml.load("title: 'yes'\ncomments: false\nc:\n - 新媒体\n") is None  # conservative
    assert fast_yaml.load("title: A\ncomments: false\nc:\n - 新媒体\n") == {
        "title": "A",
        "comments": False,
        "c": ["新媒体"],
    }
    assert fast_yaml.load("a: 1\na: 2\n") is None  # a number: PyYAML decides
    assert fast_yaml.load("a: x\na: y\n") is None  # duplicate keys: PyYAML decides


def test_the_quick_scan_sees_every_character_the_full_check_looks_for() -> None:
    for code in [*range(0x300), 0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xD800, 0x1F600]:
        character = chr(code)
        if fast_yaml._PYYAML_ONLY.search(f"a: {character}") or fast_yaml._PYYAML_ONLY.search(
            f"a: x{character}"
        ):
            assert fast_yaml._SUSPECT.search(character), hex(code)


_ONE_EXPRESSION = re.compile(
    r"(?:^|[-:?,\[\]{}])[ \t]*[!&*|>@`%]|"
    r"[\\\t\x85\u2028\u2029\ufeff]|^(?:---|\.\.\.)|"
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]|"
    r"\A(?=[\s\S]*[\[{])[\s\S]*?(?::[,\[\]{}]|[\[{,][ \t\n]*:)",
    re.MULTILINE,
)
"""What load sends to PyYAML before parsing, as one expression: an indicator where a node
starts (at a line's start or after -:?,[]{}, and blanks), the characters, document markers,
and in a block with a flow collection, a colon before a flow indicator or after one."""


def test_what_goes_to_pyyaml_is_what_one_expression_says() -> None:
    alphabet = [*"ab :-?,[]{}\n\t !&*|>@`%\\.#'\"", "\x85", "\u2028", "\ufeff", "\x01", "é", "中"]
    rng = random.Random(11)
    for _ in range(20_000):
        block = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        assert fast_yaml._pyyaml_only(block) == bool(_ONE_EXPRESSION.search(block)), repr(block)


def _without_layout(pattern: str) -> str:
    return re.sub(r"\s+", "", pattern)


def test_yaml_1_1s_implicit_types_are_pyyamls() -> None:
    """fast_yaml's own table of YAML 1.1's implicit types (kept so that PyYAML is not
    imported) is PyYAML's: the same first characters, tags in the same order, and the same
    patterns but for the layout of their verbose text."""
    from yaml.resolver import Resolver

    theirs = Resolver.yaml_implicit_resolvers
    assert set(fast_yaml._IMPLICIT) == set(theirs)
    for first, resolvers in theirs.items():
        ours = fast_yaml._IMPLICIT[first]
        assert [tag for tag, _ in ours] == [tag for tag, _ in resolvers], first
        for (_, mine), (_, pyyamls) in zip(ours, resolvers, strict=True):
            assert _without_layout(mine.pattern) == _without_layout(pyyamls.pattern), first
    for text in [
        *TRICKY,
        "0b101",
        "-0x1F",
        "190:20:30",
        "1_0.5e+3",
        "2001-12-14t21:59:43.10-05:00",
    ]:
        first = text[:1]
        if first in theirs:
            assert any(r.match(text) for _, r in fast_yaml._IMPLICIT[first]) == any(
                r.match(text) for _, r in theirs[first]
            ), text


def test_the_yaml_fence_is_python_frontmatters() -> None:
    from frontmatter.default_handlers import YAMLHandler

    boundary = YAMLHandler.FM_BOUNDARY
    assert boundary is not None
    yaml_fence = _FENCES[0]
    assert (yaml_fence.boundary.pattern, yaml_fence.boundary.flags) == (
        boundary.pattern,
        boundary.flags,
    )
    assert yaml_fence.delimiter == YAMLHandler.START_DELIMITER == YAMLHandler.END_DELIMITER
