"""Render `deploy/` the way `kustomize build` does, for the features our kustomization uses.

CI may have no kustomize binary, so the manifest tests render with this instead. It supports
`resources` (files only), `namespace`, `labels` (without selectors), `images` and
`replacements` with `[key=value]` path segments and the `delimiter`/`index` options, and
refuses anything else, so a new
kustomize feature in deploy/ cannot be silently ignored. test_manifests.py checks it against
`kubectl kustomize` wherever that exists.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

Doc = dict[str, Any]

SUPPORTED_KEYS = {
    "apiVersion", "kind", "namespace", "resources", "labels", "images", "replacements",
}  # fmt: skip
CLUSTER_SCOPED_KINDS = {
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "MutatingWebhookConfiguration",
    "Namespace",
    "PersistentVolume",
    "PriorityClass",
    "StorageClass",
    "ValidatingWebhookConfiguration",
}
NAMESPACED_BY_KUSTOMIZE = {
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ClusterIssuer",
}
"""Cluster-scoped kinds that kustomize 5.5's built-in schema does not know (older than it, or
custom resources):
it gives them `namespace:` like any namespaced kind. The API server clears it for a
cluster-scoped kind (apiserver handlers: EnsureObjectNamespaceMatchesRequestNamespace); a
newer kustomize may leave it out. This renderer sets it, as kubectl 1.32 does."""


class UnsupportedKustomizationError(ValueError):
    """deploy/kustomization.yaml uses something this renderer does not implement."""


def render(directory: Path) -> list[Doc]:
    """Every object of the kustomization in `directory`, transformed as kustomize would."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED_KEYS
    if unknown:
        raise UnsupportedKustomizationError(f"unsupported kustomization keys: {sorted(unknown)}")
    docs: list[Doc] = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        if path.is_dir():
            raise UnsupportedKustomizationError(f"nested kustomization {resource} is not supported")
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    for entry in kustomization.get("labels", []):
        if entry.get("includeSelectors") or entry.get("includeTemplates"):
            raise UnsupportedKustomizationError("labels with selectors or templates")
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(entry["pairs"])
    namespace = kustomization.get("namespace")
    if namespace:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED_KINDS:
                doc["metadata"]["namespace"] = namespace
    for image in kustomization.get("images", []):
        _set_image(docs, image)
    for replacement in kustomization.get("replacements", []):
        _replace(docs, replacement)
    return docs


def _set_image(docs: list[Doc], image: dict[str, str]) -> None:
    for doc in docs:
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in pod.get("containers", []) + pod.get("initContainers", []):
            name, tag, digest = _split_image(container["image"])
            if name != image["name"]:
                continue
            name = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{name}@{image['digest']}"
            elif "newTag" in image:
                container["image"] = f"{name}:{image['newTag']}"
            else:
                suffix = f"@{digest}" if digest else (f":{tag}" if tag else "")
                container["image"] = name + suffix


def _split_image(ref: str) -> tuple[str, str | None, str | None]:
    name, _, digest = ref.partition("@")
    match = re.fullmatch(r"(.+?)(?::([\w.-]+))?", name)
    assert match
    return match[1], match[2], digest or None


def _select(docs: list[Doc], selector: dict[str, str]) -> list[Doc]:
    return [
        d
        for d in docs
        if d["kind"] == selector["kind"]
        and ("name" not in selector or d["metadata"]["name"] == selector["name"])
    ]


def _segments(field_path: str) -> list[str]:
    return re.findall(r"\[[^\]]*\]|[^.\[\]]+", field_path)


def _walk(node: Any, segments: list[str], create: bool) -> tuple[Any, str | int]:
    """The container holding the last segment, and that segment as a key or index."""
    for position, segment in enumerate(segments):
        last = position == len(segments) - 1
        if segment.startswith("[") and "=" not in segment:  # a map key with dots: [a.b/c]
            segment = segment[1:-1]
        if segment.startswith("["):
            key, _, value = segment[1:-1].partition("=")
            index = next(i for i, item in enumerate(node) if item.get(key) == value)
            if last:
                return node, index
            node = node[index]
        else:
            if last:
                return node, segment
            node = node.setdefault(segment, {}) if create else node[segment]
    raise UnsupportedKustomizationError("empty fieldPath")


def _get(doc: Doc, field_path: str) -> Any:
    holder, key = _walk(doc, _segments(field_path), create=False)
    return holder[key]


def _replace(docs: list[Doc], replacement: dict[str, Any]) -> None:
    source = replacement["source"]
    (origin,) = _select(docs, source)
    value = copy.deepcopy(_get(origin, source.get("fieldPath", "metadata.name")))
    for target in replacement["targets"]:
        if set(target) - {"select", "fieldPaths", "options"}:
            raise UnsupportedKustomizationError(f"replacement target keys: {sorted(target)}")
        options = target.get("options", {})
        if set(options) - {"delimiter", "index"}:
            raise UnsupportedKustomizationError(f"replacement options: {sorted(options)}")
        for doc in _select(docs, target["select"]):
            for field_path in target["fieldPaths"]:
                holder, key = _walk(doc, _segments(field_path), create=True)
                holder[key] = _part_replaced(holder[key], value, options) if options else value


def _part_replaced(current: str, value: str, options: dict[str, Any]) -> str:
    """kustomize's `delimiter`/`index`: replace one part of the target split at the delimiter."""
    parts = current.split(options["delimiter"])
    index = options.get("index", 0)
    if not 0 <= index < len(parts):
        raise UnsupportedKustomizationError(f"index {index} outside {current!r}")
    parts[index] = value
    return str(options["delimiter"]).join(parts)
