"""The JSON shape of a Cluster document, as far as the plugin reads it, and type names.

Go's encoding/json reads a null or absent object as empty; anything else of the wrong type
is refused by name (ClusterDecodeError), never ignored.
"""

from __future__ import annotations

from typing import Any

from cnpg_wal_replica.errors import ClusterDecodeError
from cnpg_wal_replica.metadata import PLUGIN_NAME


def json_type(value: Any) -> str:
    """The JSON name of a value's type: object, array, string, number, boolean or null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__  # YAML: date, bytes


def a_json_type(value: Any) -> str:
    """``a string``, ``an array``: the JSON type with its article, for messages."""
    kind = json_type(value)
    if kind == "null":
        return kind
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _expect(value: Any, kind: type, field_name: str) -> None:
    if value is not None and not isinstance(value, kind):
        want = "an object" if kind is dict else "an array"
        raise ClusterDecodeError(f"{field_name} must be {want}, not {a_json_type(value)}")


def check_shape(document: Any) -> None:
    """Refuse a Cluster whose structure the plugin reads has the wrong JSON types.

    A null (or absent) ``metadata``, ``spec``, ``spec.plugins`` or ``parameters`` means
    empty, as in Go's encoding/json; any other wrong type is a ClusterDecodeError naming
    the field, never silently ignored.
    """
    if not isinstance(document, dict):
        raise ClusterDecodeError(
            f"the Cluster definition must be an object, not {a_json_type(document)}"
        )
    _expect(document.get("metadata"), dict, "metadata")
    spec = document.get("spec")
    _expect(spec, dict, "spec")
    plugins = (spec or {}).get("plugins")
    _expect(plugins, list, "spec.plugins")
    for index, entry in enumerate(plugins or []):
        _expect(entry, dict, f"spec.plugins[{index}]")
        if entry is None:
            raise ClusterDecodeError(f"spec.plugins[{index}] must be an object, not null")
        if entry.get("name") == PLUGIN_NAME:
            _expect(entry.get("parameters"), dict, f"spec.plugins[{index}].parameters")
