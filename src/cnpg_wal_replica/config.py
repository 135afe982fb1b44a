"""Plugin parameters of a Cluster → a validated, defaulted Configuration, or every problem.

`parse` never stops at the first problem: users fix everything in one round. Each
ConfigIssue carries the path of the field users edit (``spec.plugins[<index>].parameters.
<parameter>``), the bad value and a message with one example of a good one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from cnpg_wal_replica.cluster import ClusterView, identity_problems
from cnpg_wal_replica.entry import entry_issues, example_note
from cnpg_wal_replica.errors import ConfigError, ConfigIssue, parameter_path
from cnpg_wal_replica.metadata import DEFAULT_SLOT_NAME, RECEIVER_SUFFIX
from cnpg_wal_replica.naming import fit
from cnpg_wal_replica.parameters import BY_NAME, PARAMETERS
from cnpg_wal_replica.units import parse_quantity

DEFAULT_WAL_DIRECTORY = "/var/lib/postgresql/wal"
DEFAULT_PVC_SIZE = "10Gi"


@dataclass(frozen=True)
class Configuration:
    """The receiver configuration in force for one Cluster."""

    image: str
    replication_host: str
    synchronous: bool
    wal_directory: str
    wal_pvc_size: str
    wal_pvc_bytes: int
    wal_storage_class: str | None
    slot_name: str
    application_name: str
    compression: str
    verbose: bool
    cpu_request: str | None
    memory_request: str | None
    cpu_limit: str | None
    memory_limit: str | None
    retention_max_age_seconds: int | None
    retention_max_size_bytes: int | None
    readers: str = ""
    """Normalised `readers` patterns (``ns/cluster, ns/*``); empty: only the own namespace."""

    def as_dict(self) -> dict[str, Any]:
        """Plain data, e.g. for the status JSON."""
        return asdict(self)


def default_application_name(cluster_name: str) -> str:
    """The documented application name: ``<cluster>-wal-receiver`` (CNPG-I spec §5.3).

    The receiver's object name (`specs.names.receiver_name`, which config may not import;
    a test keeps them equal): never shortened for a Cluster name CNPG admits.
    """
    return fit(cluster_name, RECEIVER_SUFFIX)


def static_defaults(view: ClusterView) -> dict[str, str]:
    """Defaults that depend only on the Cluster's identity (what MutateCluster adds)."""
    return {
        "synchronous": "inactive",
        "walDirectory": DEFAULT_WAL_DIRECTORY,
        "walPVCSize": DEFAULT_PVC_SIZE,
        "slotName": DEFAULT_SLOT_NAME,
        "applicationName": default_application_name(view.name),
        "compression": "none",
        "verbose": "false",
    }


def _path(view: ClusterView, parameter: str) -> tuple[str, ...]:
    return parameter_path(view.plugin.index if view.plugin else 0, parameter)


def _issue(
    view: ClusterView, parameter: str, value: str, problem: str, example: str | None = None
) -> ConfigIssue:
    return ConfigIssue(_path(view, parameter), value, problem + example_note(parameter, example))


def collect(
    view: ClusterView, receiver_image: str | None
) -> tuple[Configuration | None, tuple[ConfigIssue, ...]]:
    """Parse the Cluster's parameters: the configuration, or None and every issue."""
    given = view.plugin.parameters if view.plugin else {}
    issues = entry_issues(view)
    issues.extend(
        ConfigIssue(("metadata", field), value, problem)
        for field, value, problem in identity_problems(view)
    )
    for unknown in sorted(set(given) - set(BY_NAME)):
        known = ", ".join(spec.name for spec in PARAMETERS)
        issues.append(
            ConfigIssue(
                _path(view, unknown),
                given[unknown],
                f"is not a parameter of this plugin; known parameters: {known}",
            )
        )
    values: dict[str, Any] = {}
    raw = {**static_defaults(view), **{k: v for k, v in given.items() if k in BY_NAME}}
    for name, text in raw.items():
        try:
            values[name] = BY_NAME[name].parse(text)
        except ValueError as exc:
            issues.append(_issue(view, name, text, str(exc), getattr(exc, "example", None)))
    issues.extend(_contextual_issues(view, given, values, receiver_image))
    if issues:
        return None, tuple(issues)
    return _build(view, values, receiver_image), ()


def parse(view: ClusterView, receiver_image: str | None) -> Configuration:
    """The configuration in force, or ConfigError listing every problem."""
    configuration, issues = collect(view, receiver_image)
    if configuration is None:
        raise ConfigError(issues)
    return configuration


def _contextual_issues(
    view: ClusterView, given: dict[str, str], values: dict[str, Any], receiver_image: str | None
) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    if "image" not in given and not receiver_image:
        issues.append(
            _issue(
                view,
                "image",
                "",
                "no receiver image: set the image parameter or "
                "start the plugin server with --receiver-image/PLUGIN_IMAGE",
            )
        )
    host = values.get("replicationHost")
    if "replicationHost" not in given and view.rw_service_disabled:
        issues.append(
            _issue(
                view,
                "replicationHost",
                "",
                "the Cluster disables its -rw Service "
                "(spec.managed.services.disabledDefaultServices), so the receiver "
                "needs replicationHost naming a service that reaches the primary",
            )
        )
    elif isinstance(host, str) and view.server_alt_dns_names:
        names = {n.lower() for n in view.server_alt_dns_names}
        if host.lower() not in names:
            issues.append(
                _issue(
                    view,
                    "replicationHost",
                    given["replicationHost"],
                    "is not among the server certificate's names, so "
                    "sslmode=verify-full would refuse it; use one of "
                    f"{sorted(names)[:4]} or add it to "
                    "spec.certificates.serverAltDNSNames",
                )
            )
    for kind in ("cpu", "memory"):
        request, limit = given.get(f"{kind}Request"), given.get(f"{kind}Limit")
        if (
            f"{kind}Request" in values
            and f"{kind}Limit" in values
            and request
            and limit
            and (parse_quantity(request) > parse_quantity(limit))
        ):
            issues.append(
                _issue(
                    view,
                    f"{kind}Request",
                    request,
                    f"exceeds {kind}Limit {limit!r}; a request may not exceed its limit",
                )
            )
    size, keep = values.get("walPVCSize"), values.get("retentionMaxSize")
    if isinstance(size, int) and isinstance(keep, int) and keep >= size:
        issues.append(
            _issue(
                view,
                "retentionMaxSize",
                given["retentionMaxSize"],
                f"is not smaller than walPVCSize {raw_size(given)!r}, so it would "
                "never apply before the volume fills; use at most 90% of it",
            )
        )
    return issues


def raw_size(given: dict[str, str]) -> str:
    """The walPVCSize as written, or the default."""
    return given.get("walPVCSize", DEFAULT_PVC_SIZE)


def _build(view: ClusterView, values: dict[str, Any], receiver_image: str | None) -> Configuration:
    image = values.get("image") or receiver_image or ""
    return Configuration(
        image=image,
        replication_host=values.get("replicationHost") or view.write_service,
        synchronous=values["synchronous"],
        wal_directory=values["walDirectory"],
        wal_pvc_size=raw_size(view.plugin.parameters if view.plugin else {}).strip(),
        wal_pvc_bytes=values["walPVCSize"],
        wal_storage_class=values.get("walStorageClass"),
        slot_name=values["slotName"],
        application_name=values["applicationName"],
        compression=values["compression"],
        verbose=values["verbose"],
        cpu_request=values.get("cpuRequest"),
        memory_request=values.get("memoryRequest"),
        cpu_limit=values.get("cpuLimit"),
        memory_limit=values.get("memoryLimit"),
        retention_max_age_seconds=values.get("retentionMaxAge"),
        retention_max_size_bytes=values.get("retentionMaxSize"),
        readers=values.get("readers", ""),
    )


def check_change(
    old: ClusterView, new: ClusterView, receiver_image: str | None
) -> tuple[ConfigIssue, ...]:
    """Problems with changing ``old`` into ``new``: the new issues plus forbidden changes."""
    new_config, issues = collect(new, receiver_image)
    old_config, _ = collect(old, receiver_image)
    if new_config is None or old_config is None or not old.plugin_enabled:
        return issues
    changes: list[ConfigIssue] = []
    if new_config.wal_pvc_bytes < old_config.wal_pvc_bytes:
        changes.append(
            _issue(
                new,
                "walPVCSize",
                new_config.wal_pvc_size,
                f"would shrink the WAL volume from {old_config.wal_pvc_size}; "
                "Kubernetes volumes can only grow, keep it at least that size",
            )
        )
    if new_config.wal_directory != old_config.wal_directory:
        changes.append(
            _issue(
                new,
                "walDirectory",
                new_config.wal_directory,
                f"cannot change from {old_config.wal_directory!r}: the archive "
                "and its state live there; keep the old value",
            )
        )
    if new_config.slot_name != old_config.slot_name:
        changes.append(
            _issue(
                new,
                "slotName",
                new_config.slot_name,
                f"cannot change from {old_config.slot_name!r}: the old slot would "
                "keep pinning WAL on the primary; keep the old name, or remove the "
                "plugin (which drops the slot) and add it again",
            )
        )
    if new_config.wal_storage_class != old_config.wal_storage_class:
        changes.append(
            _issue(
                new,
                "walStorageClass",
                new_config.wal_storage_class or "",
                f"cannot change from {old_config.wal_storage_class!r}: a volume's "
                "StorageClass is immutable; keep the old value",
            )
        )
    return tuple(changes)
