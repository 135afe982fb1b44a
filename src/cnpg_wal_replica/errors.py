"""Every error a user or the cluster can cause, under one base class.

WalReplicaError
├── ConfigError            invalid plugin parameters; carries one ConfigIssue per problem
├── ClusterDecodeError     the Cluster JSON from the operator cannot be read
│   └── NotInjectableError     a Pod or Job without the PostgreSQL container (specs.injection)
├── ApplyError             the Kubernetes API refused what the plugin asked for
├── ArchiveError           a WAL directory cannot be used (foreign system, unreadable state)
│   ├── ForeignArchiveError    WAL of another system identifier (receiver.preparing)
│   ├── StateFileError         the archive's state file (archive.state)
│   └── ArchiveReadError       a file the WAL server cannot serve (archive.serving)
├── the plugin server:     ListenError, CoreOpenError (plugin.server), CoreNotReadyError
│                          (plugin.deferred)
├── the receiver:          SettingsError (receiver.settings), StartupError (receiver.app),
│                          WALServerStartError (receiver.walserver), BackgroundTaskError
│                          (receiver.supervisor)
├── the sidecar:           SettingsError (sidecar.settings), StartupError (sidecar.app),
│                          FetchError (sidecar.client), NotInArchiveError (sidecar.restorer)
├── TLSFilesError          certificate files that cannot be used (transport.tls)
└── LocalPostgresError     the demo's and tests' throwaway PostgreSQL (localpg; also a
                           RuntimeError)

`bounds.BadValueError` is a ValueError on purpose: parameter parsers raise ValueError, and
`config` turns each into a ConfigIssue.
"""

from __future__ import annotations

from dataclasses import dataclass


class WalReplicaError(Exception):
    """Base class of the errors this package raises on purpose."""


def parameter_path(index: int, parameter: str) -> tuple[str, ...]:
    """The path of a parameter: ``("spec", "plugins", "<index>", "parameters", "<name>")``."""
    return ("spec", "plugins", str(index), "parameters", parameter)


def field_name(path: tuple[str, ...]) -> str:
    """The field as users write it: ``spec.plugins[0].parameters.walPVCSize``."""
    text = ""
    for part in path:
        text += f"[{part}]" if part.isdigit() else f".{part}" if text else part
    return text


SHOWN_VALUE_CHARS = 120
"""A bad value is quoted up to this length in messages (a value may be megabytes)."""


def shown(value: str) -> str:
    """``value`` as messages quote it: clipped to `SHOWN_VALUE_CHARS`, marked with "…"."""
    if len(value) <= SHOWN_VALUE_CHARS:
        return value
    return f"{value[: SHOWN_VALUE_CHARS - 1]}…"


@dataclass(frozen=True)
class ConfigIssue:
    """One problem with one field of this plugin's `spec.plugins` entry.

    ``path`` is the CNPG-I ValidationError path, usually `parameter_path` (the operator
    joins it with dots). ``message`` says what is wrong and how to fix it, with one example
    of a good value; it does not repeat the value.
    """

    path: tuple[str, ...]
    value: str
    message: str

    @property
    def parameter(self) -> str:
        """The parameter name (last path element)."""
        return self.path[-1]

    @property
    def field(self) -> str:
        """The field a user edits, e.g. ``spec.plugins[0].parameters.walPVCSize``."""
        return field_name(self.path)

    def describe(self) -> str:
        """One line for logs, Events and the Cluster's phase reason."""
        return f"{self.field}={shown(self.value)!r}: {self.message}"


class ConfigError(WalReplicaError):
    """The plugin parameters of a Cluster are invalid; nothing was applied."""

    def __init__(self, issues: tuple[ConfigIssue, ...]) -> None:
        self.issues = issues
        listed = "; ".join(issue.describe() for issue in issues)
        super().__init__(f"invalid wal-replica configuration: {listed}")


class ClusterDecodeError(WalReplicaError):
    """The Cluster definition sent by the operator is not usable JSON."""


class ApplyError(WalReplicaError):
    """The Kubernetes API server refused a write the plugin needs."""


class ArchiveError(WalReplicaError):
    """A WAL directory cannot be used as it is."""
