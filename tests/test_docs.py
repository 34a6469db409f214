"""The documented command reference equals the real one (README, and the site's generated page)."""

from __future__ import annotations

import re

from generator.pages.reference import CommandDoc, cli_docs
from tests.conftest import ROOT

FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
HEADING = re.compile(r"^### (`kb .*)$", re.MULTILINE)


def _commands() -> list[CommandDoc]:
    """The commands a user runs (groups such as `kb add` only hold them)."""
    docs = cli_docs()
    return [c for c in docs if not any(o.name.startswith(c.name + " ") for o in docs)]


def _flags(command: CommandDoc, *, every_name: bool = False) -> set[str]:
    """The command's flags: each option's first name (`--strict`), or all of them (`--no-strict` too)."""
    names = (FLAG.findall(option.names) for option in command.options)
    return {name for found in names for name in (found if every_name else found[:1])}


def _readme_sections() -> list[tuple[str, str]]:
    """(heading, text up to the next heading) of each command section of the README."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    matches = list(HEADING.finditer(text))
    sections = []
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following else text.find("\n## ", match.end())
        sections.append((match[1], text[match.start() : end if end != -1 else len(text)]))
    return sections


def _section_commands(heading: str, commands: list[CommandDoc]) -> list[CommandDoc]:
    return [c for c in commands if re.search(rf"`{re.escape(c.name)}(?![\w-])", heading)]


def test_every_command_has_a_readme_section() -> None:
    headings = [heading for heading, _ in _readme_sections()]
    missing = [c.name for c in _commands() if not any(_section_commands(h, [c]) for h in headings)]
    assert missing == []


def test_readme_sections_document_every_option_and_only_real_ones() -> None:
    commands = _commands()
    for heading, text in _readme_sections():
        documented = _section_commands(heading, commands)
        assert documented, f"README section {heading!r} names no kb command"
        every = set().union(*(_flags(c, every_name=True) for c in documented))
        mentioned = set(FLAG.findall(text))
        assert mentioned - every == set(), f"{heading}: documented but not an option"
        primary = set().union(*(_flags(c) for c in documented))
        assert primary - mentioned == set(), f"{heading}: options not documented"
