# How `scripts/kube-harness build` builds this module (sourced by scripts/harness-build.sh).
# This file is part of the cache key: any edit here rebuilds. No UPSTREAM: the cache directory
# is named by the hash alone.
UPSTREAM=
PACKAGES=(.)
BINARIES=(cnpgi-wal-restore)
CGO_ENABLED=0
TAGS=()
LDFLAGS=(-s -w)
CHECK=(cnpgi-wal-restore --help)
