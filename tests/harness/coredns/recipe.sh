# How `scripts/kube-harness build` builds this module (sourced by scripts/harness-build.sh with
# VERSION set to the version of UPSTREAM in go.mod). This file is part of the cache key: any
# edit here rebuilds.
UPSTREAM=github.com/coredns/coredns
PACKAGES=(.)
BINARIES=(coredns)
CGO_ENABLED=0 # static: it can run in a minimal image as well as on the host
TAGS=()
# As CoreDNS's Makefile stamps it (no git here: a placeholder); its version is a constant.
LDFLAGS=(-s -w -X "github.com/coredns/coredns/coremain.GitCommit=0000000")
CHECK=(coredns -version)
