"""The Dockerfile's claims that can be checked without a container engine.

No engine runs in CI, so the image is never built here. These tests read the Dockerfile
(and .dockerignore) as text and check what it promises: pinned inputs, the entry point,
a pg_receivewal new enough for every PostgreSQL major CloudNativePG runs, a numeric
non-root user, and a build that installs exactly the committed lock.
"""

from __future__ import annotations

import fnmatch
import importlib
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

CNPG_POSTGRES_MAJORS = (13, 14, 15, 16, 17, 18)
"""PostgreSQL majors CloudNativePG operand images exist for. Add the new major here when
CNPG publishes it; the image's pg_receivewal must then be raised too."""

PGDG_KEY_FILE = Path("/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def parse(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions, joining `\\` continuations, dropping comments."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, "Dockerfile ends inside a line continuation"
    return instructions


def arg_defaults(instructions: list[Instruction]) -> dict[str, str]:
    """Every `ARG NAME=default` in the file (names are unique in ours)."""
    defaults: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "ARG" and "=" in ins.args:
            name, _, value = ins.args.partition("=")
            defaults[name] = value
    return defaults


def expand(value: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables[m.group(1) or m.group(2)], value)


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """Instructions grouped per build stage (each starts with FROM)."""
    grouped: list[list[Instruction]] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            grouped.append([])
        if grouped:
            grouped[-1].append(ins)
    return grouped


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def runtime(instructions: list[Instruction]) -> list[Instruction]:
    return stages(instructions)[-1]


def test_parser_joins_continuations_and_drops_comments() -> None:
    parsed = parse("FROM a AS b\n# note\nRUN one \\\n    # inner comment\n    two\nUSER 1:1\n")
    assert parsed == [
        Instruction("FROM", "a AS b"),
        Instruction("RUN", "one  two"),
        Instruction("USER", "1:1"),
    ]


def test_every_base_image_is_pinned_to_an_exact_version_or_digest(
    instructions: list[Instruction],
) -> None:
    variables = arg_defaults(instructions)
    aliases: set[str] = set()
    for ins in (i for i in instructions if i.keyword == "FROM"):
        image, _, alias = expand(ins.args, variables).partition(" AS ")
        image = image.strip()
        if image in aliases:
            continue
        pinned_digest = re.search(r"@sha256:[0-9a-f]{64}$", image)
        pinned_tag = re.search(r":\d+\.\d+\.\d+(-[a-z0-9.-]+)?$", image)
        assert pinned_digest or pinned_tag, f"base image {image!r} is not pinned"
        aliases.add(alias.strip())


def test_base_python_satisfies_requires_python_and_matches_the_label(
    instructions: list[Instruction], pyproject: dict[str, object]
) -> None:
    defaults = arg_defaults(instructions)
    image = defaults["PYTHON_IMAGE"]
    match = re.fullmatch(r"python:(\d+)\.(\d+)\.\d+-slim-(\w+)", image)
    assert match, image
    project = pyproject["project"]
    assert isinstance(project, dict)
    floor = re.fullmatch(r">=(\d+)\.(\d+)", project["requires-python"])
    assert floor
    assert (int(match[1]), int(match[2])) >= (int(floor[1]), int(floor[2]))
    labels = expand(" ".join(i.args for i in instructions if i.keyword == "LABEL"), defaults)
    assert f'org.opencontainers.image.base.name="docker.io/library/{image}"' in labels


def test_entrypoint_is_the_console_script_declared_in_pyproject(
    runtime: list[Instruction], pyproject: dict[str, object]
) -> None:
    entrypoints = [i for i in runtime if i.keyword == "ENTRYPOINT"]
    assert len(entrypoints) == 1
    assert entrypoints[0].args == '["cnpg-wal-replica"]', "use the exec form, no shell"
    project = pyproject["project"]
    assert isinstance(project, dict)
    target = project["scripts"]["cnpg-wal-replica"]
    module_name, _, function = target.partition(":")
    assert callable(getattr(importlib.import_module(module_name), function))


def test_pg_client_is_at_least_the_newest_postgres_major_cnpg_runs(
    instructions: list[Instruction], runtime: list[Instruction]
) -> None:
    major = int(arg_defaults(instructions)["PG_CLIENT_MAJOR"])
    assert major >= max(CNPG_POSTGRES_MAJORS), (
        f"pg_receivewal {major} cannot stream from PostgreSQL {max(CNPG_POSTGRES_MAJORS)}: "
        "raise PG_CLIENT_MAJOR in the Dockerfile"
    )
    # Older servers are fine down to 9.3 (receivelog.c CheckServerVersionForStreaming).
    assert min(CNPG_POSTGRES_MAJORS) >= 10
    runs = " ".join(i.args for i in runtime if i.keyword == "RUN")
    assert '"postgresql-client-${PG_CLIENT_MAJOR}"' in runs
    assert "Suites: bookworm-pgdg" in runs
    env = " ".join(i.args for i in runtime if i.keyword == "ENV")
    path = re.search(r'PATH="([^"]+)"', env)
    assert path, "the runtime stage must set PATH"
    entries = path[1].split(":")
    versioned = entries.index("/usr/lib/postgresql/${PG_CLIENT_MAJOR}/bin")
    assert entries[-1] == "${PATH}", "the versioned bin must come before /usr/bin"
    assert versioned < len(entries) - 1


def test_pgdg_suite_matches_the_base_image_debian_release(
    instructions: list[Instruction], runtime: list[Instruction]
) -> None:
    codename = arg_defaults(instructions)["PYTHON_IMAGE"].rsplit("-", 1)[1]
    runs = " ".join(i.args for i in runtime if i.keyword == "RUN")
    assert f"Suites: {codename}-pgdg" in runs


def test_final_user_is_numeric_and_not_root(runtime: list[Instruction]) -> None:
    users = [i.args for i in runtime if i.keyword == "USER"]
    assert users, "the runtime stage must set USER"
    match = re.fullmatch(r"(\d+):(\d+)", users[-1])
    assert match, f"USER {users[-1]!r} must be numeric uid:gid for runAsNonRoot"
    assert int(match[1]) != 0
    assert int(match[2]) != 0


def test_image_works_for_any_uid(runtime: list[Instruction]) -> None:
    env = " ".join(i.args for i in runtime if i.keyword == "ENV")
    assert "HOME=/tmp" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    workdirs = [i.args for i in runtime if i.keyword == "WORKDIR"]
    assert workdirs[-1] == "/tmp"


def test_no_downloaded_script_is_piped_into_a_shell(instructions: list[Instruction]) -> None:
    for ins in instructions:
        assert not re.search(r"\|\s*(ba|z|da)?sh\b", ins.args), ins.args
        assert "curl" not in ins.args
        assert "wget" not in ins.args
        assert not (ins.keyword == "ADD" and "://" in ins.args), "no remote ADD"


def test_uv_is_pinned_and_syncs_the_committed_lock_without_dev_dependencies(
    instructions: list[Instruction],
) -> None:
    builder = stages(instructions)[0]
    variables = arg_defaults(instructions)
    assert re.fullmatch(r"\d+\.\d+\.\d+", variables["UV_VERSION"])
    runs = [i.args for i in builder if i.keyword == "RUN"]
    assert any('"uv==${UV_VERSION}"' in r for r in runs)
    syncs = [r for r in runs if "uv sync" in r]
    assert syncs
    for sync in syncs:
        assert "--frozen" in sync
        assert "--no-dev" in sync
    assert "--no-editable" in syncs[-1], "the venv must not point back into the build context"
    copies = [i.args for i in builder if i.keyword == "COPY"]
    assert any("uv.lock" in c.split() for c in copies)
    assert (ROOT / "uv.lock").is_file()
    env = " ".join(i.args for i in builder if i.keyword == "ENV")
    assert "UV_PYTHON_DOWNLOADS=never" in env


def test_runtime_copies_the_venv_and_not_the_sources(runtime: list[Instruction]) -> None:
    copies = [i.args for i in runtime if i.keyword == "COPY"]
    assert "--from=builder /opt/venv /opt/venv" in copies
    assert not any(c.split()[0] in {"src", "."} for c in copies if not c.startswith("--from"))


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        body = body.rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        if any(fnmatch.fnmatchcase(p, body) for p in prefixes) or fnmatch.fnmatchcase(
            path, body.replace("**/", "*")
        ):
            ignored = not negate
    return ignored


def test_every_copied_path_exists_and_is_not_dockerignored(
    instructions: list[Instruction],
) -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for ins in (i for i in instructions if i.keyword == "COPY"):
        words = ins.args.split()
        if words[0].startswith("--from"):
            continue
        for source in (w for w in words[:-1] if not w.startswith("--")):
            assert (ROOT / source).exists(), f"COPY source {source} missing"
            assert not _ignored(source, patterns), f"COPY source {source} is in .dockerignore"
    assert _ignored(".git", patterns)
    assert _ignored(".venv", patterns)
    assert _ignored("src/cnpg_wal_replica/__pycache__/x.pyc", patterns)


def test_oci_labels_match_the_project(
    instructions: list[Instruction], pyproject: dict[str, object]
) -> None:
    labels = " ".join(i.args for i in instructions if i.keyword == "LABEL")
    project = pyproject["project"]
    assert isinstance(project, dict)
    assert arg_defaults(instructions)["VERSION"] == project["version"]
    assert f'org.opencontainers.image.licenses="{project["license"]}"' in labels
    assert f'org.opencontainers.image.source="{project["urls"]["Repository"]}"' in labels
    for key in ("title", "description", "version", "revision", "vendor"):
        assert f"org.opencontainers.image.{key}=" in labels


@pytest.mark.skipif(
    not PGDG_KEY_FILE.is_file() or shutil.which("gpg") is None,
    reason="needs Debian's postgresql-common key file and gpg",
)
def test_pgdg_fingerprint_is_the_key_debian_ships(
    instructions: list[Instruction], tmp_path: Path
) -> None:
    expected = arg_defaults(instructions)["PGDG_KEY_FINGERPRINT"]
    listing = subprocess.run(
        ["gpg", "--homedir", str(tmp_path), "--show-keys", "--with-colons", str(PGDG_KEY_FILE)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    fingerprints = re.findall(r"^fpr:::::::::([0-9A-F]{40}):$", listing, flags=re.M)
    assert expected in fingerprints


def test_build_options_default_to_the_release_build(
    instructions: list[Instruction], runtime: list[Instruction]
) -> None:
    defaults = arg_defaults(instructions)
    assert defaults["PG_CLIENT_SOURCE"] == "pgdg"
    runs = " ".join(i.args for i in runtime if i.keyword == "RUN")
    assert "pgdg|debian) ;;" in runs, "an unknown PG_CLIENT_SOURCE must fail the build"
    assert 'if [ "${PG_CLIENT_SOURCE}" = pgdg ]; then printf' in runs


BUILD_CA = "/run/secrets/build-ca"


def test_https_steps_take_the_ca_as_a_build_secret_only(instructions: list[Instruction]) -> None:
    """Behind a TLS-intercepting proxy (`--secret id=build-ca,src=...`); never in a layer."""
    fetching = [
        i.args
        for i in instructions
        if i.keyword == "RUN" and re.search(r"pip install|uv sync|postgresql-client", i.args)
    ]
    assert len(fetching) == 4
    for run in fetching:
        assert run.startswith("--mount=type=secret,id=build-ca "), run
        assert f"[ -s {BUILD_CA} ]" in run, "the secret is optional"
    for ins in instructions:
        if ins.keyword != "RUN":
            assert "build-ca" not in ins.args, f"{ins.keyword} {ins.args}"
        assert not re.search(rf"\b(cp|mv|cat|tee|ln)\b[^&;]*{BUILD_CA}", ins.args), ins.args
    env = " ".join(i.args for i in instructions if i.keyword == "ENV")
    for variable in ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "CAInfo"):
        assert variable not in env


def test_python_comes_from_path_for_any_debian_base(instructions: list[Instruction]) -> None:
    """Official images have python in /usr/local/bin, Debian's in /usr/bin and no system pip."""
    builder = stages(instructions)[0]
    env = " ".join(i.args for i in builder if i.keyword == "ENV")
    assert "UV_PYTHON=python3" in env.split()
    assert "/usr/local/bin" not in " ".join(i.args for i in instructions)
    runs = " ".join(i.args for i in builder if i.keyword == "RUN")
    assert "python3 -m venv /opt/uv" in runs
    assert re.search(r"(^|\s)pip install", runs) is None, "use the venv's pip"
    assert "/opt/uv/bin/pip install" in runs


def test_build_options_are_documented() -> None:
    text = (ROOT / "docs" / "installation.md").read_text()
    assert "--secret id=build-ca,src=" in text
    assert "PG_CLIENT_SOURCE=debian" in text


def test_no_path_of_the_runtime_image_can_be_the_wal_directory(
    runtime: list[Instruction], instructions: list[Instruction]
) -> None:
    """A WAL volume mounted on, in or above a path the image uses would hide it."""
    from cnpg_wal_replica.parameters import wal_directory

    known = arg_defaults(instructions)
    text = re.sub(
        r"\$\{(\w+)\}|\$(\w+)",
        lambda m: known.get(m.group(1) or m.group(2), ""),
        # COPY sources are paths of the build context or another stage: only the target.
        " ".join(i.args.split()[-1] if i.keyword == "COPY" else i.args for i in runtime),
    )
    paths = {
        p.rstrip("/.*;:\"'")
        for p in re.findall(r"(?<![\w.:/$])(/[A-Za-z0-9._/*-]+)", text)
        if not p.startswith("/run/secrets")
    }
    assert {"/opt/venv", "/opt/venv/bin", "/tmp", "/usr/share/keyrings/pgdg.asc"} <= paths
    accepted = []
    for path in sorted(paths):
        try:
            wal_directory(path)
        except ValueError:
            continue
        accepted.append(path)
    assert accepted == [], f"walDirectory accepts paths the image owns: {accepted}"
