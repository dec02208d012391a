"""One version, pyproject.toml's: the installed package, the CLI and the changelog agree."""

from __future__ import annotations

import tomllib
from importlib.metadata import version

from click.testing import CliRunner

from tests.support.workers import REPO_ROOT
from worker.cli import cli

VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_the_cli_reports_pyprojects_version() -> None:
    assert version("paynet-gateway") == VERSION  # make setup installed this checkout
    done = CliRunner().invoke(cli, ["--version"])
    assert done.exit_code == 0
    assert done.output == f"paynet-gateway, version {VERSION}\n"


def test_the_changelog_opens_with_this_version_and_the_licence_is_mit() -> None:
    headings = [line for line in (REPO_ROOT / "CHANGELOG.md").read_text().splitlines()
                if line.startswith("## ")]  # fmt: skip
    assert headings[0] == f"## {VERSION}"
    assert (REPO_ROOT / "LICENSE").read_text().startswith("MIT License")
