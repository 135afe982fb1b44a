"""verify on a real archive: PostgreSQL 15 with 1 MiB segments, streamed by pg_receivewal.

The server is a tiny local helper (Unix socket only, trust auth): this test is about the
files pg_receivewal writes, not about TLS, which the receiver tests cover.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from cnpg_wal_replica.archive.listing import list_archive
from cnpg_wal_replica.archive.names import SegmentName, parse_segment_name
from cnpg_wal_replica.archive.state import ArchiveState, load_state, save_state
from cnpg_wal_replica.tools.verify import verify, verify_archive

BIN = Path("/usr/lib/postgresql/15/bin")
MIB = 1024 * 1024

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not (BIN / "postgres").exists(), reason="needs PostgreSQL 15 binaries"),
]


@dataclass(frozen=True)
class Server:
    socket_dir: Path
    system_identifier: str

    @property
    def conninfo(self) -> str:
        return f"host={self.socket_dir} user=postgres dbname=postgres"

    def sql(self, query: str) -> list[tuple[object, ...]]:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            cur = conn.execute(query.encode())
            return cur.fetchall() if cur.description else []


def run_as() -> str | None:
    """initdb and postgres refuse to run as root."""
    return "postgres" if os.geteuid() == 0 else None


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    root = Path(tempfile.mkdtemp(prefix="pgverify-"))  # short: Unix socket paths are limited
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    user = run_as()
    if user:
        entry = pwd.getpwnam(user)
        for path in (root, sock):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    proc: subprocess.Popen[bytes] | None = None
    try:
        subprocess.run(
            [
                str(BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--wal-segsize=1",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            user=user,
        )
        proc = subprocess.Popen(
            [
                str(BIN / "postgres"),
                "-D",
                str(data),
                "-c",
                "listen_addresses=",
                "-c",
                f"unix_socket_directories={sock}",
                "-c",
                "fsync=off",
                "-c",
                "wal_level=replica",
                "-c",
                "max_wal_senders=5",
                "-c",
                "max_replication_slots=5",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=user,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                srv = Server(sock, "")
                sysid = srv.sql("SELECT system_identifier FROM pg_control_system()")[0][0]
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.1)
        yield Server(sock, str(sysid))
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)  # fast shutdown
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(root, ignore_errors=True)


def stream_archive(server: Server, directory: Path, slot: str, compress: str) -> None:
    """Stream a few WAL switches into ``directory``, then stop pg_receivewal cleanly."""
    base = [str(BIN / "pg_receivewal"), "-d", server.conninfo, "-S", slot]
    subprocess.run([*base, "--create-slot"], check=True, capture_output=True)
    receiver = subprocess.Popen(
        [*base, "-D", str(directory), "--no-loop", "--synchronous", f"--compress={compress}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # Write WAL only once pg_receivewal streams, so every switch lands in the archive.
        deadline = time.monotonic() + 30
        active = f"SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'"
        while server.sql(active) != [(True,)]:
            assert receiver.poll() is None, receiver.stderr.read() if receiver.stderr else ""
            assert time.monotonic() < deadline, f"pg_receivewal never streamed from {slot}"
            time.sleep(0.05)
        server.sql("CREATE TABLE IF NOT EXISTS filler (x text)")
        for _ in range(5):
            server.sql("INSERT INTO filler SELECT repeat('w', 200) FROM generate_series(1, 2000)")
            server.sql("SELECT pg_switch_wal()")
        server.sql("INSERT INTO filler VALUES ('tail')")
        current = str(server.sql("SELECT pg_walfile_name(pg_current_wal_lsn())")[0][0])
        segment = parse_segment_name(current, MIB)
        assert segment is not None
        previous = SegmentName(segment.timeline, segment.segno - 1).name(MIB)
        suffix = {"none": "", "gzip": ".gz", "lz4": ".lz4"}[compress.split(":")[0]]
        deadline = time.monotonic() + 30
        expected = [directory / (previous + suffix), directory / f"{current}{suffix}.partial"]
        while not all(path.exists() for path in expected):
            assert receiver.poll() is None, receiver.stderr.read() if receiver.stderr else ""
            assert time.monotonic() < deadline, f"{previous}{suffix} or the partial never came"
            time.sleep(0.05)
    finally:
        receiver.send_signal(signal.SIGINT)  # pg_receivewal exits 0 on SIGINT
        try:
            receiver.wait(timeout=10)
        except subprocess.TimeoutExpired:
            receiver.kill()
            receiver.wait()
        subprocess.run([*base, "--drop-slot"], check=False, capture_output=True)


@pytest.mark.parametrize("compress", ["none", "gzip:1", "lz4"])
def test_real_archive_passes_then_fails_naming_a_removed_segment(
    server: Server, tmp_path: Path, compress: str
) -> None:
    slot = "verify_" + compress.split(":")[0]
    stream_archive(server, tmp_path, slot, compress)
    save_state(
        tmp_path,
        ArchiveState(system_identifier=server.system_identifier, timeline=1, segment_size=MIB),
    )
    listing = list_archive(tmp_path, MIB)
    assert len(listing.segments) >= 5
    assert len(listing.partials) == 1

    report = verify_archive(listing, load_state(tmp_path))
    assert report.problems == ()
    assert report.system_identifier == server.system_identifier
    assert report.recoverable is not None
    assert report.recoverable.start_lsn == listing.segments[0].segment.start_lsn(MIB)
    assert report.recoverable.end_lsn == listing.segments[-1].segment.end_lsn(MIB)
    assert report.recoverable.partial == listing.partials[0].name
    if compress != "lz4":  # how far the partial was written is found
        assert report.recoverable.partial_end_lsn is not None
        assert report.recoverable.partial_end_lsn > report.recoverable.end_lsn
    if compress == "lz4":  # read with the lz4 package: header and identifier checked
        assert not report.notes
    result = CliRunner().invoke(verify, [str(tmp_path)])
    assert result.exit_code == 0, result.output

    removed = listing.segments[len(listing.segments) // 2]
    removed.path.unlink()
    result = CliRunner().invoke(verify, [str(tmp_path)])
    assert result.exit_code == 1
    assert f"missing {removed.segment.name(MIB)} (1 segment)" in result.output


def test_a_segment_from_another_server_is_foreign(server: Server, tmp_path: Path) -> None:
    stream_archive(server, tmp_path, "verify_foreign", "none")
    listing = list_archive(tmp_path, MIB)
    victim = listing.segments[1].path
    data = bytearray(victim.read_bytes())
    data[24:32] = (int(server.system_identifier) + 1).to_bytes(8, "little")
    victim.write_bytes(bytes(data))
    result = CliRunner().invoke(verify, [str(tmp_path), "--json"])
    assert result.exit_code == 1
    assert '"kind": "foreign-system"' in result.output
    assert victim.name in result.output
