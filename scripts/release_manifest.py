"""Write the release manifest: deploy/ rendered by kustomize with the release's image.

uv run python scripts/release_manifest.py [--image REF] [--output manifest.yaml]

The image is set the way docs/installation.md tells users to (an `images:` entry in
deploy/'s own kustomization, on a copy), so deploy/'s replacements copy it into
PLUGIN_IMAGE and the admission policy as they do for `kubectl apply -k`. The default image
is the project version's (metadata.RELEASE_IMAGE). kubectl is the harness's (or PATH's):
`support.kustomize.kubectl`.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.kustomize import kubectl  # noqa: E402

from cnpg_wal_replica import metadata  # noqa: E402

DEPLOY = ROOT / "deploy"
REFERENCE = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9._/:-]*?)"
    r"(?::(?P<tag>\w[\w.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def image_entry(image: str) -> dict[str, str]:
    """A kustomize `images:` entry replacing the shipped image by `image`."""
    match = REFERENCE.match(image)
    if match is None or not (match["tag"] or match["digest"]):
        raise ValueError(
            f"{image!r} is not an image reference with a tag or digest "
            "(example: registry.example/cnpg-wal-replica:0.1.0)"
        )
    entry = {"name": metadata.IMAGE_REPOSITORY, "newName": match["name"]}
    if match["tag"]:
        entry["newTag"] = match["tag"]
    if match["digest"]:
        entry["digest"] = match["digest"]
    return entry


def render(image: str) -> str:
    """The manifest's text: a header, then `kubectl kustomize` of deploy/ with `image`."""
    with tempfile.TemporaryDirectory(prefix="release-manifest-") as directory:
        copy = Path(directory) / "deploy"
        shutil.copytree(DEPLOY, copy)
        kustomization = yaml.safe_load((copy / "kustomization.yaml").read_text())
        kustomization["images"] = [image_entry(image)]
        (copy / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
        done = subprocess.run(
            [kubectl(), "kustomize", str(copy)],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"kubectl kustomize failed: {done.stderr.strip()}")
    header = (
        f"# cnpg-wal-replica {metadata.VERSION}, image {image}: deploy/ as one file.\n"
        "# Needs cert-manager: kubectl apply -f manifest.yaml (docs/installation.md)\n"
    )
    return header + done.stdout


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=metadata.RELEASE_IMAGE)
    parser.add_argument("--output", type=Path, default=ROOT / "manifest.yaml")
    options = parser.parse_args(argv)
    try:
        text = render(options.image)
    except ValueError as bad:
        parser.error(str(bad))
    options.output.write_text(text)
    print(f"wrote {options.output} (image {options.image})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
