"""The receiver's state file: written atomically, read back as it was, refused when broken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnpg_wal_replica.archive.state import (
    STATE_FILE,
    ArchiveState,
    Gap,
    StateFileError,
    load_state,
    save_state,
)


def test_no_state_file_is_an_empty_state(tmp_path: Path) -> None:
    assert load_state(tmp_path) == ArchiveState()


def test_saved_state_reads_back_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    gap = Gap(0x3000000, 0x5000000, 1, "WAL removed on the server", "2025-01-01T00:00:00+00:00")
    state = ArchiveState("7301234567890123456", 2, 16 * 2**20).with_gap(gap)
    save_state(tmp_path, state)
    assert load_state(tmp_path) == state
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILE]
    assert json.loads((tmp_path / STATE_FILE).read_text())["version"] == 1


@pytest.mark.parametrize("content", ["not json", '{"gaps": [{"start_lsn": 1}]}', "[]"])
def test_a_broken_state_file_names_itself(tmp_path: Path, content: str) -> None:
    (tmp_path / STATE_FILE).write_text(content)
    with pytest.raises(StateFileError, match="is not a valid state file"):
        load_state(tmp_path)
