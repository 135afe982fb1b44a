"""Problems with this plugin's `spec.plugins` entry itself, before any value is parsed.

The API server refuses these (parameters are ``map[string]string``, ``enabled`` a boolean),
so the operator never sends them; `render` reads files it has not seen, and a future
operator might skip validation. Each is refused by name rather than guessed at.
"""

from __future__ import annotations

import json

from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.errors import ConfigIssue, field_name, parameter_path
from cnpg_wal_replica.jsonshape import a_json_type
from cnpg_wal_replica.metadata import PLUGIN_NAME
from cnpg_wal_replica.parameters import BY_NAME


def example_note(parameter: str, example: str | None = None) -> str:
    """`` (example: walPVCSize: "20Gi")``: the one example a message carries."""
    spec = BY_NAME.get(parameter)
    chosen = example if example is not None else spec.example if spec else None
    return f" (example: {parameter}: {json.dumps(chosen)})" if chosen is not None else ""


def not_string_message(parameter: str, value: object, example: str | None = None) -> str:
    """Why a non-string parameter value is refused, with a quoted example (``example``, or
    the parameter's own)."""
    return (
        f"is {a_json_type(value)}, not a string; parameter values must be quoted strings"
        f"{example_note(parameter, example)}"
    )


def entry_issues(view: ClusterView) -> list[ConfigIssue]:
    """Non-string parameter values, a non-boolean ``enabled``, the plugin listed twice."""
    entry = view.plugin
    if entry is None:
        return []
    issues = [
        ConfigIssue(
            parameter_path(entry.index, name),
            json.dumps(value, default=str)[:200],
            not_string_message(name, value),
        )
        for name, value in sorted(entry.not_strings.items())
    ]
    if entry.enabled_value is not None:
        issues.append(
            ConfigIssue(
                ("spec", "plugins", str(entry.index), "enabled"),
                json.dumps(entry.enabled_value, default=str)[:200],
                "must be the boolean true or false, unquoted (example: enabled: true)",
            )
        )
    first = field_name(("spec", "plugins", str(entry.index)))
    issues.extend(
        ConfigIssue(
            ("spec", "plugins", str(index), "name"),
            PLUGIN_NAME,
            f"lists this plugin a second time (first at {first}); keep one entry",
        )
        for index in entry.duplicates
    )
    return issues
