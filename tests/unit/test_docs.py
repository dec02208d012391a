"""The README and docs/: sized for a reader, linked without dead ends, honest about commands.

The README stays short enough to read (the rest lives under docs/), every relative link and
anchor leads somewhere, every shell block says which test runs it (or that it needs Docker, or
that none does), and the commands and errors the pages name are ones the project has.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from tests.support.workers import REPO_ROOT
from worker import errors
from worker.cli import cli as paynet_gateway
from worker.ledger import policy as ledger_policy

README = REPO_ROOT / "README.md"
DOCS = sorted((REPO_ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
README_LIMIT = 12 * 1024

FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.MULTILINE)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
# What may follow a shell block: which test runs it, or why none does.
RUN_NOTE = re.compile(r"^(Run by|Needs Docker|Not run by a test)")
GATEWAY_COMMAND = re.compile(r"\bpaynet-gateway ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?")
MAKE_TARGET = re.compile(r"\bmake ([a-z][a-z-]*)")


def ids(pages: list[Path]) -> list[str]:
    return [str(page.relative_to(REPO_ROOT)) for page in pages]


def without_code_blocks(text: str) -> str:
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for heading in HEADING.findall(without_code_blocks(page.read_text())):
        name, n = slug(heading), 1
        while name in found:
            name, n = f"{slug(heading)}-{n}", n + 1
        found.add(name)
    return found


def relative_links(page: Path) -> list[str]:
    links = LINK.findall(without_code_blocks(page.read_text()))
    return [link for link in links if not re.match(r"^[a-z]+:", link)]


def shown_commands(page: Path) -> list[str]:
    """The text of every shell block and inline code span: where a page shows a command."""
    text = page.read_text()
    shells = [body for lang, body in FENCE.findall(text) if lang == "sh"]
    return shells + CODE_SPAN.findall(without_code_blocks(text))


def test_the_readme_is_at_most_12_kib() -> None:
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes; move detail under docs/"


def test_the_readme_quick_start_has_exactly_the_two_set_up_commands() -> None:
    quick_start = README.read_text().split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    first_block = next(body for lang, body in FENCE.findall(quick_start) if lang == "sh")
    commands = [line.split("#", 1)[0].strip() for line in first_block.splitlines()]
    assert commands == ["make demo", "make test"]


@pytest.mark.parametrize("page", DOCS, ids=ids(DOCS))
def test_every_docs_page_is_linked_from_the_readme(page: Path) -> None:
    assert f"docs/{page.name}" in relative_links(README), f"{page.name} is an orphan"


@pytest.mark.parametrize("page", PAGES, ids=ids(PAGES))
def test_every_relative_link_points_at_a_file_and_heading_that_exist(page: Path) -> None:
    for link in relative_links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{link}: no such file"
        if anchor:
            assert target.suffix == ".md", f"{link}: an anchor into a file that is not a page"
            assert anchor in anchors(target), f"{link}: no such heading in {target.name}"


@pytest.mark.parametrize("page", PAGES, ids=ids(PAGES))
def test_every_shell_block_says_which_test_runs_it(page: Path) -> None:
    text = page.read_text()
    for block in FENCE.finditer(text):
        if block.group(1) != "sh":
            continue
        after = text[block.end() :].lstrip("\n").split("\n", 1)[0]
        assert RUN_NOTE.match(after), f"no 'Run by ...' after the block:\n{block.group(2)}"


def subcommands(command: click.Command) -> dict[str, click.Command]:
    return dict(command.commands) if isinstance(command, click.Group) else {}


@pytest.mark.parametrize("page", PAGES, ids=ids(PAGES))
def test_every_paynet_gateway_command_shown_exists(page: Path) -> None:
    commands = subcommands(paynet_gateway)
    for shown in shown_commands(page):
        for command, action in GATEWAY_COMMAND.findall(shown):
            assert command in commands, f"paynet-gateway {command}: no such command"
            group = commands[command]
            actions = subcommands(group)
            runs_alone = isinstance(group, click.Group) and group.invoke_without_command
            if actions and not (runs_alone and not action):
                assert action in actions, f"paynet-gateway {command} {action}: no such command"


@pytest.mark.parametrize("page", PAGES, ids=ids(PAGES))
def test_every_make_target_shown_is_in_the_makefile(page: Path) -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    for shown in shown_commands(page):
        for target in MAKE_TARGET.findall(shown):
            assert target in targets, f"make {target}: no such target"


def test_the_producer_guide_lists_every_error_of_the_contract_and_no_other() -> None:
    guide = (REPO_ROOT / "docs" / "producer-guide.md").read_text()
    table = guide.split("| the task ends with |", 1)[1].split("\n\n", 1)[0]
    first_cells = [row.split(" | ", 1)[0] for row in table.splitlines() if row.startswith("| `")]
    listed = {name for cell in first_cells for name in re.findall(r"`(\w+)`", cell)}
    gateway_codes = (
        ledger_policy.NOT_SUCCEEDED,
        ledger_policy.SETTLED_NOT_EXECUTED,
        ledger_policy.NOT_SENT_AGAIN,
    )
    assert all(f"`PaynetRpcError` {code}" in table for code in gateway_codes)
    contract = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.PaynetGatewayError)
    } - {"PaynetGatewayError"}
    assert listed == contract
    readme = README.read_text().split("\n## The producer's contract\n", 1)[1]
    assert all(f"`{name}`" in readme for name in contract), "the README's brief misses an error"
