"""Relative links in every Markdown file of the repository point at files and headings that
exist, and none leaves the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.documented import FENCE, PAGES, anchors, slug

ROOT = Path(__file__).resolve().parents[2]
GENERATED: set[str] = set()
"""Pages written by a generator; a link to them is fine before they are generated."""

LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_slug_follows_github_rules() -> None:
    assert slug("Route B: recover with `restore_command`, then import") == (
        "route-b-recover-with-restore_command-then-import"
    )


def test_every_page_is_checked() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in PAGES}
    assert {"README.md", "docs/usage.md", "bench/README.md", "tests/harness/README.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    text = FENCE.sub("", page.read_text())
    name = page.relative_to(ROOT).as_posix()
    for target in LINK.findall(text):
        if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
            continue
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        assert destination.is_relative_to(ROOT), f"{name}: {target} leaves the repository"
        if destination.name in GENERATED and not destination.exists():
            continue
        assert destination.exists(), f"{name}: broken link {target}"
        if anchor and destination.suffix == ".md":
            assert anchor in anchors(destination), f"{name}: no heading for {target}"


PATH_MENTION = re.compile(r"`(\.\./[^`\s]+)`")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_page_points_outside_the_repository(page: Path) -> None:
    """A path in backticks such as `../shared/design.md` is a link too, for a reader."""
    outside = [
        m
        for m in PATH_MENTION.findall(page.read_text())
        if not (page.parent / m).resolve().is_relative_to(ROOT)
    ]
    assert not outside, f"{page.relative_to(ROOT)} names paths outside the repository: {outside}"


REPO_PATH = re.compile(
    r"`((?:bench|deploy|docs|examples|proto|scripts|src|tests)/[A-Za-z0-9_./<>*{},-]*[A-Za-z0-9_])`"
)
UPSTREAM_PATHS = {
    "deploy/local-path-storage.yaml",  # local-path-provisioner's, tests/harness/node.md
    "src/bin/pg_basebackup/receivelog.c",  # PostgreSQL's, docs/installation.md
}
"""Paths in other projects' repositories that pages name on purpose."""


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_repository_path_named_exists(page: Path) -> None:
    """`tests/support/plugin_pki.py` and the like, in backticks, name files that exist."""
    missing = []
    for mention in REPO_PATH.findall(FENCE.sub("", page.read_text())):
        if mention in UPSTREAM_PATHS or re.search(r"[<>*{]", mention):
            continue  # a pattern such as `tests/harness/<module>`, not one file
        if not ((ROOT / mention).exists() or (page.parent / mention).exists()):
            missing.append(mention)
    assert not missing, f"{page.relative_to(ROOT)} names paths that do not exist: {missing}"
