"""A read-only view of the CNPG Cluster JSON the operator sends (only the fields we read).

The operator sends Go `encoding/json` output with `omitempty`, so every field is optional
and defaults follow CNPG's own (CNPG-I spec §2.3, §4).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from cnpg_wal_replica.errors import ClusterDecodeError
from cnpg_wal_replica.jsonshape import check_shape
from cnpg_wal_replica.metadata import PLUGIN_NAME
from cnpg_wal_replica.naming import is_dns1123_label

CNPG_DEFAULT_UID = 26
CNPG_DEFAULT_GID = 26
CNPG_MAX_NAME = 50
"""CNPG's webhook refuses longer Cluster names: its own objects add suffixes to them."""
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


def is_cluster_name(name: str) -> bool:
    """A name CNPG admits for a Cluster: a DNS-1035 label of at most `CNPG_MAX_NAME`."""
    return len(name) <= CNPG_MAX_NAME and _DNS1035_LABEL.fullmatch(name) is not None


@dataclass(frozen=True)
class PluginEntry:
    """This plugin's entry in `spec.plugins`.

    ``not_strings`` holds parameters whose value is not a JSON string (the API server
    refuses them; `config` reports them), ``enabled_value`` an ``enabled`` that is not a
    boolean (the entry then counts as enabled, so the problem is reported), and
    ``duplicates`` the indexes of further entries naming this plugin.
    """

    index: int
    enabled: bool
    parameters: dict[str, str]
    not_strings: dict[str, Any] = field(default_factory=dict)
    enabled_value: Any = None
    duplicates: tuple[int, ...] = ()


@dataclass(frozen=True)
class SourceEntry:
    """A `spec.externalClusters` entry whose `plugin` is this plugin: a WAL source."""

    index: int
    name: str
    parameters: dict[str, str]
    not_strings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SynchronousSpec:
    """`spec.postgresql.synchronous`, as far as the receiver is concerned."""

    method: str
    number: int
    standby_names_pre: tuple[str, ...]
    standby_names_post: tuple[str, ...]
    data_durability: str


@dataclass(frozen=True)
class ClusterView:
    """The Cluster fields the plugin uses, decoded leniently."""

    api_version: str
    kind: str
    name: str
    namespace: str
    uid: str
    plugin: PluginEntry | None
    image: str = ""
    postgres_uid: int = CNPG_DEFAULT_UID
    postgres_gid: int = CNPG_DEFAULT_GID
    write_service: str = ""
    rw_service_disabled: bool = False
    server_ca_secret: str = ""
    replication_tls_secret: str = ""
    server_alt_dns_names: tuple[str, ...] = ()
    synchronous: SynchronousSpec | None = None
    legacy_sync_replicas: bool = False
    replica_cluster: bool = False
    replica_source: str = ""
    recovery_source: str = ""
    sources: tuple[SourceEntry, ...] = ()
    deleting: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """Only the parts of the JSON read again later: ``spec.plugins`` (MutateCluster's patch
    addresses it) and ``status.writeService``. Not the whole document: views are cached
    (Post keeps hundreds), and a Cluster may carry megabytes of annotations."""

    @property
    def plugin_enabled(self) -> bool:
        """Whether `spec.plugins` lists this plugin and does not disable it."""
        return self.plugin is not None and self.plugin.enabled

    @classmethod
    def from_json(cls, data: bytes | str) -> ClusterView:
        """Decode the operator's Cluster JSON; raises ClusterDecodeError when unusable."""
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ClusterDecodeError(f"the Cluster definition is not valid JSON: {exc}") from exc
        except RecursionError as exc:  # the C decoder stops cheaply at the recursion limit
            raise ClusterDecodeError(
                "the Cluster definition nests too deeply to be a Cluster (hundreds of levels)"
            ) from exc
        return cls.from_dict(document)

    @classmethod
    def from_dict(cls, document: Any) -> ClusterView:
        """Decode an already parsed Cluster object."""
        check_shape(document)
        metadata = _obj(document, "metadata")
        spec = _obj(document, "spec")
        status = _obj(document, "status")
        certificates = _obj(status, "certificates")
        name = _str(metadata, "name")
        namespace = _str(metadata, "namespace")
        if not name or not namespace:
            raise ClusterDecodeError("the Cluster definition has no metadata.name or namespace")
        disabled_services = _list(
            _obj(_obj(spec, "managed"), "services"), "disabledDefaultServices"
        )
        return cls(
            api_version=_str(document, "apiVersion") or "postgresql.cnpg.io/v1",
            kind=_str(document, "kind") or "Cluster",
            name=name,
            namespace=namespace,
            uid=_str(metadata, "uid"),
            plugin=_plugin_entry(spec),
            image=_str(status, "image") or _str(spec, "imageName"),
            postgres_uid=_int(spec, "postgresUID", CNPG_DEFAULT_UID),
            postgres_gid=_int(spec, "postgresGID", CNPG_DEFAULT_GID),
            write_service=_str(status, "writeService") or f"{name}-rw",
            rw_service_disabled="rw" in disabled_services,
            server_ca_secret=_str(certificates, "serverCASecret") or f"{name}-ca",
            replication_tls_secret=_str(certificates, "replicationTLSSecret")
            or f"{name}-replication",
            server_alt_dns_names=tuple(
                str(n) for n in _list(certificates, "serverAltDNSNames") if isinstance(n, str)
            ),
            synchronous=_synchronous(_obj(spec, "postgresql")),
            legacy_sync_replicas=bool(spec.get("minSyncReplicas") or spec.get("maxSyncReplicas")),
            replica_cluster=bool(_obj(spec, "replica").get("enabled")),
            replica_source=_str(_obj(spec, "replica"), "source"),
            recovery_source=_str(_obj(_obj(spec, "bootstrap"), "recovery"), "source"),
            sources=_source_entries(spec),
            deleting=bool(metadata.get("deletionTimestamp")),
            raw=_slim(spec, status),
        )


def identity_problems(view: ClusterView) -> list[tuple[str, str, str]]:
    """``(field, value, problem)`` for a Cluster name or namespace CNPG would not admit.

    The API server and CNPG's webhook refuse these, so the operator never sends them;
    `render` reads files neither has seen. Every object name derives from them.
    """
    problems = []
    if not is_cluster_name(view.name):
        problems.append(
            (
                "name",
                view.name,
                f"is not a Cluster name CloudNativePG admits: at most {CNPG_MAX_NAME} "
                "lower-case letters, digits and '-', starting with a letter and ending "
                "with a letter or digit (example: name: mycluster)",
            )
        )
    if not is_dns1123_label(view.namespace):
        problems.append(
            (
                "namespace",
                view.namespace,
                "is not a namespace name: at most 63 lower-case letters, digits and '-', "
                "starting and ending with a letter or digit (example: namespace: default)",
            )
        )
    return problems


def _slim(spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    slim: dict[str, Any] = {"spec": {"plugins": _list(spec, "plugins")}}
    if _str(status, "writeService"):
        slim["status"] = {"writeService": status["writeService"]}
    return slim


def _obj(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _list(parent: dict[str, Any], key: str) -> list[Any]:
    value = parent.get(key)
    return value if isinstance(value, list) else []


def _str(parent: dict[str, Any], key: str) -> str:
    value = parent.get(key)
    return value if isinstance(value, str) else ""


def _int(parent: dict[str, Any], key: str, default: int) -> int:
    value = parent.get(key)
    return (
        value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
    )


def _plugin_entry(spec: dict[str, Any]) -> PluginEntry | None:
    entries = [
        (index, entry)
        for index, entry in enumerate(_list(spec, "plugins"))
        if isinstance(entry, dict) and entry.get("name") == PLUGIN_NAME
    ]
    if not entries:
        return None
    index, entry = entries[0]
    raw = _obj(entry, "parameters")
    enabled = entry.get("enabled")
    return PluginEntry(
        index=index,
        enabled=enabled is not False,
        parameters={str(k): v for k, v in raw.items() if isinstance(v, str)},
        not_strings={str(k): v for k, v in raw.items() if not isinstance(v, str)},
        enabled_value=None if enabled is None or isinstance(enabled, bool) else enabled,
        duplicates=tuple(i for i, _ in entries[1:]),
    )


def _source_entries(spec: dict[str, Any]) -> tuple[SourceEntry, ...]:
    entries = []
    for index, external in enumerate(_list(spec, "externalClusters")):
        if not isinstance(external, dict):
            continue
        plugin = _obj(external, "plugin")
        if plugin.get("name") != PLUGIN_NAME or plugin.get("enabled") is False:
            continue
        raw = _obj(plugin, "parameters")
        entries.append(
            SourceEntry(
                index=index,
                name=_str(external, "name"),
                parameters={str(k): v for k, v in raw.items() if isinstance(v, str)},
                not_strings={str(k): v for k, v in raw.items() if not isinstance(v, str)},
            )
        )
    return tuple(entries)


def _synchronous(postgresql: dict[str, Any]) -> SynchronousSpec | None:
    sync = _obj(postgresql, "synchronous")
    if not sync:
        return None
    return SynchronousSpec(
        method=_str(sync, "method"),
        number=_int(sync, "number", 0),
        standby_names_pre=tuple(str(n) for n in _list(sync, "standbyNamesPre")),
        standby_names_post=tuple(str(n) for n in _list(sync, "standbyNamesPost")),
        data_durability=_str(sync, "dataDurability") or "required",
    )
