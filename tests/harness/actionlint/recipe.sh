# How `scripts/kube-harness build` builds this module (sourced by scripts/harness-build.sh with
# VERSION set to the version of UPSTREAM in go.mod). This file is part of the cache key: any
# edit here rebuilds.
UPSTREAM=github.com/rhysd/actionlint
PACKAGES=(github.com/rhysd/actionlint/cmd/actionlint)
BINARIES=(actionlint)
CGO_ENABLED=0 # as upstream's release builds
TAGS=()
# What upstream's .goreleaser.yaml stamps: the version without its "v" (GoReleaser's
# {{.Version}}). installedFrom is left at "installed by building from source", which it is.
LDFLAGS=(
    -s -w # no symbol table or DWARF, as release builds
    -X "github.com/rhysd/actionlint.version=${VERSION#v}"
)
CHECK=(actionlint -version)
