"""The plugin's memos stay bounded: `lru.Recent`, and Pre and Events built on it."""

from __future__ import annotations

import json

import pytest
from support.clusters import cluster_document

from cnpg_wal_replica.lru import Recent
from cnpg_wal_replica.reconcile import pre


def test_recent_forgets_the_least_recently_used() -> None:
    recent: Recent[str, int] = Recent(2)
    recent.put("a", 1)
    recent.put("b", 2)
    assert recent.get("a") == 1  # "a" is now the most recent
    recent.put("c", 3)
    assert "b" not in recent
    assert (recent.get("a"), recent.get("c"), len(recent)) == (1, 3, 2)
    with pytest.raises(ValueError, match="at least 1"):
        Recent(0)


def test_pre_remembers_at_most_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pre, "SEEN_SIZE", 4)
    monkeypatch.setattr(pre, "LOGGED_SIZE", 4)
    check = pre.PreCheck("r:1")
    for n in range(20):  # distinct invalid Clusters: each is parsed and logged once
        document = cluster_document(f"pg{n}", parameters={"walPVCSize": "-1Gi"})
        check(json.dumps(document).encode())
    assert len(check._seen) == 4
    assert len(check._logged) == 4
