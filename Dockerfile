# syntax=docker/dockerfile:1
#
# One image for both roles of cnpg-wal-replica:
#   cnpg-wal-replica serve    the CNPG-I plugin server (Deployment in the operator namespace)
#   cnpg-wal-replica receive  the per-Cluster WAL receiver (supervises pg_receivewal)
#
# pg_receivewal comes from the PGDG apt repository (PG_CLIENT_SOURCE=pgdg, the default),
# major version PG_CLIENT_MAJOR. A
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
# Any Debian-based image with python3 and python3-venv works (PYTHON_IMAGE; set BASE_NAME
# to match): python is looked up on PATH (/usr/local/bin in the official images, /usr/bin
# in Debian's), and uv runs from a venv of its own, as Debian refuses system pip installs.
#
# Build options (all off by default):
#   --build-arg PG_CLIENT_SOURCE=debian --build-arg PG_CLIENT_MAJOR=15
#       pg_receivewal from the base's own Debian repository instead of PGDG (bookworm has
#       15 only, which streams from servers up to 15).
#   --secret id=build-ca,src=/etc/ssl/certs/ca-certificates.crt
#       a CA bundle for the steps that fetch over HTTPS (pip and uv from PyPI, apt from
#       PGDG), for builds behind a TLS-intercepting proxy. It is mounted only while those
#       RUN steps execute and is never written into the image.

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# ---------------------------------------------------------------------------------------
# Stage 1: build the virtual environment from the committed lock (no dev dependencies).
FROM ${PYTHON_IMAGE} AS builder

ARG UV_VERSION=0.13.9
RUN --mount=type=secret,id=build-ca \
    if [ -s /run/secrets/build-ca ]; then export PIP_CERT=/run/secrets/build-ca; fi \
    && python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"

# UV_PYTHON=python3: the base's interpreter on PATH (not the venv of uv itself).
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    UV_PYTHON=python3 \
    UV_PROJECT_ENVIRONMENT=/opt/venv

WORKDIR /build
# Dependencies first (cached layer), then the project itself, installed as a wheel
# (--no-editable) so the venv does not point back into /build. Both steps download from
# PyPI (the second fetches the build backend).
COPY pyproject.toml uv.lock README.md LICENSE ./
RUN --mount=type=secret,id=build-ca \
    if [ -s /run/secrets/build-ca ]; then export SSL_CERT_FILE=/run/secrets/build-ca; fi \
    && /opt/uv/bin/uv sync --frozen --no-dev --no-install-project
COPY src ./src
RUN --mount=type=secret,id=build-ca \
    if [ -s /run/secrets/build-ca ]; then export SSL_CERT_FILE=/run/secrets/build-ca; fi \
    && /opt/uv/bin/uv sync --frozen --no-dev --no-editable \
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
# Stage 3: runtime. Python from the base image, pg_receivewal (PGDG or Debian), the venv.
FROM ${PYTHON_IMAGE} AS runtime

ARG PG_CLIENT_SOURCE=pgdg
ARG PG_CLIENT_MAJOR=18
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG BASE_NAME=docker.io/library/python:3.11.13-slim-bookworm

LABEL org.opencontainers.image.title="cnpg-wal-replica" \
      org.opencontainers.image.description="CloudNativePG (CNPG-I) plugin that keeps an independent, continuously streamed copy of a cluster's WAL" \
      org.opencontainers.image.source="https://github.com/documentdb/cnpg-wal-replica" \
      org.opencontainers.image.url="https://github.com/documentdb/cnpg-wal-replica" \
      org.opencontainers.image.documentation="https://github.com/documentdb/cnpg-wal-replica/tree/main/docs" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.vendor="DocumentDB" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${BASE_NAME}"

COPY --from=pgdg-key /pgdg.asc /usr/share/keyrings/pgdg.asc
RUN --mount=type=secret,id=build-ca \
    ca=/etc/ssl/certs/ca-certificates.crt \
    && if [ -s /run/secrets/build-ca ]; then ca=/run/secrets/build-ca; fi \
    && case "${PG_CLIENT_SOURCE}" in pgdg|debian) ;; \
        *) echo "PG_CLIENT_SOURCE must be pgdg or debian" >&2; exit 1 ;; esac \
    && apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && if [ "${PG_CLIENT_SOURCE}" = pgdg ]; then printf '%s\n' \
        'Types: deb' \
        'URIs: https://apt.postgresql.org/pub/repos/apt' \
        'Suites: bookworm-pgdg' \
        'Components: main' \
        'Signed-By: /usr/share/keyrings/pgdg.asc' \
        > /etc/apt/sources.list.d/pgdg.sources; fi \
    && apt-get -o "Acquire::https::CAInfo=$ca" update \
    && apt-get -o "Acquire::https::CAInfo=$ca" install -y --no-install-recommends \
        "postgresql-client-${PG_CLIENT_MAJOR}" \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
    && "/usr/lib/postgresql/${PG_CLIENT_MAJOR}/bin/pg_receivewal" --version

COPY --from=builder /opt/venv /opt/venv

# The versioned directory comes before /usr/bin, so `pg_receivewal` on PATH is the client
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
