"""The directory round: the timeline metric follows the files, redundant partials go,
retention publishes whether it could keep the volume's free space."""

from __future__ import annotations

import os
from pathlib import Path

from cnpg_wal_replica.archive.listing import list_archive
from cnpg_wal_replica.receiver.metrics import ReceiverMetrics
from cnpg_wal_replica.receiver.monitoring import (
    publish_directory,
    remove_superseded_partials,
    run_retention,
)
from cnpg_wal_replica.receiver.settings import ReceiverSettings

MIB = 1024 * 1024


def timeline_metric(metrics: ReceiverMetrics) -> float | None:
    return metrics.registry.get_sample_value("cnpg_wal_replica_receiver_timeline")


def test_a_switch_seen_only_in_the_files_moves_the_timeline_metric(tmp_path: Path) -> None:
    for name in (
        "000000010000000000000001",
        "000000010000000000000002",
        "000000010000000000000003.partial",
    ):
        (tmp_path / name).write_bytes(b"x")
    metrics = ReceiverMetrics()
    metrics.timeline.set(1)  # what IDENTIFY_SYSTEM said when pg_receivewal connected

    publish_directory(list_archive(tmp_path, MIB), 0, metrics)
    assert timeline_metric(metrics) == 1

    # the upstream standby followed a promotion: history, last segment of 1, new partial of 2
    (tmp_path / "000000010000000000000003.partial").rename(tmp_path / "000000010000000000000003")
    (tmp_path / "00000002.history").write_bytes(b"1\t0/3000100\tno recovery target\n")
    (tmp_path / "000000020000000000000003.partial").write_bytes(b"x")

    publish_directory(list_archive(tmp_path, MIB), 0, metrics)
    assert timeline_metric(metrics) == 2


def test_the_newest_file_decides_not_the_highest_timeline(tmp_path: Path) -> None:
    (tmp_path / "000000020000000000000005").write_bytes(b"x")
    (tmp_path / "000000010000000000000009.gz.partial").write_bytes(b"x")
    metrics = ReceiverMetrics()
    publish_directory(list_archive(tmp_path, MIB), 0, metrics)
    assert timeline_metric(metrics) == 1


def test_an_empty_directory_leaves_the_metric_as_it_is(tmp_path: Path) -> None:
    metrics = ReceiverMetrics()
    metrics.timeline.set(3)
    publish_directory(list_archive(tmp_path, MIB), 0, metrics)
    assert timeline_metric(metrics) == 3


def test_a_partial_left_by_a_compression_change_is_removed_once_its_segment_is_complete(
    tmp_path: Path,
) -> None:
    """pg_receivewal streamed segment 6 again as gzip; 7 is being written."""
    for name in (
        "000000010000000000000005",
        "000000010000000000000006.partial",  # the old, uncompressed partial
        "000000010000000000000006.gz",
        "000000010000000000000007.gz.partial",
    ):
        (tmp_path / name).write_bytes(b"x")

    assert remove_superseded_partials(list_archive(tmp_path, MIB)) == 1

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "000000010000000000000005",
        "000000010000000000000006.gz",
        "000000010000000000000007.gz.partial",
    ]


def test_a_partial_beside_its_complete_segment_in_the_same_format_is_kept(tmp_path: Path) -> None:
    """pg_receivewal renames a finished partial; such a pair is for verify to report."""
    for name in ("000000010000000000000006.partial", "000000010000000000000006"):
        (tmp_path / name).write_bytes(b"x")
    assert remove_superseded_partials(list_archive(tmp_path, MIB)) == 0
    assert len(list(tmp_path.iterdir())) == 2


def test_the_uncompressed_partial_is_kept_while_the_new_format_is_still_partial(
    tmp_path: Path,
) -> None:
    """Until the gzip copy is complete, the old partial may hold WAL no other file has."""
    for name in ("000000010000000000000006.partial", "000000010000000000000006.gz.partial"):
        (tmp_path / name).write_bytes(b"x")
    assert remove_superseded_partials(list_archive(tmp_path, MIB)) == 0


def _retention_metrics(tmp_path: Path, free_bytes: int, total_bytes: int) -> ReceiverMetrics:
    for n in range(1, 4):
        (tmp_path / f"00000001000000000000000{n}").write_bytes(b"w" * 1000)
    settings = ReceiverSettings(
        host="pg-rw",
        application_name="pg-wal-receiver",
        wal_directory=tmp_path,
        pg_receivewal=Path("/bin/true"),
    )
    metrics = ReceiverMetrics()
    run_retention(settings, list_archive(tmp_path, MIB), free_bytes, total_bytes, metrics)
    return metrics


def _sample(metrics: ReceiverMetrics, name: str) -> float | None:
    return metrics.registry.get_sample_value(f"cnpg_wal_replica_receiver_{name}")


def test_retention_that_cannot_reach_the_free_space_floor_says_so(tmp_path: Path) -> None:
    """A full volume whose files retention may not delete: emergency and unreachable."""
    metrics = _retention_metrics(tmp_path, free_bytes=0, total_bytes=1024 * MIB)
    assert _sample(metrics, "retention_emergency") == 1
    assert _sample(metrics, "retention_floor_unreachable") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["000000010000000000000003"]


def test_retention_on_a_roomy_volume_reports_no_trouble(tmp_path: Path) -> None:
    metrics = _retention_metrics(tmp_path, free_bytes=900 * MIB, total_bytes=1024 * MIB)
    assert _sample(metrics, "retention_emergency") == 0
    assert _sample(metrics, "retention_floor_unreachable") == 0
    assert len(list(tmp_path.iterdir())) == 3


def test_the_archive_reaches_back_to_its_oldest_segment(tmp_path: Path) -> None:
    for n, mtime in ((1, 1000), (2, 2000), (3, 3000)):
        path = tmp_path / f"00000001000000000000000{n}"
        path.write_bytes(b"x")
        os.utime(path, (mtime, mtime))
    metrics = ReceiverMetrics()
    publish_directory(list_archive(tmp_path, MIB), 0, metrics)
    assert _sample(metrics, "first_segment_timestamp_seconds") == 1000
    assert _sample(metrics, "last_segment_timestamp_seconds") == 3000
