# syntax=docker/dockerfile:1
#
# One image for both roles of cnpg-wal-replica:
#   cnpg-wal-replica serve    the CNPG-I plugin server (Deployment in the operator namespace)
#   cnpg-wal-replica receive  the per-Cluster WAL receiver (supervises pg_receivewal)
#
# pg_receivewal comes from the PGDG apt repository, major version PG_CLIENT_MAJOR. A
# pg_receivewal of major N streams from servers 9.3 up to N (receivelog.c,
# CheckServerVersionForStreaming: "client does not support streaming from server versions
# older than 9.3 / newer than N"), so the newest client covers every major CloudNativePG
# runs (13-18). Raise PG_CLIENT_MAJOR when a new PostgreSQL major is released;
# tests/unit/test_dockerfile.py fails if it falls behind.
#
# The image runs as any UID (the receiver runs as the Cluster's postgresUID, 26 by default):
# nothing is written outside mounted volumes and /tmp, and HOME=/tmp.
#
# Base image: pinned by exact version tag. Release builds should append the digest
# (docker buildx imagetools inspect python:3.11.13-slim-bookworm) to make it immutable.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# ---------------------------------------------------------------------------------------
# Stage 1: build the virtual environment from the committed lock (no dev dependencies).
FROM ${PYTHON_IMAGE} AS builder

ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/opt/venv

WORKDIR /build
# Dependencies first (cached layer), then the project itself, installed as a wheel
# (--no-editable) so the venv does not point back into /build.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY src ./src
RUN uv sync --frozen --no-dev --no-editable \
    && /opt/venv/bin/cnpg-wal-replica --help >/dev/null

# ---------------------------------------------------------------------------------------
# Stage 2: the PGDG signing key, taken from Debian's own postgresql-common package (signed
# by Debian) and checked against the published fingerprint. No curl, no piped scripts.
FROM ${PYTHON_IMAGE} AS pgdg-key

ARG PGDG_KEY_FINGERPRINT=B97B0AFCAA1A47F044F244A07FCC7D46ACCC4CF8
RUN apt-get update \
    && apt-get install -y --no-install-recommends gnupg \
    && cd /tmp \
    && apt-get download postgresql-common \
    && dpkg-deb -x postgresql-common_*.deb /tmp/pc \
    && cp /tmp/pc/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc /pgdg.asc \
    && gpg --show-keys --with-colons /pgdg.asc | grep -q "^fpr:::::::::${PGDG_KEY_FINGERPRINT}:$" \
    && rm -rf /var/lib/apt/lists/*

# ---------------------------------------------------------------------------------------
# Stage 3: runtime. Python from the base image, pg_receivewal from PGDG, the venv.
FROM ${PYTHON_IMAGE} AS runtime

ARG PG_CLIENT_MAJOR=18
ARG VERSION=0.1.0
ARG REVISION=unknown

LABEL org.opencontainers.image.title="cnpg-wal-replica" \
      org.opencontainers.image.description="CloudNativePG (CNPG-I) plugin that keeps an independent, continuously streamed copy of a cluster's WAL" \
      org.opencontainers.image.source="https://github.com/documentdb/cnpg-wal-replica" \
      org.opencontainers.image.url="https://github.com/documentdb/cnpg-wal-replica" \
      org.opencontainers.image.documentation="https://github.com/documentdb/cnpg-wal-replica/tree/main/docs" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="DocumentDB" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.13-slim-bookworm"

COPY --from=pgdg-key /pgdg.asc /usr/share/keyrings/pgdg.asc
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && printf '%s\n' \
        'Types: deb' \
        'URIs: https://apt.postgresql.org/pub/repos/apt' \
        'Suites: bookworm-pgdg' \
        'Components: main' \
        'Signed-By: /usr/share/keyrings/pgdg.asc' \
        > /etc/apt/sources.list.d/pgdg.sources \
    && apt-get update \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_CLIENT_MAJOR}" \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
    && "/usr/lib/postgresql/${PG_CLIENT_MAJOR}/bin/pg_receivewal" --version

COPY --from=builder /opt/venv /opt/venv

# The versioned directory comes before /usr/bin, so `pg_receivewal` on PATH is the PGDG
# binary itself rather than Debian's pg_wrapper (a Perl script choosing a version).
ENV PATH="/opt/venv/bin:/usr/lib/postgresql/${PG_CLIENT_MAJOR}/bin:${PATH}" \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# Numeric, non-root. Kubernetes can check runAsNonRoot only against a numeric USER.
USER 65532:65532
WORKDIR /tmp

EXPOSE 9090 8080
ENTRYPOINT ["cnpg-wal-replica"]
CMD ["--help"]
