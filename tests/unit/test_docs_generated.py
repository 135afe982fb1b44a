"""Generated docs are current; every user-facing error has a troubleshooting entry."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from support.clusters import cluster_document, reader_document

from cnpg_wal_replica import checks, config, source
from cnpg_wal_replica.cluster import ClusterView
from cnpg_wal_replica.specs import pvc_policy

ROOT = Path(__file__).resolve().parents[2]
TROUBLESHOOTING = (ROOT / "docs" / "troubleshooting.md").read_text()

INVALID = {
    "image": ["Not An Image!"],
    "replicationHost": ["bad_host!", "elsewhere.example.com"],
    "synchronous": ["yes"],
    "verbose": ["maybe"],
    "walDirectory": ["rel/wal", "/", "/a/../b", "/etc/x", "/a b"],
    "walPVCSize": ["0", "ten"],
    "walStorageClass": ["Bad_Class"],
    "slotName": ["_cnpg_x", "Bad-Slot"],
    "applicationName": ['a"b', "x" * 64],
    "compression": ["zstd", "gzip:10", "lz4:13", "12"],
    "cpuRequest": ["-1"],
    "retentionMaxAge": ["a week"],
    "readers": ["prod", "Prod/x"],
    "nope": ["1"],
}
SOURCE_INVALID = [{}, {"cluster": "PG"}, {"cluster": "pg", "namespace": "Bad_"}, {"x": "1"}]
"""Parameters of a reading Cluster's externalClusters entry, each with a problem."""


def static_part(message: str, value: str) -> str:
    """The fixed text of a message: without the quoted value, example, or embedded values."""
    text = message.removeprefix(repr(value)).strip()
    return re.split(r"'|\"|\(example|\{|\[|\b[0-9]+[KMGT]i\b| /|parameters: ", text, maxsplit=1)[
        0
    ].strip(" ,;:")


def messages() -> list[tuple[str, str]]:
    found = []
    for parameter, values in INVALID.items():
        for value in values:
            view = ClusterView.from_dict(cluster_document(parameters={parameter: value}))
            for issue in config.collect(view, "r:1")[1]:
                found.append((issue.message, issue.value))
    doc = cluster_document(parameters={"walPVCSize": "5Gi", "walStorageClass": "b"})
    view = ClusterView.from_dict(doc)
    cfg = config.parse(view, "r:1")
    live = {"spec": {"resources": {"requests": {"storage": "9Gi"}}, "storageClassName": "a"}}
    found += [(i.message, i.value) for i in pvc_policy.volume_conflicts(view, cfg, live)]
    old = ClusterView.from_dict(
        cluster_document(
            parameters={
                "walPVCSize": "9Gi",
                "walDirectory": "/a",
                "slotName": "a",
                "walStorageClass": "a",
            }
        )
    )
    new = ClusterView.from_dict(
        cluster_document(
            parameters={
                "walPVCSize": "5Gi",
                "walDirectory": "/b",
                "slotName": "b",
                "walStorageClass": "b",
            }
        )
    )
    found += [(i.message, i.value) for i in config.check_change(old, new, "r:1")]
    sync = ClusterView.from_dict(cluster_document(parameters={"synchronous": "active"}))
    advice = checks.synchronous_advice(sync, config.parse(sync, "r:1"))
    assert advice is not None
    found.append((advice, ""))
    for parameters in SOURCE_INVALID:
        reader = ClusterView.from_dict(reader_document(source=parameters))
        found += [(i.message, i.value) for i in source.collect(reader, source.Use.REPLICA)[1]]
    return found


def test_every_configuration_message_has_a_troubleshooting_entry() -> None:
    missing = []
    for message, value in messages():
        fragment = static_part(message, value)
        assert len(fragment) >= 10, f"fragment too short to search for: {message!r}"
        if fragment not in TROUBLESHOOTING:
            missing.append(fragment)
    assert not missing, f"docs/troubleshooting.md lacks: {missing}"


def test_generated_docs_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen-docs"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
