# How `scripts/kube-harness build` builds this module (sourced by scripts/harness-build.sh with
# VERSION set to the version of UPSTREAM in go.mod). This file is part of the cache key: any
# edit here rebuilds.
UPSTREAM=github.com/prometheus/prometheus
PACKAGES=(github.com/prometheus/prometheus/cmd/promtool)
BINARIES=(promtool)
CGO_ENABLED=0
# Upstream's .promu.yml builds with netgo and builtinassets; promtool embeds no web assets.
TAGS=(netgo builtinassets)
# The Go module v0.3XY.Z is Prometheus 3.XY.Z (its VERSION file); .promu.yml stamps these, and
# there is no git here, so revision, user and date are placeholders.
LDFLAGS=(
    -s -w # no symbol table or DWARF, as release builds (stack traces still work)
    -X "github.com/prometheus/common/version.Version=3.${VERSION#v0.3}"
    -X "github.com/prometheus/common/version.Revision=0000000000000000000000000000000000000000"
    -X "github.com/prometheus/common/version.Branch=HEAD"
    -X "github.com/prometheus/common/version.BuildUser=harness@localhost"
    -X "github.com/prometheus/common/version.BuildDate=19700101-00:00:00"
)
CHECK=(promtool --version)
