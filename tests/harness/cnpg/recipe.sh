# How `scripts/kube-harness build` builds this module (sourced by scripts/harness-build.sh with
# VERSION set to the version of UPSTREAM in go.mod). This file is part of the cache key: any
# edit here rebuilds.
UPSTREAM=github.com/cloudnative-pg/cloudnative-pg
PACKAGES=(
    github.com/cloudnative-pg/cloudnative-pg/cmd/manager
    github.com/cloudnative-pg/cloudnative-pg/cmd/kubectl-cnpg
)
BINARIES=(manager kubectl-cnpg)
CGO_ENABLED=0 # as upstream's images: the manager binary is copied into the operator image
TAGS=()
# What CloudNativePG's Makefile and .goreleaser.yml stamp: the version without its "v" (as
# `git describe | sed 's/^v//'` gives it); no git here, so commit and date are placeholders.
LDFLAGS=(
    -s -w # no symbol table or DWARF, as release builds (stack traces still work)
    -X "github.com/cloudnative-pg/cloudnative-pg/pkg/versions.buildVersion=${VERSION#v}"
    -X "github.com/cloudnative-pg/cloudnative-pg/pkg/versions.buildCommit=0000000"
    -X "github.com/cloudnative-pg/cloudnative-pg/pkg/versions.buildDate=1970-01-01"
)
CHECK=(kubectl-cnpg version)
