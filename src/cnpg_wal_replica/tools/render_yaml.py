"""Reading the Cluster manifest for `render`: YAML errors in one line, and what users wrote.

YAML turns unquoted ``yes``, ``true`` or ``1`` into a boolean or a number before the plugin
sees it; to tell users what they wrote (not ``true``), `written` finds the scalar's source
text in the composed node tree of the same document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml


def _fail(message: str) -> click.ClickException:
    return click.ClickException(message)


def _one_line(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{problem}{where}"


def load_cluster(path: Path) -> tuple[dict[str, Any], yaml.Node | None]:
    """The first `Cluster` document of a YAML file, with its node tree (None if unknown)."""
    try:
        text = path.read_text(encoding="utf-8")
        documents = list(yaml.safe_load_all(text))
        nodes: list[yaml.Node | None] = list(yaml.compose_all(text))
    except UnicodeDecodeError:
        raise _fail(f"{path} is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise _fail(f"{path} is not valid YAML: {_one_line(exc)}") from None
    except RecursionError:
        raise _fail(f"{path} nests too deeply to be a Cluster manifest") from None
    if len(nodes) != len(documents):  # pragma: no cover - both read the same documents
        nodes = [None] * len(documents)
    for document, node in zip(documents, nodes, strict=True):
        if isinstance(document, dict) and document.get("kind") == "Cluster":
            return document, node
    raise _fail(f"{path} contains no document of kind Cluster")


def _child(node: yaml.Node | None, key: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        return next((v for k, v in node.value if getattr(k, "value", None) == key), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
        child: yaml.Node = node.value[key]
        return child
    return None


def written(node: yaml.Node | None, index: int, parameter: str) -> str | None:
    """The source text of ``spec.plugins[index].parameters.<parameter>`` if a plain scalar."""
    for key in ("spec", "plugins", index, "parameters", parameter):
        node = _child(node, key)
    if isinstance(node, yaml.ScalarNode) and node.style is None:
        return str(node.value)
    return None
