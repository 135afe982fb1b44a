"""verify: synthetic archives with real long page headers, one defect at a time."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import lz4.frame
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnpg_wal_replica.archive.headers import LONG_PAGE_HEADER_SIZE, XLP_LONG_HEADER, LongPageHeader
from cnpg_wal_replica.archive.listing import list_archive
from cnpg_wal_replica.archive.names import SegmentName, format_lsn
from cnpg_wal_replica.archive.state import STATE_FILE, ArchiveState, Gap, load_state, save_state
from cnpg_wal_replica.tools.verify import (
    Report,
    detect_segment_size,
    format_json,
    format_text,
    verify,
    verify_archive,
)

MIB = 1024 * 1024
PAGE = 8192
SYSID = 7301234567890123456
FOREIGN = 7309999999999999999
SWITCH = 6 * MIB + 0x1A8  # timeline 2 begins inside segment 6


def segment_bytes(
    tli: int,
    segno: int,
    *,
    header_tli: int | None = None,
    pageaddr: int | None = None,
    sysid: int = SYSID,
    pages: int = 128,
) -> bytes:
    """A 1 MiB segment: a long header, then short page headers on the first ``pages`` pages."""
    header = LongPageHeader(
        magic=0xD110,
        info=XLP_LONG_HEADER,
        timeline=header_tli or tli,
        page_address=segno * MIB if pageaddr is None else pageaddr,
        remaining_length=0,
        system_identifier=sysid,
        segment_size=MIB,
        block_size=PAGE,
    )
    data = bytearray(MIB)
    data[:LONG_PAGE_HEADER_SIZE] = header.pack()
    for page in range(1, pages):
        data[page * PAGE : page * PAGE + 2] = b"\x10\xd1"
    return bytes(data)


def write(directory: Path, tli: int, segno: int, *, suffix: str = "", **kwargs: int) -> Path:
    path = directory / (SegmentName(tli, segno).name(MIB) + suffix)
    data = segment_bytes(tli, segno, **kwargs)
    if ".gz" in suffix:
        data = gzip.compress(data, compresslevel=1)
    path.write_bytes(data)
    return path


def two_timeline_archive(directory: Path) -> Path:
    """Timeline 1: segments 1-5 and the superseded 6.partial; timeline 2: 6-8 and 9.partial."""
    for n in range(1, 6):
        write(directory, 1, n)
    write(directory, 1, 6, suffix=".partial", pages=20)
    (directory / "00000002.history").write_text(
        f"1\t{format_lsn(SWITCH)}\tno recovery target specified\n"
    )
    write(directory, 2, 6, header_tli=1)  # the switch segment starts with timeline 1's pages
    write(directory, 2, 7)
    write(directory, 2, 8)
    write(directory, 2, 9, suffix=".partial", pages=3)
    save_state(directory, ArchiveState(system_identifier=str(SYSID), timeline=2, segment_size=MIB))
    return directory


def check(directory: Path) -> Report:
    return verify_archive(list_archive(directory, MIB), load_state(directory))


def kinds(report: Report) -> list[str]:
    return [p.kind for p in report.problems]


def test_whole_archive_across_two_timelines_passes(tmp_path: Path) -> None:
    report = check(two_timeline_archive(tmp_path))
    assert report.problems == ()
    assert report.whole
    assert report.system_identifier == str(SYSID)
    assert report.recoverable is not None
    assert report.recoverable.timeline == 2
    assert report.recoverable.start_lsn == 1 * MIB
    assert report.recoverable.end_lsn == 9 * MIB
    assert report.recoverable.partial_end_lsn == 9 * MIB + 3 * PAGE
    assert [(t.timeline, t.segments) for t in report.timelines] == [(1, 5), (2, 3)]
    assert any("000000010000000000000006.partial: superseded" in n for n in report.notes)
    assert report.counts["segments"] == 8
    assert report.counts["partials"] == 2
    text = format_text(report)
    assert "recoverable: timeline 2 from 0/100000 to 0/900000" in text
    assert text.endswith("result: OK, the archive is whole")


def test_removed_segment_is_named_and_cuts_the_recoverable_range(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    (tmp_path / "000000010000000000000003").unlink()
    report = check(tmp_path)
    assert kinds(report) == ["missing-segments"]
    assert report.problems[0].files == ("000000010000000000000003",)
    assert "missing 000000010000000000000003 (1 segment)" in report.problems[0].message
    assert report.recoverable is not None
    assert report.recoverable.start_lsn == 4 * MIB
    assert "result: INCOMPLETE (1 problems)" in format_text(report)


def test_removed_switch_segment_of_the_new_timeline_is_missing(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    (tmp_path / "000000020000000000000006").unlink()
    report = check(tmp_path)
    assert kinds(report) == ["missing-segments"]
    assert report.problems[0].files == ("000000020000000000000006",)


def test_missing_history_file(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    (tmp_path / "00000002.history").unlink()
    report = check(tmp_path)
    assert "missing-history" in kinds(report)
    missing = next(p for p in report.problems if p.kind == "missing-history")
    assert missing.files == ("00000002.history",)


def test_stray_partial_in_the_middle(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    write(tmp_path, 2, 7, suffix=".partial")
    report = check(tmp_path)
    assert kinds(report) == ["stray-partial"]
    assert report.problems[0].files == ("000000020000000000000007.partial",)


def test_second_partial_at_the_end_is_stray(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    write(tmp_path, 2, 8, suffix=".partial")
    report = check(tmp_path)
    assert kinds(report) == ["stray-partial"]
    assert report.problems[0].files == ("000000020000000000000008.partial",)


def test_a_partial_left_by_a_compression_change_is_a_note_not_a_problem(tmp_path: Path) -> None:
    """pg_receivewal streams the segment again in the new format; the old partial stays."""
    two_timeline_archive(tmp_path)
    (tmp_path / "000000020000000000000008").unlink()
    write(tmp_path, 2, 8, suffix=".gz")
    write(tmp_path, 2, 8, suffix=".partial", pages=40)
    report = check(tmp_path)
    assert report.whole, report.problems
    assert (
        "000000020000000000000008.partial: superseded by the complete 000000020000000000000008.gz"
        in report.notes
    )


def test_foreign_segment(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    write(tmp_path, 2, 7, sysid=FOREIGN)
    report = check(tmp_path)
    assert "foreign-system" in kinds(report)
    foreign = next(p for p in report.problems if p.kind == "foreign-system")
    assert foreign.files == ("000000020000000000000007",)
    assert str(FOREIGN) in foreign.message
    # a foreign segment is not usable: the range starts after it
    assert report.recoverable is not None
    assert report.recoverable.start_lsn == 8 * MIB


def test_foreign_directory_without_state_compares_segments_with_each_other(tmp_path: Path) -> None:
    for n in range(1, 5):
        write(tmp_path, 1, n)
    write(tmp_path, 1, 5, sysid=FOREIGN)
    report = check(tmp_path)
    assert report.system_identifier == str(SYSID)
    assert report.problems[0].kind == "foreign-system"
    assert report.problems[0].files == ("000000010000000000000005",)


def test_state_file_identifier_wins_over_the_segments(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    save_state(tmp_path, ArchiveState(system_identifier=str(FOREIGN)))
    report = check(tmp_path)
    assert kinds(report)[0] == "foreign-system"
    assert len(report.problems[0].files) == 10  # every segment and partial with a header


def test_header_that_does_not_match_the_name(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    write(tmp_path, 1, 4, pageaddr=5 * MIB)
    write(tmp_path, 2, 8, header_tli=3)
    report = check(tmp_path)
    bad = [p for p in report.problems if p.kind == "bad-header"]
    assert [p.files for p in bad] == [("000000010000000000000004",), ("000000020000000000000008",)]
    assert "holds WAL at 0/500000, its name says 0/400000" in bad[0].message
    assert "timeline 3" in bad[1].message


def test_truncated_segment_has_the_wrong_size(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    os.truncate(tmp_path / "000000010000000000000002", MIB // 2)
    report = check(tmp_path)
    assert kinds(report) == ["wrong-size"]


def test_gzip_segments_are_decompressed_and_pass(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    for n in (2, 3):
        (tmp_path / SegmentName(1, n).name(MIB)).unlink()
        write(tmp_path, 1, n, suffix=".gz")
    report = check(tmp_path)
    assert report.whole, report.problems
    assert report.counts["gzip"] == 2


def test_corrupt_gzip_segment(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    (tmp_path / "000000010000000000000003").unlink()
    path = write(tmp_path, 1, 3, suffix=".gz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    report = check(tmp_path)
    assert "corrupt-compressed" in kinds(report)
    corrupt = next(p for p in report.problems if p.kind == "corrupt-compressed")
    assert corrupt.files == ("000000010000000000000003.gz",)
    assert report.recoverable is not None
    assert report.recoverable.start_lsn == 4 * MIB


def test_gzip_of_the_wrong_length(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    (tmp_path / "000000010000000000000003").unlink()
    (tmp_path / "000000010000000000000003.gz").write_bytes(
        gzip.compress(segment_bytes(1, 3)[: MIB - 10])
    )
    assert kinds(check(tmp_path)) == ["wrong-size"]


def lz4_segment(directory: Path, segno: int, data: bytes | None = None, **frame: bool) -> Path:
    """Timeline 1's plain segment ``segno`` replaced by an lz4 frame of ``data`` (or of it)."""
    plain = directory / SegmentName(1, segno).name(MIB)
    path = plain.with_name(plain.name + ".lz4")
    path.write_bytes(lz4.frame.compress(plain.read_bytes() if data is None else data, **frame))
    plain.unlink()
    return path


def test_lz4_segments_are_decompressed_without_the_lz4_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    two_timeline_archive(tmp_path)
    lz4_segment(tmp_path, 2)
    lz4_segment(tmp_path, 3, segment_bytes(1, 3, sysid=FOREIGN), content_checksum=True)
    report = check(tmp_path)
    assert kinds(report) == ["foreign-system"]
    assert report.problems[0].files == ("000000010000000000000003.lz4",)
    assert not any("lz4" in n for n in report.notes)

    listing = list_archive(tmp_path, MIB)
    skipped = verify_archive(listing, load_state(tmp_path), check_compressed=False)
    assert skipped.whole  # neither header is read when the content is skipped
    assert any("2 lz4 segment(s): frame magic checked" in n for n in skipped.notes)


def test_lz4_frames_one_after_another_are_one_segment(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    data = segment_bytes(1, 2)
    path = lz4_segment(tmp_path, 2, data[: MIB // 2])
    path.write_bytes(path.read_bytes() + lz4.frame.compress(data[MIB // 2 :]))
    assert check(tmp_path).whole


def flip_a_content_byte(frame: bytes) -> bytes:
    """One byte of the compressed blocks changed: the content checksum no longer matches."""
    return frame[:-100] + bytes([frame[-100] ^ 0xFF]) + frame[-99:]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (flip_a_content_byte, "cannot decompress: LZ4F_decompress failed"),
        (lambda frame: frame[: len(frame) // 2], "truncated: the file ends inside an lz4 frame"),
        (lambda frame: frame + b"not a frame", "cannot decompress: LZ4F_decompress failed"),
    ],
    ids=["corrupt", "truncated", "trailing-garbage"],
)
def test_a_damaged_lz4_segment_cannot_be_used(
    tmp_path: Path, damage: Callable[[bytes], bytes], message: str
) -> None:
    two_timeline_archive(tmp_path)
    path = lz4_segment(tmp_path, 3, content_checksum=True)
    path.write_bytes(damage(path.read_bytes()))
    report = check(tmp_path)
    assert kinds(report) == ["corrupt-compressed"]
    assert report.problems[0].files == ("000000010000000000000003.lz4",)
    assert message in report.problems[0].message
    assert report.recoverable is not None
    assert report.recoverable.start_lsn == 4 * MIB


def test_lz4_of_the_wrong_length(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    lz4_segment(tmp_path, 3, segment_bytes(1, 3)[: MIB - 10])
    assert kinds(check(tmp_path)) == ["wrong-size"]


def test_lz4_segment_without_the_frame_magic(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    (tmp_path / "000000010000000000000002").rename(tmp_path / "000000010000000000000002.lz4")
    report = check(tmp_path)
    assert kinds(report) == ["corrupt-compressed"]
    assert "not an lz4 frame" in report.problems[0].message


def test_recorded_gap_is_labelled_and_still_incomplete(tmp_path: Path) -> None:
    for n in range(1, 4):
        write(tmp_path, 1, n)
    write(tmp_path, 1, 4, suffix=".partial", pages=5)  # what the receiver had when WAL was lost
    for n in range(8, 10):
        write(tmp_path, 1, n)
    write(tmp_path, 1, 10, suffix=".partial", pages=2)
    gap = Gap(4 * MIB + 5 * PAGE, 8 * MIB, 1, "slot invalidated", "2026-11-26T04:00:00Z")
    save_state(tmp_path, ArchiveState(str(SYSID), 1, MIB, gaps=(gap,)))
    report = check(tmp_path)
    assert kinds(report) == ["recorded-gap"]
    problem = report.problems[0]
    assert problem.message.startswith("recorded gap: WAL lost on the server, 0/40A000 to 0/800000")
    assert problem.files == tuple(SegmentName(1, n).name(MIB) for n in range(4, 8))
    assert any(
        "000000010000000000000004.partial: received up to a recorded gap" in n for n in report.notes
    )
    assert report.recoverable is not None
    assert report.recoverable.start_lsn == 8 * MIB
    result = CliRunner().invoke(verify, [str(tmp_path)])
    assert result.exit_code == 1
    assert "recorded gap: WAL lost on the server" in result.output


def test_recorded_gap_older_than_the_archive_is_only_a_note(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    gap = Gap(0, MIB // 2, 1, "slot dropped", "2026-11-26T04:00:00Z")
    save_state(tmp_path, ArchiveState(str(SYSID), 2, MIB, gaps=(gap,)))
    report = check(tmp_path)
    assert report.whole
    assert any("older than the archive" in n for n in report.notes)


def test_json_output_and_exit_codes(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    runner = CliRunner()
    result = runner.invoke(verify, [str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["whole"] is True
    assert data["result"] == "whole"
    assert data["recoverable"] == {
        "timeline": 2,
        "start_lsn": "0/100000",
        "end_lsn": "0/900000",
        "partial": "000000020000000000000009.partial",
        "partial_end_lsn": "0/906000",
    }
    assert data["timelines"][1]["partial"] == "000000020000000000000009.partial"

    (tmp_path / "000000010000000000000004").unlink()
    result = runner.invoke(verify, [str(tmp_path), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["problems"] == [
        {
            "kind": "missing-segments",
            "message": "missing 000000010000000000000004 (1 segment)",
            "files": ["000000010000000000000004"],
        }
    ]
    assert json.loads(format_json(check(tmp_path))) == data


def test_unreadable_state_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_text("{not json")
    result = CliRunner().invoke(verify, [str(tmp_path)])
    assert result.exit_code == 2
    assert "not a valid state file" in result.output


def test_bad_segment_size_option_names_the_fix(tmp_path: Path) -> None:
    result = CliRunner().invoke(verify, [str(tmp_path), "--segment-size", "3Mi"])
    assert result.exit_code == 2
    assert "power of two" in result.output


def test_segment_size_comes_from_the_headers_without_a_state_file(tmp_path: Path) -> None:
    write(tmp_path, 1, 1)
    write(tmp_path, 1, 2)
    assert detect_segment_size(tmp_path, ArchiveState()) == MIB
    assert detect_segment_size(tmp_path, ArchiveState(segment_size=64 * MIB)) == 64 * MIB
    result = CliRunner().invoke(verify, [str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "segment size 1.0 MiB" in result.output


def test_empty_directory_is_not_whole_and_says_so(tmp_path: Path) -> None:
    report = check(tmp_path)
    assert not report.whole
    assert report.empty
    assert report.result == "empty"
    assert report.recoverable is None
    text = format_text(report)
    assert "recoverable: nothing" in text
    assert "result: OK" not in text
    assert text.endswith("is this the receiver's WAL directory?")
    assert "result: EMPTY, no WAL segment in" in text


@pytest.mark.parametrize("as_json", [False, True])
def test_empty_or_wrong_directory_exits_3(tmp_path: Path, as_json: bool) -> None:
    wal_dir = tmp_path / "wal"
    wal_dir.mkdir()
    two_timeline_archive(wal_dir)
    (tmp_path / "lost+found").mkdir()
    (tmp_path / "README").write_text("the volume root, not the WAL directory")
    args = [str(tmp_path), *(["--json"] if as_json else [])]
    result = CliRunner().invoke(verify, args)
    assert result.exit_code == 3, result.output
    if as_json:
        data = json.loads(result.output)
        assert (data["result"], data["whole"]) == ("empty", False)
        assert any(str(wal_dir) in note for note in data["notes"])
    else:
        assert "result: EMPTY" in result.output
        assert "result: OK" not in result.output
        assert f"{wal_dir} holds" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(verify, [str(empty), *(["--json"] if as_json else [])])
    assert result.exit_code == 3, result.output


def test_unknown_files_are_notes(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    (tmp_path / "00000003.history.tmp").write_text("")
    report = check(tmp_path)
    assert report.whole
    assert "unknown file kept as is: 00000003.history.tmp" in report.notes


def test_segments_past_the_fork_on_the_old_timeline_are_noted(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    (tmp_path / "000000010000000000000006.partial").unlink()
    write(tmp_path, 1, 6)
    write(tmp_path, 1, 7)  # diverged: timeline 2 began inside segment 6
    report = check(tmp_path)
    assert report.whole, report.problems
    assert any(
        "1 segment(s) not on timeline 2's history" in n and "000000010000000000000007" in n
        for n in report.notes
    )


def test_the_installed_command_runs_verify(tmp_path: Path) -> None:
    two_timeline_archive(tmp_path)
    command = [sys.executable, "-m", "cnpg_wal_replica", "verify", str(tmp_path), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["whole"] is True
    (tmp_path / "000000020000000000000007").unlink()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert json.loads(done.stdout)["problems"][0]["files"] == ["000000020000000000000007"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=st.integers(1, 20),
    length=st.integers(2, 12),
    data=st.data(),
)
def test_exactly_the_removed_segments_are_reported(
    tmp_path_factory: pytest.TempPathFactory, first: int, length: int, data: st.DataObject
) -> None:
    directory = tmp_path_factory.mktemp("prop")
    last = first + length - 1
    for n in range(first, last + 1):
        write(directory, 1, n, pages=1)
    write(directory, 1, last + 1, suffix=".partial", pages=1)
    removed = data.draw(st.sets(st.integers(first + 1, last)))
    for n in removed:
        (directory / SegmentName(1, n).name(MIB)).unlink()
    report = check(directory)
    reported = {name for p in report.problems for name in p.files}
    assert {p.kind for p in report.problems} <= {"missing-segments"}
    assert reported == {SegmentName(1, n).name(MIB) for n in removed}
    assert report.recoverable is not None
    assert report.recoverable.start_lsn == (max(removed) + 1 if removed else first) * MIB
    assert report.recoverable.end_lsn == (last + 1) * MIB


@pytest.mark.parametrize("offset", [0, 0x28, MIB // 2])
def test_timeline_switch_on_and_off_a_segment_boundary(tmp_path: Path, offset: int) -> None:
    switch = 4 * MIB + offset
    for n in range(1, 4):
        write(tmp_path, 1, n)
    if offset:  # timeline 1 streamed part of segment 4 before the switch
        write(tmp_path, 1, 4, suffix=".partial", pages=2)
    (tmp_path / "00000002.history").write_text(f"1\t{format_lsn(switch)}\tpromoted\n")
    write(tmp_path, 2, 4, header_tli=1 if offset else 2)
    write(tmp_path, 2, 5)
    write(tmp_path, 2, 6, suffix=".partial")
    report = check(tmp_path)
    assert report.whole, report.problems
    assert report.recoverable is not None
    assert (report.recoverable.start_lsn, report.recoverable.end_lsn) == (MIB, 6 * MIB)


def test_three_timelines_need_every_switch_backed(tmp_path: Path) -> None:
    for n in range(1, 4):
        write(tmp_path, 1, n)
    (tmp_path / "00000002.history").write_text("1\t0/300000\tpromoted\n")
    write(tmp_path, 2, 3)
    write(tmp_path, 2, 4)
    (tmp_path / "00000003.history").write_text("1\t0/300000\tpromoted\n2\t0/500000\tpromoted\n")
    write(tmp_path, 3, 5)
    write(tmp_path, 3, 6, suffix=".partial")
    assert check(tmp_path).whole
    (tmp_path / "000000020000000000000004").unlink()
    (tmp_path / "00000002.history").unlink()
    report = check(tmp_path)
    assert sorted(kinds(report)) == ["missing-history", "missing-segments"]
    missing = next(p for p in report.problems if p.kind == "missing-segments")
    assert missing.files == ("000000020000000000000004",)
