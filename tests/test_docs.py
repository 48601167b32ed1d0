"""The README against the code (as sqlite-utils tests its docs): the exit-code table, the
configuration keys and their defaults, and every command and option."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path

import click
import pytest

from feedpub.cli import cli
from feedpub.config import Config, toml_key
from feedpub.errors import ExitCode
from tests.helpers import PROJECT

README = (PROJECT / "README.md").read_text("utf-8")


def table_after(heading: str) -> list[list[str]]:
    """The rows of the first Markdown table after `heading`, cells stripped."""
    section = README[README.index(heading) :]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not set("".join(cells)) <= set("-: "):
                rows.append(cells)
        elif rows:
            break
    return rows[1:]  # without the header


def section(heading: str) -> str:
    start = README.index(heading)
    end = README.find("\n#", start + len(heading))
    return README[start : end if end != -1 else None]


def test_exit_code_table_is_the_enum() -> None:
    rows = table_after("### Exit codes")
    assert [(int(code), meaning) for code, meaning in rows] == [
        (code.value, code.meaning) for code in ExitCode
    ]


def test_configuration_table_has_every_key_with_its_default() -> None:
    rows = {key.strip("`"): default for key, default, _ in table_after("## Configuration")}
    fields = {toml_key(f.name): f for f in dataclasses.fields(Config) if f.name != "site"}
    assert sorted(rows) == sorted(fields)
    for name, field in fields.items():
        default = field.default_factory() if callable(field.default_factory) else field.default
        assert rows[name] == _documented(name, default), name


def _documented(name: str, default: object) -> str:
    if name == "description":
        return "the title"
    if isinstance(default, str | Path):
        return f'`"{default}"`'
    if isinstance(default, tuple):
        return "`[" + ", ".join(f'"{v}"' for v in default) + "]`"
    if isinstance(default, Mapping):
        return "`{}`"
    if isinstance(default, float) and default.is_integer():
        return f"`{int(default)}`"
    return f"`{default}`"


def _commands() -> dict[str, click.Command]:
    return dict(cli.commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_and_option_is_documented(name: str) -> None:
    text = section(f"### `feedpub {name}`")
    for param in _commands()[name].params:
        for flag in getattr(param, "opts", []):
            if flag.startswith("--"):
                assert re.search(rf"{re.escape(flag)}\b", text), f"{name} {flag}"


def test_every_documented_command_exists() -> None:
    documented = set(re.findall(r"^### `feedpub (\w[\w-]*)`", README, re.MULTILINE))
    assert documented == set(_commands())
