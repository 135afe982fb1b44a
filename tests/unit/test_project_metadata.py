"""The project's license and display name: the replaced Go plugin's, the same everywhere.

The plugin this project replaces (same plugin name, cnpg-i-wal-replica.documentdb.io)
declares license MIT and display name "WAL Replica Pod Manager" in its Identity metadata.
metadata.py is the home of both; pyproject.toml, the image label, the chart and LICENSE
must agree with it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

from cnpg_wal_replica import metadata
from cnpg_wal_replica.transport.identity import plugin_metadata

ROOT = Path(__file__).resolve().parents[2]


def test_license_and_display_name_are_the_replaced_plugins() -> None:
    assert metadata.LICENSE == "MIT"
    assert metadata.DISPLAY_NAME == "WAL Replica Pod Manager"
    assert metadata.LICENSE_URL.removeprefix(metadata.REPOSITORY_URL) == "/blob/main/LICENSE"


def test_identity_answers_with_them() -> None:
    answer = plugin_metadata()
    assert (answer.license, answer.license_url, answer.display_name) == (
        metadata.LICENSE, metadata.LICENSE_URL, metadata.DISPLAY_NAME,
    )  # fmt: skip


def test_packaging_image_and_chart_agree() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == metadata.LICENSE
    assert project["license-files"] == ["LICENSE"]
    assert (
        f'org.opencontainers.image.licenses="{metadata.LICENSE}"'
        in (ROOT / "Dockerfile").read_text()
    )
    chart = yaml.safe_load((ROOT / "charts" / "cnpg-wal-replica" / "Chart.yaml").read_text())
    assert chart["annotations"]["artifacthub.io/license"] == metadata.LICENSE
    assert chart["annotations"]["artifacthub.io/displayName"] == metadata.DISPLAY_NAME


def test_license_file_is_the_mit_text_and_reaches_the_image() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n\nCopyright (c) ")
    assert "Permission is hereby granted, free of charge" in text
    assert text.rstrip().endswith("OTHER DEALINGS IN THE\nSOFTWARE.")
    (copy,) = [line for line in (ROOT / "Dockerfile").read_text().splitlines()
               if line.startswith("COPY pyproject.toml")]  # fmt: skip
    assert "LICENSE" in copy.split(), "hatchling needs license-files to build the wheel"
    assert "!LICENSE" in (ROOT / ".dockerignore").read_text().splitlines()
