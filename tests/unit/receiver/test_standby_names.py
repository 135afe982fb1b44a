"""Reading synchronous_standby_names the way PostgreSQL does."""

from __future__ import annotations

import pytest

from cnpg_wal_replica.receiver.standby_names import lists, names


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("", []),
        ("pg-2", ["pg-2"]),
        ("pg-2, pg-3", ["pg-2", "pg-3"]),
        ('ANY 1 ("pg-2","pg-3")', ["pg-2", "pg-3"]),
        ('FIRST 2 ("pg-wal-receiver", pg-2)', ["pg-wal-receiver", "pg-2"]),
        ("2 (a, b, c)", ["a", "b", "c"]),
        ('any 1 ("with ""quote""", "comma, inside")', ['with "quote"', "comma, inside"]),
        ("*", ["*"]),
    ],
)
def test_names_in_every_form(setting: str, expected: list[str]) -> None:
    assert names(setting) == expected


def test_what_cnpg_writes_for_standby_names_pre_lists_the_receiver() -> None:
    setting = 'FIRST 1 ("pg-wal-receiver","pg-2","pg-3")'
    assert lists(setting, "pg-wal-receiver")
    assert lists(setting, "PG-WAL-RECEIVER")  # compared case-insensitively, as PostgreSQL does
    assert not lists(setting, "pg-wal")


def test_cnpg_instances_only_do_not_list_the_receiver() -> None:
    assert not lists('ANY 1 ("pg-2","pg-3")', "pg-wal-receiver")
    assert not lists("", "pg-wal-receiver")


def test_a_star_lists_every_standby() -> None:
    assert lists("ANY 1 (*)", "pg-wal-receiver")
