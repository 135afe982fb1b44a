# How `scripts/kube-harness build` builds this module (sourced by scripts/harness-build.sh with
# VERSION set to the version of UPSTREAM in go.mod). This file is part of the cache key: any
# edit here rebuilds.
UPSTREAM=helm.sh/helm/v4
PACKAGES=(helm.sh/helm/v4/cmd/helm)
BINARIES=(helm)
CGO_ENABLED=0 # as upstream's release builds
TAGS=()
# What helm's Makefile stamps for a tagged release (empty metadata: no "+unreleased"); no git
# here, so the commit is a fixed placeholder and the tree is clean.
LDFLAGS=(
    -s -w # no symbol table or DWARF, as release builds (stack traces still work)
    -X "helm.sh/helm/v4/internal/version.version=$VERSION"
    -X "helm.sh/helm/v4/internal/version.metadata="
    -X "helm.sh/helm/v4/internal/version.gitCommit=0000000000000000000000000000000000000000"
    -X "helm.sh/helm/v4/internal/version.gitTreeState=clean"
)
CHECK=(helm version --short)
