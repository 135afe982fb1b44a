"""Every receiver metric, its name and help text, in one place (own registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

PREFIX = "cnpg_wal_replica_receiver_"
SERVED_LABELS = (
    *((kind, outcome) for kind in ("segment", "partial", "history") for outcome in ("ok", "error")),
    ("none", "not_found"),
    ("none", "invalid_argument"),
)
"""The WAL server's (kind, outcome) pairs, each exported from the start."""


class ReceiverMetrics:
    """The receiver's Prometheus metrics, registered in a private registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry

        def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
            return Gauge(PREFIX + name, doc, labels, registry=r)

        self.received_lsn = gauge("received_lsn", "Last WAL position received (as a number).")
        self.flushed_lsn = gauge(
            "flushed_lsn", "Last WAL position flushed to disk and confirmed to the server."
        )
        self.primary_lsn = gauge("primary_current_lsn", "The primary's current WAL position.")
        self.lag_bytes = gauge("lag_bytes", "Primary's current LSN minus the flushed LSN.")
        self.timeline = gauge("timeline", "Timeline being streamed.")
        self.last_segment = gauge(
            "last_segment_info", "Newest complete segment on disk (label), value 1.", ("segment",)
        )
        self.last_segment_time = gauge(
            "last_segment_timestamp_seconds", "Modification time of the newest complete segment."
        )
        self.first_segment_time = gauge(
            "first_segment_timestamp_seconds",
            "Modification time of the oldest complete segment: how far back the archive reaches.",
        )
        self.segments_on_disk = gauge("segments_on_disk", "Complete segments in the directory.")
        self.bytes_on_disk = gauge("archive_bytes", "Bytes of segments, partials and histories.")
        self.free_bytes = gauge("volume_free_bytes", "Free bytes on the WAL volume.")
        self.volume_size = gauge("volume_size_bytes", "Size of the WAL volume's filesystem.")
        self.restarts = Counter(
            PREFIX + "restarts", "pg_receivewal (re)starts after the first.", registry=r
        )
        self.connected = gauge("connected", "1 when our slot has an active walsender.")
        self.streaming = gauge("ready", "1 when /readyz answers 200.")
        self.slot_wal_status = gauge(
            "slot_wal_status", "The slot's wal_status (label), value 1.", ("status",)
        )
        self.slot_safe_wal_size = gauge(
            "slot_safe_wal_size_bytes",
            "Bytes of WAL the primary may still write before the "
            "slot is at risk (NaN when unlimited).",
        )
        self.sysid_mismatch = gauge(
            "system_identifier_mismatch",
            "1 when the directory holds WAL of another system; nothing is written then.",
        )
        self.storage_error = gauge(
            "storage_error",
            "1 when the WAL directory cannot be written (missing, read-only, full): nothing is "
            "received and the slot keeps WAL on the primary.",
        )
        self.slot_active_elsewhere = gauge(
            "slot_active_elsewhere",
            "1 when pg_receivewal was refused because another connection holds the slot.",
        )
        self.synchronous_listed = gauge(
            "synchronous_listed",
            "1 when the primary's synchronous_standby_names names our application_name "
            "(or *), 0 when it does not.",
        )
        self.archive_refused = gauge(
            "archive_refused",
            "1 when the receiver refuses its WAL directory (WAL of another system or segment "
            "size, an unreadable state file): nothing is written until it is fixed.",
        )
        self.last_gap_time = gauge(
            "last_gap_timestamp_seconds",
            "When the newest gap in the state file was recorded (WAL the primary removed "
            "before the receiver had it); 0 when there is none.",
        )
        self.gaps = gauge("gaps", "Gaps recorded in the state file (WAL the archive lacks).")
        self.gap_bytes = gauge("gap_bytes", "Bytes of WAL in recorded gaps.")
        self.diverged_files = Counter(
            PREFIX + "diverged_files", "Files moved aside after a timeline fork.", registry=r
        )
        self.retention_deleted = Counter(
            PREFIX + "retention_deleted_segments", "Segments deleted by retention.", registry=r
        )
        self.retention_emergency = gauge(
            "retention_emergency",
            "1 when the last retention run trimmed beyond the policy to keep disk space free.",
        )
        self.retention_floor_unreachable = gauge(
            "retention_floor_unreachable",
            "1 when the last retention run could not bring free space up to the floor "
            "even by deleting every segment it may delete.",
        )

        self.served_files = Counter(
            PREFIX + "served_files",
            "Fetches answered by the WAL server, by file kind and outcome "
            "(ok, not_found, invalid_argument, error).",
            ("kind", "outcome"),
            registry=r,
        )
        for kind, outcome in SERVED_LABELS:  # exported as 0 before the first fetch
            self.served_files.labels(kind, outcome)
        self.served_bytes = Counter(
            PREFIX + "served_bytes", "Bytes of WAL the WAL server sent to readers.", registry=r
        )

    def set_slot_status(self, status: str | None) -> None:
        """One label per status seen; the current one is 1, the others 0."""
        for known in ("reserved", "extended", "unreserved", "lost", "missing"):
            self.slot_wal_status.labels(known).set(0)
        self.slot_wal_status.labels(status or "missing").set(1)

    def set_last_segment(self, name: str | None) -> None:
        """Publish the newest segment name as the only label value."""
        self.last_segment.clear()
        if name:
            self.last_segment.labels(name).set(1)
