"""The chart's values table, from the `# -- text` comments of its values.yaml.

A comment block whose first line starts with `# --` documents the key on the line after it
(continuation lines are plain `#` comments); the key's path is found from indentation, its
default from the parsed file. Used by scripts/gen-docs (charts/cnpg-wal-replica/README.md).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z][\w.-]*):")
LONG = 60
"""Defaults longer than this many characters are shown as 'see values.yaml'."""


def documented_keys(text: str) -> list[tuple[str, str]]:
    """(dotted key, description) for every key with a `# --` comment, in file order."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[int, str]] = []
    comment: list[str] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            comment = [stripped.removeprefix("# --").strip()]
            continue
        if stripped.startswith("#") and comment is not None:
            comment.append(stripped.removeprefix("#").strip())
            continue
        match = KEY.match(line)
        if match is None:
            if not stripped:
                comment = None
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match["key"]))
        if comment is not None:
            found.append((".".join(key for _, key in stack), " ".join(comment)))
        comment = None
    return found


def lookup(values: dict[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        node = node[part]
    return node


def default_cell(value: Any) -> str:
    shown = json.dumps(value, separators=(",", ":"))
    return "see values.yaml" if len(shown) > LONG else f"`{shown}`"


def values_table(values_yaml: Path) -> str:
    """A Markdown table: key, default, description."""
    text = values_yaml.read_text()
    values = yaml.safe_load(text)
    rows = ["| Key | Default | Description |", "|---|---|---|"]
    for key, description in documented_keys(text):
        cell = description.replace("|", "\\|")
        rows.append(f"| `{key}` | {default_cell(lookup(values, key))} | {cell} |")
    return "\n".join(rows)
