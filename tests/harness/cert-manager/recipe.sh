# How `scripts/kube-harness build` builds this module (sourced by scripts/harness-build.sh with
# VERSION set to the version of UPSTREAM in go.mod). This file is part of the cache key: any
# edit here rebuilds.
UPSTREAM=github.com/cert-manager/cert-manager
PACKAGES=(./cmd/controller)
BINARIES=(controller)
CGO_ENABLED=0
TAGS=()
# What cert-manager's make/ stamps (no git here: the commit is a placeholder).
LDFLAGS=(
    -s -w # no symbol table or DWARF, as release builds (stack traces still work)
    -X "github.com/cert-manager/cert-manager/pkg/util.AppVersion=$VERSION"
    -X "github.com/cert-manager/cert-manager/pkg/util.AppGitCommit=0000000000000000000000000000000000000000"
)
CHECK=(controller --version)
