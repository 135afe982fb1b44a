# How `scripts/kube-harness build` builds this module (sourced by scripts/harness-build.sh with
# VERSION set to the version of UPSTREAM in go.mod). This file is part of the cache key: any
# edit here rebuilds.
UPSTREAM=github.com/rancher/local-path-provisioner
PACKAGES=(github.com/rancher/local-path-provisioner)
BINARIES=(local-path-provisioner)
CGO_ENABLED=0 # static: it runs in a minimal image
TAGS=()
LDFLAGS=(-s -w -X "main.VERSION=${VERSION}")
CHECK=(local-path-provisioner --version)
