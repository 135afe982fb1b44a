"""The repository's Markdown pages, and the messages docs/troubleshooting.md lists as
patterns a real message must match.

Each ``###`` heading quotes one or more messages in backticks; in them ``…`` (and ``<…>``)
stands for the values of a real message. A message is documented when one quoted text,
wildcards filled in, occurs in it as written.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TROUBLESHOOTING = ROOT / "docs" / "troubleshooting.md"
PAGES = sorted(
    ROOT / name
    for name in subprocess.run(
        ["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
)
"""Every Markdown file git tracks."""
_WILDCARD = re.compile(r"<[^>]*>|…")
FENCE = re.compile(r"^```.*?^```", flags=re.S | re.M)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a Markdown page's headings (fenced code left out)."""
    text = FENCE.sub("", page.read_text())
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def pattern(quoted: str) -> re.Pattern[str]:
    """A quoted message from a heading as a regular expression."""
    parts = _WILDCARD.split(quoted)
    return re.compile(".+?".join(re.escape(p) for p in parts), flags=re.S)


@cache
def documented_patterns() -> tuple[re.Pattern[str], ...]:
    headings = re.findall(r"^###\s+(.+)$", TROUBLESHOOTING.read_text(), flags=re.M)
    quoted = [q for h in headings for q in re.findall(r"`([^`]+)`", h)]
    return tuple(pattern(q) for q in quoted if len(_WILDCARD.sub("", q)) >= 12)


def undocumented(messages: list[str]) -> list[str]:
    """The messages no troubleshooting heading quotes."""
    return [m for m in messages if not any(p.search(m) for p in documented_patterns())]
