"""Timeline changes: a promoted standby behind the same address, with and without a fork."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cnpg_wal_replica.archive.history import parse_history
from cnpg_wal_replica.archive.listing import list_archive
from cnpg_wal_replica.archive.names import parse_lsn, parse_segment_name
from cnpg_wal_replica.archive.state import DIVERGED_DIR, load_state
from cnpg_wal_replica.tools.verify import verify_archive

from .conftest import streaming, wait_caught_up, wait_until, write_segments
from .proxy import Proxy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def proxy(primary) -> Iterator[Proxy]:
    forwarder = Proxy(primary.port)
    yield forwarder
    forwarder.close()


def replayed(standby) -> int:
    return parse_lsn(standby.sql("SELECT pg_last_wal_replay_lsn()::text")[0][0])


def report(directory):
    state = load_state(directory)
    return verify_archive(list_archive(directory, state.segment_size), state)


def test_failover_follows_new_timeline(primary, proxy, make_receiver):
    standby = primary.create_standby()
    receiver = make_receiver(primary, port=str(proxy.port))
    wait_until(lambda: streaming(primary), 20, "streaming")
    write_segments(primary, 2)
    target = wait_caught_up(primary)
    wait_until(lambda: replayed(standby) >= target, 10, "standby caught up")
    primary.stop("fast")
    standby.promote()
    proxy.switch(standby.port)
    wait_until(lambda: streaming(standby), 15, "streaming from the promoted standby")
    write_segments(standby, 2)
    wait_caught_up(standby)
    assert receiver.stop() == 0
    assert (receiver.directory / "00000002.history").exists()
    assert load_state(receiver.directory).timeline == 2
    result = report(receiver.directory)
    assert result.whole, result.problems
    assert {t.timeline for t in result.timelines} >= {1, 2}
    assert not (receiver.directory / DIVERGED_DIR).exists()


@pytest.mark.parametrize("fork_at", ["mid-segment", "segment boundary"])
def test_fork_sets_diverged_wal_aside_and_streams_new_timeline(
    primary, proxy, make_receiver, fork_at
):
    standby = primary.create_standby()
    receiver = make_receiver(primary, port=str(proxy.port))
    wait_until(lambda: streaming(primary), 20, "streaming")
    write_segments(primary, 2)
    if fork_at == "mid-segment":
        primary.sql("INSERT INTO load (payload) VALUES ('after the switch')")
    target = wait_caught_up(primary)
    wait_until(lambda: replayed(standby) >= target, 10, "standby caught up")
    standby.stop("fast")  # the standby falls behind from here
    write_segments(primary, 3)  # only the receiver gets these
    ahead = wait_caught_up(primary)
    primary.stop("immediate")
    standby.start()
    standby.promote()
    switch = parse_history((standby.data_dir / "pg_wal" / "00000002.history").read_text())[
        0
    ].switch_lsn
    assert switch < ahead
    if fork_at == "segment boundary":
        assert switch % 2**20 == 0
    else:
        assert switch % 2**20 != 0
    proxy.switch(standby.port)
    wait_until(lambda: streaming(standby), 15, "streaming the new timeline")
    write_segments(standby, 2)
    wait_caught_up(standby)
    assert receiver.stop() == 0
    log = receiver.log()
    assert '"timeline_fork"' in log
    diverged = sorted(p.name for p in (receiver.directory / DIVERGED_DIR).iterdir())
    assert diverged, "the diverged timeline-1 segments were set aside"
    size = 2**20
    for name in diverged:
        segment = parse_segment_name(name.split(".")[0], size)
        assert segment is not None
        assert segment.timeline == 1
        assert segment.end_lsn(size) > switch
    result = report(receiver.directory)
    assert result.whole, result.problems
    assert result.recoverable is not None
    assert result.recoverable.timeline == 2
